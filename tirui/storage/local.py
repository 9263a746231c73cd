"""The ``local`` profile's object store: one folder per bucket, keys are relative paths.

Listings follow S3's semantics (lexicographic keys, ``Delimiter='/'`` folders, prefix matching on
partial names) so the Buckets screen cannot tell the two apart. ETags are ``<size>-<mtime>`` rather
than MD5, so listing never reads file contents.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from tirui.storage.base import (
    BucketInfo,
    Cancelled,
    CancelToken,
    Conflict,
    InvalidName,
    ListPage,
    NotFound,
    ObjectDetails,
    ObjectInfo,
    ProgressFn,
    StorageError,
    check_destination,
    validate_bucket_name,
    validate_key,
)

CHUNK = 1024 * 1024
PART_SUFFIX = ".tirui-part"


def _mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime, tz=UTC)


MAX_SEGMENT = 255 - len(PART_SUFFIX)
"""The longest part of a key a local bucket stores (a file name, with room for the upload's suffix)."""


class LocalStore:
    """Buckets as folders under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def description(self) -> str:
        """The root folder, with the home directory shown as ``~``."""
        home = Path.home()
        if self.root.is_relative_to(home):
            return f"~/{self.root.relative_to(home)}"
        return str(self.root)

    def _bucket(self, bucket: str, *, must_exist: bool = True) -> Path:
        validate_bucket_name(bucket)
        path = self.root / bucket
        if must_exist and not path.is_dir():
            raise NotFound(f"Bucket {bucket} does not exist (looked in {self.root}).")
        return path

    def _path(self, bucket: str, key: str) -> Path:
        validate_key(key)
        parts = key.split("/")
        if key.startswith("/") or any(p in {"", ".", ".."} for p in parts[:-1]) or parts[-1] in {".", ".."}:
            raise InvalidName(f"Invalid object key {key!r} for a local bucket.")
        longest = max(len(p.encode()) for p in parts)
        if longest > MAX_SEGMENT:  # the file system's limit (255 bytes), less the upload's suffix
            raise InvalidName(
                f"Object key {key[:80]!r}…: a local bucket stores each '/'-separated part as a file "
                f"name, and one part is {longest} bytes (at most {MAX_SEGMENT} here; S3 takes 1,024 "
                "for the whole key)."
            )
        return self._bucket(bucket) / key

    # -- buckets -----------------------------------------------------------------------------
    def list_buckets(self) -> list[BucketInfo]:
        if not self.root.is_dir():
            return []
        out = []
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if entry.is_dir() and not entry.name.startswith("."):
                out.append(BucketInfo(entry.name, _mtime(entry.stat())))
        return out

    def create_bucket(self, bucket: str) -> None:
        path = self._bucket(bucket, must_exist=False)
        if path.exists():
            raise Conflict(f"Creating bucket {bucket}: a bucket with that name already exists.")
        path.mkdir(parents=True)

    # -- listing -----------------------------------------------------------------------------
    def _walk(self, base: Path, rel: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
        """Every file below ``base`` as (key, entry), in S3 key order."""
        try:
            entries = list(os.scandir(base))
        except FileNotFoundError:
            return
        keyed = sorted(((rel + e.name + ("/" if e.is_dir() else ""), e) for e in entries), key=lambda t: t[0])
        for key, entry in keyed:
            if entry.name.endswith(PART_SUFFIX):
                continue
            if entry.is_dir():
                yield from self._walk(Path(entry.path), key)
            else:
                yield key, entry

    def _entries(self, bucket: str, prefix: str, delimiter: str) -> Iterator[ObjectInfo]:
        root = self._bucket(bucket)
        folder, _, _ = prefix.rpartition("/")
        rel = folder + "/" if folder else ""
        base = root / folder if folder else root
        if not delimiter:
            for key, entry in self._walk(base, rel):
                if key.startswith(prefix):
                    st = entry.stat()
                    yield ObjectInfo(key, st.st_size, _mtime(st), f"{st.st_size:x}-{st.st_mtime_ns:x}")
            return
        try:
            entries = list(os.scandir(base))
        except (FileNotFoundError, NotADirectoryError):
            return
        items = []
        for e in entries:
            if e.name.endswith(PART_SUFFIX):
                continue
            key = rel + e.name
            if not key.startswith(prefix):
                continue
            if e.is_dir():
                items.append(ObjectInfo(key + "/", is_prefix=True))
            else:
                st = e.stat()
                items.append(ObjectInfo(key, st.st_size, _mtime(st), f"{st.st_size:x}-{st.st_mtime_ns:x}"))
        yield from sorted(items, key=lambda o: o.key)

    def iter_pages(
        self, bucket: str, prefix: str = "", *, delimiter: str = "/", page_size: int = 1000
    ) -> Iterator[ListPage]:
        page = ListPage([], [])
        count = 0
        for item in self._entries(bucket, prefix, delimiter):
            (page.prefixes if item.is_prefix else page.objects).append(item)
            count += 1
            if count == page_size:
                yield page
                page, count = ListPage([], []), 0
        if count or not (page.prefixes or page.objects):
            yield page

    def head(self, bucket: str, key: str) -> ObjectDetails:
        path = self._path(bucket, key)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise NotFound(f"eos://{bucket}/{key}: not found.") from None
        if not path.is_file():
            raise NotFound(f"eos://{bucket}/{key}: not found.")
        import mimetypes

        return ObjectDetails(
            bucket=bucket,
            key=key,
            size=st.st_size,
            etag=f"{st.st_size:x}-{st.st_mtime_ns:x}",
            content_type=mimetypes.guess_type(key)[0] or "application/octet-stream",
            last_modified=_mtime(st),
            storage_class="LOCAL",
        )

    def read_range(self, bucket: str, key: str, start: int, end: int) -> bytes:
        path = self._path(bucket, key)
        try:
            with path.open("rb") as fh:
                fh.seek(start)
                return fh.read(end - start + 1)
        except FileNotFoundError:
            raise NotFound(f"eos://{bucket}/{key}: not found.") from None

    # -- transfers ---------------------------------------------------------------------------
    @staticmethod
    def _copy(
        src: Path, dst: Path, progress: ProgressFn | None, cancel: CancelToken | None, what: str
    ) -> None:
        part = dst.with_name(dst.name + PART_SUFFIX)
        try:
            with src.open("rb") as fin, part.open("wb") as fout:
                while chunk := fin.read(CHUNK):
                    if cancel is not None and cancel.cancelled:
                        raise Cancelled(f"{what}: cancelled.")
                    fout.write(chunk)
                    if progress:
                        progress(len(chunk))
            os.replace(part, dst)
        except FileNotFoundError as exc:
            raise NotFound(f"{what}: {exc.filename} not found.") from None
        except OSError as exc:
            raise StorageError(f"{what}: {exc.strerror or exc}.") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()

    def upload(
        self,
        path: Path,
        bucket: str,
        key: str,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        overwrite: bool = False,
    ) -> None:
        what = f"Uploading {path} to eos://{bucket}/{key}"
        dest = self._path(bucket, key)
        if not path.is_file():
            raise NotFound(f"{what}: local file {path} not found.")
        if dest.exists() and not overwrite:
            raise Conflict(f"{what}: eos://{bucket}/{key} already exists.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._copy(path, dest, progress, cancel, what)

    def download(
        self,
        bucket: str,
        key: str,
        path: Path,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        overwrite: bool = False,
    ) -> None:
        what = f"Downloading eos://{bucket}/{key}"
        src = self._path(bucket, key)
        if not src.is_file():
            raise NotFound(f"{what}: not found.")
        check_destination(what, path, overwrite)
        self._copy(src, path, progress, cancel, what)

    def delete(self, bucket: str, keys: list[str]) -> list[str]:
        failed = []
        for key in keys:
            path = self._path(bucket, key)
            try:
                path.unlink()
            except FileNotFoundError:
                continue  # S3 semantics: deleting a missing key succeeds
            except OSError:
                failed.append(key)
                continue
            # Remove folders left empty, like S3 where folders exist only through their keys.
            parent = path.parent
            root = self._bucket(bucket)
            while parent != root and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
        return failed

    def presign(self, bucket: str, key: str, expires_in: int) -> str:
        """Local objects have no HTTP endpoint: the answer is a ``file://`` URI."""
        self.head(bucket, key)
        return self._path(bucket, key).resolve().as_uri()
