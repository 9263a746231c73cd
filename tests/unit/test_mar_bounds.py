"""A crafted archive cannot make the manifest peek read much: sizes in the zip's records that
claim more than a manifest or a central directory can be are refused before any large read."""

from __future__ import annotations

import io
import json
import struct
import zipfile

import pytest

from tirui.storage.mar import MANIFEST, NotAModelArchive, read_manifest


def archive(padding: int = 0) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(MANIFEST, json.dumps({"model": {"modelName": "tiny", "modelVersion": "1.0"}}))
        if padding:
            z.writestr("weights.bin", b"\0" * padding, compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.bytes_read = 0

    def __call__(self, start: int, end: int) -> bytes:
        chunk = self.data[start : end + 1]
        self.bytes_read += len(chunk)
        return chunk


def test_an_honest_archive_is_read_in_a_few_kilobytes() -> None:
    data = archive(padding=4 << 20)
    read = Reader(data)
    assert read_manifest(read, len(data)).model_name == "tiny"
    assert read.bytes_read < 16 << 10


def test_a_central_directory_that_claims_gigabytes_is_not_read() -> None:
    data = bytearray(archive(padding=4 << 20))
    eocd = data.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack("<L", data[eocd + 16 : eocd + 20])[0]
    data[eocd + 12 : eocd + 16] = struct.pack("<L", 0xFFFFFFF0 - cd_offset)  # cd_size
    data[eocd + 16 : eocd + 20] = struct.pack("<L", 0)  # from the archive's start
    read = Reader(bytes(data))
    with pytest.raises(NotAModelArchive, match="implausible zip central directory"):
        read_manifest(read, len(data))
    assert read.bytes_read < 16 << 10


def test_a_manifest_whose_compressed_size_is_a_lie_is_not_read() -> None:
    data = bytearray(archive(padding=8 << 20))
    cd = data.find(b"PK\x01\x02")  # the manifest's central-directory entry comes first
    data[cd + 20 : cd + 24] = struct.pack("<L", 6 << 20)  # csize: most of the archive
    read = Reader(bytes(data))
    with pytest.raises(NotAModelArchive, match="implausibly large"):
        read_manifest(read, len(data))
    assert read.bytes_read < 16 << 10
