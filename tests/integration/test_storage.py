"""Object stores: S3 (moto's real HTTP server) and local folders behave the same."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx
import pytest

from tirui.storage.base import Cancelled, CancelToken, Conflict, InvalidName, NotFound, human_size
from tirui.storage.local import LocalStore
from tirui.storage.mar import NotAModelArchive, peek_manifest
from tirui.storage.s3 import MULTIPART_THRESHOLD, S3Store


def keys_of(store, bucket: str, prefix: str = "", delimiter: str = "/", page_size: int = 1000):  # type: ignore[no-untyped-def]
    pages = list(store.iter_pages(bucket, prefix, delimiter=delimiter, page_size=page_size))
    return (
        pages,
        [p.key for page in pages for p in page.prefixes],
        [o.key for page in pages for o in page.objects],
    )


def put(store, bucket: str, key: str, data: bytes, tmp: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp / "src.bin"
    src.write_bytes(data)
    store.upload(src, bucket, key, overwrite=True)


def test_listing_with_and_without_delimiter_across_pages(any_store, bucket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    keys = [f"models/v{i}/m{i}.mar" for i in range(3)] + [f"data/{i:03}.bin" for i in range(25)] + ["top.txt"]
    for k in keys:
        put(any_store, bucket, k, b"x" * 10, tmp_path)
    pages, prefixes, objects = keys_of(any_store, bucket)
    assert prefixes == ["data/", "models/"] and objects == ["top.txt"]
    pages, prefixes, objects = keys_of(any_store, bucket, "data/", page_size=10)
    assert len(pages) == 3 and objects == sorted(k for k in keys if k.startswith("data/"))
    _, prefixes, objects = keys_of(any_store, bucket, "models/")
    assert prefixes == ["models/v0/", "models/v1/", "models/v2/"] and objects == []
    _, prefixes, objects = keys_of(any_store, bucket, "", delimiter="", page_size=7)
    assert prefixes == [] and objects == sorted(keys)
    _, prefixes, objects = keys_of(any_store, bucket, "data/00")
    assert objects == [f"data/00{i}.bin" for i in range(10)]
    first = next(iter(any_store.iter_pages(bucket, "data/"))).objects[0]
    assert first.size == 10 and first.last_modified is not None and first.etag


def test_upload_download_roundtrip_and_collisions(any_store, bucket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = os.urandom(300_000)
    src = tmp_path / "a.bin"
    src.write_bytes(data)
    seen: list[int] = []
    any_store.upload(src, bucket, "dir/a.bin", progress=seen.append)
    assert sum(seen) == len(data)
    with pytest.raises(Conflict, match="already exists"):
        any_store.upload(src, bucket, "dir/a.bin")
    dst = tmp_path / "out.bin"
    got: list[int] = []
    any_store.download(bucket, "dir/a.bin", dst, progress=got.append)
    assert dst.read_bytes() == data and sum(got) == len(data)
    with pytest.raises(Conflict):
        any_store.download(bucket, "dir/a.bin", dst)
    details = any_store.head(bucket, "dir/a.bin")
    assert details.size == len(data) and details.etag


def test_failed_download_leaves_no_partial_file(any_store, bucket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "dl"
    out.mkdir()
    with pytest.raises(NotFound):
        any_store.download(bucket, "missing.bin", out / "x.bin")
    assert list(out.iterdir()) == []


def test_local_file_not_found(any_store, bucket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound, match="not found"):
        any_store.upload(tmp_path / "nope.mar", bucket, "nope.mar")


def test_delete_many(any_store, bucket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        put(any_store, bucket, f"d/{i}", b"1", tmp_path)
    assert any_store.delete(bucket, [f"d/{i}" for i in range(4)]) == []
    assert keys_of(any_store, bucket, "d/")[2] == ["d/4"]


def test_bucket_errors(any_store) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidName, match="Invalid bucket name"):
        any_store.create_bucket("Bad_Name")
    with pytest.raises(InvalidName):
        list(any_store.iter_pages("ab"))
    with pytest.raises(NotFound, match="does not exist"):
        list(any_store.iter_pages("no-such-bucket-here"))
    any_store.create_bucket("dup-bucket-x")
    with pytest.raises(Conflict):
        any_store.create_bucket("dup-bucket-x")
    assert "dup-bucket-x" in [b.name for b in any_store.list_buckets()]


def test_manifest_peek(any_store, bucket: str, tiny_mar: Path) -> None:  # type: ignore[no-untyped-def]
    any_store.upload(tiny_mar, bucket, "models/tiny.mar")
    manifest = peek_manifest(any_store, bucket, "models/tiny.mar")
    assert manifest.model_name == "tiny" and manifest.model_version == "1.0"
    assert manifest.handler == "handler.py" and manifest.serialized_file == "tiny.pt"
    assert manifest.runtime == "python" and manifest.archiver_version == "0.12.0"


def test_peek_of_non_archive(any_store, bucket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    put(any_store, bucket, "notes.mar", b"this is not a zip" * 10, tmp_path)
    with pytest.raises(NotAModelArchive):
        peek_manifest(any_store, bucket, "notes.mar")


def test_peek_transfers_under_one_percent(s3_store: S3Store, big_mar: Path) -> None:
    s3_store.create_bucket("peek-bytes")
    s3_store.upload(big_mar, "peek-bytes", "big.mar")
    size = big_mar.stat().st_size
    assert size > 6 * 1024 * 1024
    s3_store.bytes_received = 0
    assert peek_manifest(s3_store, "peek-bytes", "big.mar").model_name == "big"
    assert 0 < s3_store.bytes_received < size / 100, (s3_store.bytes_received, size)


def test_multipart_upload_progress_and_cancel(s3_store: S3Store, tmp_path: Path) -> None:
    s3_store.create_bucket("multipart")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * MULTIPART_THRESHOLD + 123))
    calls: list[int] = []
    s3_store.upload(big, "multipart", "ok.bin", progress=calls.append)
    assert sum(calls) == big.stat().st_size and len(calls) > 3
    assert s3_store.head("multipart", "ok.bin").etag.endswith("-4")  # 4 parts
    cancel = CancelToken()
    moved: list[int] = []

    def progress(n: int) -> None:
        moved.append(n)
        if sum(moved) > MULTIPART_THRESHOLD // 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        s3_store.upload(big, "multipart", "cancelled.bin", progress=progress, cancel=cancel)
    assert s3_store.client.list_multipart_uploads(Bucket="multipart").get("Uploads", []) == []
    with pytest.raises(NotFound):
        s3_store.head("multipart", "cancelled.bin")


def test_download_cancel_leaves_nothing(s3_store: S3Store, s3_endpoint: str, tmp_path: Path) -> None:
    """Cancel mid-download: no partial file remains. Through a slow real proxy, because straight
    from moto the ranged GETs of a 16 MB object finish before the cancel is seen."""
    from tests.support.s3_extra_servers import slow_proxy

    s3_store.create_bucket("dl-cancel")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2 * MULTIPART_THRESHOLD))
    s3_store.upload(big, "dl-cancel", "big.bin")
    out = tmp_path / "out"
    out.mkdir()
    cancel = CancelToken()
    with slow_proxy(s3_endpoint, 0.3) as proxy:
        slow = S3Store(endpoint_url=proxy, access_key_id="testing", secret_access_key="testing")
        with pytest.raises(Cancelled):
            slow.download(
                "dl-cancel", "big.bin", out / "big.bin", progress=lambda n: cancel.cancel(), cancel=cancel
            )
    assert list(out.iterdir()) == []


def test_local_cancel(local_store: LocalStore, tmp_path: Path) -> None:
    local_store.create_bucket("local-cancel")
    src = tmp_path / "s.bin"
    src.write_bytes(os.urandom(5 * 1024 * 1024))
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        local_store.upload(src, "local-cancel", "s.bin", progress=lambda n: cancel.cancel(), cancel=cancel)
    assert list((tmp_path / "buckets" / "local-cancel").iterdir()) == []


def test_presigned_url_fetch(s3_store: S3Store, tmp_path: Path) -> None:
    s3_store.create_bucket("presign")
    put(s3_store, "presign", "m.mar", b"model-bytes", tmp_path)
    url = s3_store.presign("presign", "m.mar", 300)
    assert "X-Amz-Expires=300" in url
    r = httpx.get(url)
    assert r.status_code == 200 and r.content == b"model-bytes"
    with pytest.raises(InvalidName):
        s3_store.presign("presign", "m.mar", 8 * 24 * 3600)


def test_local_rejects_path_escape(local_store: LocalStore) -> None:
    local_store.create_bucket("safe")
    for key in ("../x", "a/../../x", "/etc/passwd"):
        with pytest.raises(InvalidName):
            local_store.head("safe", key)


def test_human_size() -> None:
    assert human_size(0) == "0 B" and human_size(1536) == "1.5 KiB" and human_size(5 * 1024**3) == "5.0 GiB"


def test_concurrent_listing_is_thread_safe(s3_store: S3Store, tmp_path: Path) -> None:
    s3_store.create_bucket("threads")
    put(s3_store, "threads", "a", b"1", tmp_path)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            assert [o.key for p in s3_store.iter_pages("threads") for o in p.objects] == ["a"]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
