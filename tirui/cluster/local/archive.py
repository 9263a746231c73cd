"""Model archives into a local deployment's model store: from the profile's object store
(``eos://``, skipped when the cached copy has the same ETag) or a local file."""

from __future__ import annotations

import shutil
from pathlib import Path

from tirui.cluster.runtime import ApplyResult
from tirui.cluster.spec import DeploymentSpec, is_model_name, model_name_of
from tirui.core.errors import RuntimeFailure
from tirui.storage.base import ObjectStore


def fetch_archive(
    spec: DeploymentSpec, store: ObjectStore | None, folder: Path, file_name: str = ""
) -> tuple[Path, str, str, str]:
    """Put the archive in ``folder``'s model store (as ``file_name`` when given, else under the
    name :func:`model_name_of` derives from the source: an object key never becomes a file name
    or a line of ``config.properties``); returns (path, model name, etag, model version). Skips a
    cached copy. Sets ``spec.archive_config``.

    The model is served under ``spec.model_name``, else the archive manifest's ``modelName`` when
    TorchServe could take it as a name in a URL and a config value, else the derived name."""
    from tirui.cluster.local.state import LocalState
    from tirui.storage.mar import read_manifest
    from tirui.storage.uri import is_remote, parse_uri

    models = folder / "model-store"
    models.mkdir(parents=True, exist_ok=True)
    file_name = file_name or f"{model_name_of(spec.source, spec.model_name)}.mar"
    etag = ""
    if is_remote(spec.source):
        if store is None:
            raise RuntimeFailure("no object store to download the model from")
        uri = parse_uri(spec.source)
        target = models / file_name
        etag = store.head(uri.bucket, uri.key).etag
        old = LocalState.load(folder)
        if not (target.exists() and old is not None and old.etag == etag):
            store.download(uri.bucket, uri.key, target, overwrite=True)
    else:
        src = Path(spec.source).expanduser()
        if not src.is_file():
            raise RuntimeFailure(f"{src} is not a file")
        target = models / file_name
        shutil.copyfile(src, target)
    size = target.stat().st_size
    with target.open("rb") as f:

        def read(start: int, end: int) -> bytes:
            f.seek(start)
            return f.read(end - start + 1)

        try:
            manifest = read_manifest(read, size)
        except Exception as exc:
            raise RuntimeFailure(f"{spec.source} is not a usable model archive: {exc}") from None
    declared = manifest.model_name
    if not is_model_name(declared):
        declared = ""  # a crafted manifest's name is not pasted anywhere
    model = spec.model_name or declared or model_name_of(spec.source)
    spec.archive_config = manifest.model_config
    return target, model, etag, manifest.model_version


def check_archive(spec: DeploymentSpec, store: ObjectStore | None) -> ApplyResult:
    """A dry run: the spec is valid and its archive is there (a HEAD, no download)."""
    from tirui.storage.base import StorageError
    from tirui.storage.uri import parse_uri

    spec.validate()
    if store is not None:
        uri = parse_uri(spec.source)
        try:
            store.head(uri.bucket, uri.key)
        except StorageError as exc:
            raise RuntimeFailure(f"model archive {spec.source}: {exc} (nothing was changed)") from None
    elif not Path(spec.source).expanduser().is_file():
        raise RuntimeFailure(f"model archive {spec.source}: not a file (nothing was changed)")
    return ApplyResult([f"TorchServe/{spec.name}"], dry_run=True)
