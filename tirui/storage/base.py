"""The object-store contract shared by S3-compatible stores and local folders.

Everything here is synchronous and blocking: the UI calls it from thread workers, the CLI directly.
Errors are :class:`StorageError` subclasses whose message is fit to show a user as is.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

ProgressFn = Callable[[int], None]
"""Called with the number of bytes transferred since the previous call."""


class StorageError(Exception):
    """A storage operation failed; ``str(error)`` is a complete, user-facing sentence."""


class NotFound(StorageError):
    """Bucket, object or local file does not exist."""


class AccessDenied(StorageError):
    """Credentials are valid but not allowed to do this."""


class AuthFailed(StorageError):
    """Credentials are missing, wrong or expired."""


class InvalidName(StorageError):
    """A bucket name or key that the store would reject."""


class Unreachable(StorageError):
    """The endpoint does not answer, or its TLS certificate is not trusted."""


class Throttled(StorageError):
    """The store asked us to slow down (503 SlowDown) and retries did not help."""


class Conflict(StorageError):
    """The target already exists (bucket name taken, object exists and overwrite not allowed)."""


class Cancelled(StorageError):
    """The user cancelled a transfer; nothing was left behind."""


@dataclass(frozen=True, slots=True)
class BucketInfo:
    name: str
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One object in a listing (or a "folder" when ``is_prefix``)."""

    key: str
    size: int = 0
    last_modified: datetime | None = None
    etag: str = ""
    is_prefix: bool = False

    def name_in(self, prefix: str) -> str:
        """The part of the key below ``prefix`` (what a folder view shows)."""
        return self.key[len(prefix) :] if self.key.startswith(prefix) else self.key


@dataclass(frozen=True, slots=True)
class ObjectDetails:
    """``HEAD`` of one object."""

    bucket: str
    key: str
    size: int
    etag: str
    content_type: str
    last_modified: datetime | None
    metadata: dict[str, str] = field(default_factory=dict)
    storage_class: str = ""


@dataclass(slots=True)
class ListPage:
    """One page of a listing: folders (common prefixes) and objects, in the store's order."""

    prefixes: list[ObjectInfo]
    objects: list[ObjectInfo]


class CancelToken:
    """Set by the UI (or ctrl+c in the CLI) to stop a transfer at the next chunk."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class ObjectStore(Protocol):
    """What the Buckets screen, the CLI and the runtimes need from an object store."""

    @property
    def description(self) -> str:
        """Where this store is, for headers and messages."""
        ...

    def list_buckets(self) -> list[BucketInfo]: ...

    def create_bucket(self, bucket: str) -> None: ...

    def iter_pages(
        self, bucket: str, prefix: str = "", *, delimiter: str = "/", page_size: int = 1000
    ) -> Iterator[ListPage]: ...

    def head(self, bucket: str, key: str) -> ObjectDetails: ...

    def read_range(self, bucket: str, key: str, start: int, end: int) -> bytes:
        """Bytes ``start..end`` inclusive (an HTTP Range request for S3)."""
        ...

    def upload(
        self,
        path: Path,
        bucket: str,
        key: str,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        overwrite: bool = False,
    ) -> None: ...

    def download(
        self,
        bucket: str,
        key: str,
        path: Path,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        overwrite: bool = False,
    ) -> None: ...

    def delete(self, bucket: str, keys: list[str]) -> list[str]:
        """Delete keys (batched); returns the keys that failed, empty when all went."""
        ...

    def presign(self, bucket: str, key: str, expires_in: int) -> str: ...


_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def check_destination(what: str, path: Path, overwrite: bool) -> None:
    """A download's target: not there yet (unless ``overwrite``), in a folder that exists and
    takes new files; checked before any byte moves, so the message names the real problem."""
    if path.exists() and not overwrite:
        raise Conflict(f"{what}: {path} already exists.")
    if not path.parent.is_dir():
        raise NotFound(f"{what}: folder {path.parent} does not exist.")
    probe = path.parent / f".tirui-write-check-{os.getpid()}"
    try:
        probe.open("wb").close()
    except OSError as exc:
        raise StorageError(
            f"{what}: cannot create files in {path.parent} ({exc.strerror or exc}); choose a writable folder."
        ) from None
    probe.unlink(missing_ok=True)


def validate_bucket_name(name: str) -> None:
    """S3's bucket naming rules; raises :class:`InvalidName` saying which rule is broken."""
    if not 3 <= len(name) <= 63:
        raise InvalidName(f"Invalid bucket name {name!r}: it must be 3 to 63 characters long.")
    if not _BUCKET_RE.match(name):
        raise InvalidName(
            f"Invalid bucket name {name!r}: use lowercase letters, digits, '.' and '-', "
            "starting and ending with a letter or digit."
        )
    if ".." in name or _IP_RE.match(name) or name.startswith("xn--") or name.endswith("-s3alias"):
        raise InvalidName(f"Invalid bucket name {name!r}: it must not look like an IP address or use '..'.")


def validate_key(key: str) -> None:
    """Object keys: 1..1024 bytes of UTF-8."""
    if not key or len(key.encode()) > 1024:
        raise InvalidName(f"Invalid object key {key!r}: it must be 1 to 1024 bytes of UTF-8.")


def human_size(n: float) -> str:
    """``1536`` → ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def keys_below(store: ObjectStore, bucket: str, prefix: str) -> list[str]:
    """Every key under ``prefix``, at any depth (what deleting a folder deletes: ``tirui rm -r``
    and ``x`` on a folder in Buckets)."""
    return [o.key for page in store.iter_pages(bucket, prefix, delimiter="") for o in page.objects]
