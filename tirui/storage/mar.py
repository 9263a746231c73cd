"""Read a TorchServe archive's ``MAR-INF/MANIFEST.json`` with range reads, not a download.

A ``.mar`` is a zip file. Three small reads suffice: the tail (end-of-central-directory record,
and often the central directory itself), the central directory when it was not in the tail, and the
manifest's local header plus compressed bytes. Zip64 archives (models over 4 GiB) are handled.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tirui.storage.base import StorageError

if TYPE_CHECKING:
    from tirui.storage.base import ObjectStore

MANIFEST = "MAR-INF/MANIFEST.json"
TAIL = 64 * 1024 + 22  # the EOCD record plus the longest possible zip comment
FIRST_TAIL = 4096  # usually holds the EOCD record and a .mar's whole (small) central directory
EOCD_SIG = b"PK\x05\x06"
ZIP64_LOCATOR_SIG = b"PK\x06\x07"
ZIP64_EOCD_SIG = b"PK\x06\x06"
CD_SIG = b"PK\x01\x02"
LOCAL_SIG = b"PK\x03\x04"

RangeReader = Callable[[int, int], bytes]
"""``read(start, end)`` returns bytes start..end inclusive."""


class NotAModelArchive(StorageError):
    """The object is not a zip, or has no MAR-INF/MANIFEST.json."""


@dataclass(frozen=True)
class MarManifest:
    """What the Buckets screen and the deploy form show of a model archive."""

    model_name: str
    model_version: str
    handler: str
    serialized_file: str
    runtime: str
    archiver_version: str
    created_on: str
    raw: dict[str, Any] = field(default_factory=dict)
    config_file: str = ""
    """The archive's model-config.yaml (``--config-file`` of the archiver), "" without one."""
    model_config: dict[str, Any] = field(default_factory=dict)
    """Its contents: TorchServe applies its minWorkers, maxWorkers, batchSize, maxBatchDelay,
    responseTimeout over ``models=`` at start (docs/torchserve.md)."""

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> MarManifest:
        model = doc.get("model", {}) if isinstance(doc.get("model"), dict) else {}
        return cls(
            model_name=str(model.get("modelName", "")),
            model_version=str(model.get("modelVersion", "")),
            handler=str(model.get("handler", "")),
            serialized_file=str(model.get("serializedFile", "")),
            runtime=str(doc.get("runtime", "")),
            archiver_version=str(doc.get("archiverVersion", "")),
            created_on=str(doc.get("createdOn", "")),
            raw=doc,
            config_file=str(model.get("configFile", "") or ""),
        )

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("Model name", self.model_name),
            ("Model version", self.model_version),
            ("Handler", self.handler),
            ("Serialized file", self.serialized_file or "(none)"),
            ("Runtime", self.runtime),
            ("Archiver version", self.archiver_version),
            ("Created on", self.created_on),
            *(
                [("Model config", f"{self.config_file}: {config_text(self.model_config)}")]
                if self.config_file
                else []
            ),
        ]


MAX_CENTRAL_DIRECTORY = 16 << 20
"""The largest central directory a peek reads (a model archive has a few hundred entries)."""


def _central_directory(read: RangeReader, size: int) -> bytes:
    tail_start = max(0, size - FIRST_TAIL)
    tail = read(tail_start, size - 1)
    at = tail.rfind(EOCD_SIG)
    if (at < 0 or len(tail) - at < 22) and tail_start > 0:
        # A long archive comment pushed the record further back: read the largest possible tail.
        tail_start = max(0, size - TAIL)
        tail = read(tail_start, size - 1)
        at = tail.rfind(EOCD_SIG)
    if at < 0 or len(tail) - at < 22:
        raise NotAModelArchive("not a zip archive (no end-of-central-directory record)")
    _, _, _, _, _, cd_size, cd_offset, _ = struct.unpack("<4s4H2LH", tail[at : at + 22])
    if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
        loc = at - 20
        if loc < 0 or tail[loc : loc + 4] != ZIP64_LOCATOR_SIG:
            raise NotAModelArchive("zip64 archive without a zip64 locator")
        (z64_offset,) = struct.unpack("<Q", tail[loc + 8 : loc + 16])
        if z64_offset >= tail_start:
            record = tail[z64_offset - tail_start : z64_offset - tail_start + 56]
        else:
            record = read(z64_offset, z64_offset + 55)
        if record[:4] != ZIP64_EOCD_SIG:
            raise NotAModelArchive("corrupt zip64 end-of-central-directory record")
        cd_size, cd_offset = struct.unpack("<QQ", record[40:56])
    if cd_size > MAX_CENTRAL_DIRECTORY or cd_offset + cd_size > size:
        raise NotAModelArchive(
            f"implausible zip central directory ({cd_size} bytes at {cd_offset} of {size}): not read"
        )
    if cd_offset >= tail_start:
        return tail[cd_offset - tail_start : cd_offset - tail_start + cd_size]
    return read(cd_offset, cd_offset + cd_size - 1)


