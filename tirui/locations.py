"""Where tirui keeps things on disk: one place, following the platform's conventions (XDG on Linux).

Every path is computed on call, so tests (and users) can redirect everything by setting
``XDG_CONFIG_HOME`` / ``XDG_DATA_HOME`` / ``XDG_CACHE_HOME`` or ``TIRUI_CONFIG_DIR`` /
``TIRUI_DATA_DIR``, without tirui caching a stale answer at import time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "tirui"


_XDG = {
    "config": ("XDG_CONFIG_HOME", ".config"),
    "data": ("XDG_DATA_HOME", ".local/share"),
}


def _platformdirs_path(kind: str) -> Path:
    if sys.platform.startswith("linux"):
        # The XDG rules platformdirs applies on Linux, without its import cost at startup.
        var, default = _XDG[kind]
        base = os.environ.get(var, "").strip()
        root = Path(base) if base and os.path.isabs(base) else Path.home() / default
        return root / APP_NAME
    import platformdirs

    getter = {
        "config": platformdirs.user_config_dir,
        "data": platformdirs.user_data_dir,
    }[kind]
    return Path(getter(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """Directory of ``profiles.toml`` (``$TIRUI_CONFIG_DIR`` overrides)."""
    override = os.environ.get("TIRUI_CONFIG_DIR")
    return Path(override) if override else _platformdirs_path("config")


def data_dir() -> Path:
    """Directory of local buckets, local deployments, request history (``$TIRUI_DATA_DIR``)."""
    override = os.environ.get("TIRUI_DATA_DIR")
    return Path(override) if override else _platformdirs_path("data")


def exports_dir() -> Path:
    """Where exported results go by default (load tests): ``<data dir>/exports``, not the
    working directory a terminal happens to be in."""
    return data_dir() / "exports"


def profiles_file() -> Path:
    """The TOML file holding the user's profiles."""
    return config_dir() / "profiles.toml"


def local_buckets_dir() -> Path:
    """Root of the ``local`` profile's object store: one folder per bucket."""
    return data_dir() / "buckets"


def history_dir() -> Path:
    """Per-profile request history of the Playground (never holds tokens)."""
    return data_dir() / "history"


def styles_dir() -> Path:
    """The ``.tcss`` files: inside the wheel (``tirui/styles``) or at the top of a checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "styles"
    if (packaged / "app.tcss").is_file():
        return packaged
    return here.parent / "styles"


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by its owner only (0600), whatever the umask:
    for files that can hold request bodies or tracebacks (the crash log, the Playground's
    history). Written beside and renamed, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            fd = -1
            f.write(text)
        os.replace(tmp, path)
    finally:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
