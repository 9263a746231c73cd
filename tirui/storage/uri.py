"""``eos://bucket/key`` (and ``s3://``) addresses."""

from __future__ import annotations

from dataclasses import dataclass

from tirui.storage.base import InvalidName

SCHEMES = ("eos://", "s3://")


@dataclass(frozen=True)
class ObjectUri:
    bucket: str
    key: str = ""

    def __str__(self) -> str:
        return f"eos://{self.bucket}/{self.key}" if self.key else f"eos://{self.bucket}"

    @property
    def s3(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def is_remote(text: str) -> bool:
    return text.startswith(SCHEMES)


def parse_uri(text: str) -> ObjectUri:
    """``eos://bucket/a/b.mar`` → ObjectUri("bucket", "a/b.mar"); ``eos://`` alone → bucket "" ."""
    for scheme in SCHEMES:
        if text.startswith(scheme):
            rest = text[len(scheme) :]
            bucket, _, key = rest.partition("/")
            return ObjectUri(bucket, key)
    raise InvalidName(f"{text!r} is not an object address (use eos://bucket/key)")