def _find_entry(cd: bytes, name: str) -> tuple[int, int, int, int]:
    """(method, compressed size, uncompressed size, local header offset) of ``name``."""
    pos = 0
    wanted = name.encode()
    while pos + 46 <= len(cd) and cd[pos : pos + 4] == CD_SIG:
        (method,) = struct.unpack("<H", cd[pos + 10 : pos + 12])
        csize, usize, nlen, xlen, clen = struct.unpack("<LLHHH", cd[pos + 20 : pos + 34])
        (offset,) = struct.unpack("<L", cd[pos + 42 : pos + 46])
        entry_name = cd[pos + 46 : pos + 46 + nlen]
        if entry_name == wanted:
            extra = cd[pos + 46 + nlen : pos + 46 + nlen + xlen]
            usize, csize, offset = _zip64_extra(extra, usize, csize, offset)
            return method, csize, usize, offset
        pos += 46 + nlen + xlen + clen
    raise NotAModelArchive(f"no {name} in the archive: not a TorchServe model archive")


def _zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    i = 0
    while i + 4 <= len(extra):
        tag, length = struct.unpack("<HH", extra[i : i + 4])
        if tag == 0x0001:
            data, j = extra[i + 4 : i + 4 + length], 0
            if usize == 0xFFFFFFFF:
                usize, j = struct.unpack("<Q", data[j : j + 8])[0], j + 8
            if csize == 0xFFFFFFFF:
                csize, j = struct.unpack("<Q", data[j : j + 8])[0], j + 8
            if offset == 0xFFFFFFFF:
                offset = struct.unpack("<Q", data[j : j + 8])[0]
        i += 4 + length
    return usize, csize, offset


def _read_entry(read: RangeReader, cd: bytes, name: str, limit: int) -> bytes:
    """The uncompressed bytes of entry ``name`` (at most ``limit``)."""
    method, csize, usize, offset = _find_entry(cd, name)
    if usize > limit or csize > limit + limit // 100 + 1024:  # deflate adds at most ~0.1% + a little
        raise NotAModelArchive(f"{name} is implausibly large ({usize} bytes, {csize} compressed): not read")
    slack = 30 + len(name.encode()) + 256  # local header, name, and a typical extra field
    blob = read(offset, offset + slack + csize - 1)
    if blob[:4] != LOCAL_SIG:
        raise NotAModelArchive("corrupt archive: bad local header")
    nlen, xlen = struct.unpack("<HH", blob[26:30])
    start = 30 + nlen + xlen
    if start + csize > len(blob):
        blob = blob[:start] + read(offset + start, offset + start + csize - 1)
    data = blob[start : start + csize]
    if method == 8:
        return zlib.decompressobj(-15).decompress(data, limit)
    if method != 0:
        raise NotAModelArchive(f"unsupported zip compression method {method}")
    return data


def read_manifest(read: RangeReader, size: int, *, max_manifest: int = 1 << 20) -> MarManifest:
    """Parse the manifest of the zip of ``size`` bytes readable through ``read``, and the
    ``model-config.yaml`` it names (``model.configFile``), if any."""
    if size < 22:
        raise NotAModelArchive("not a zip archive (too small)")
    cd = _central_directory(read, size)
    data = _read_entry(read, cd, MANIFEST, max_manifest)
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise NotAModelArchive(f"{MANIFEST} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise NotAModelArchive(f"{MANIFEST} is not a JSON object")
    manifest = MarManifest.from_json(doc)
    if manifest.config_file:
        manifest = dataclasses.replace(
            manifest, model_config=_model_config(read, cd, manifest.config_file, max_manifest)
        )
    return manifest


def _model_config(read: RangeReader, cd: bytes, name: str, limit: int) -> dict[str, Any]:
    """The archive's model-config.yaml as a mapping ({"error": ...} when it cannot be read: the
    archive still deploys, and TorchServe will say what it makes of the file)."""
    import yaml

    try:
        doc = yaml.safe_load(_read_entry(read, cd, name, limit))
    except (NotAModelArchive, yaml.YAMLError, zlib.error) as exc:
        return {"error": f"{name}: {exc}"}
    return doc if isinstance(doc, dict) else {}


def peek_manifest(store: ObjectStore, bucket: str, key: str) -> MarManifest:
    """The manifest of ``eos://bucket/key`` through the store's ranged reads."""
    size = store.head(bucket, key).size
    return read_manifest(lambda start, end: store.read_range(bucket, key, start, end), size)


def config_text(config: dict[str, Any]) -> str:
    """``minWorkers 2 · batchSize 8 · deviceType gpu`` (its top-level scalars, in its order)."""
    if "error" in config and len(config) == 1:
        return f"unreadable ({config['error']})"
    parts = [f"{k} {v}" for k, v in config.items() if isinstance(v, str | int | float | bool)]
    return " · ".join(parts) or "(no top-level settings)"
