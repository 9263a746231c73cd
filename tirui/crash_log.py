"""The crash log: ``crash.log`` in the data dir, one entry (with the traceback) per unexpected
failure, never more than its last 256 KiB, readable by its owner only. The TUI writes it for
handler, action and worker failures (:mod:`tirui.crash_guard`), the CLI for an exception no
command expected; neither shows a traceback to the user."""

from __future__ import annotations

import datetime as dt
import traceback
from pathlib import Path

from tirui.locations import data_dir, write_private

LIMIT = 256 * 1024


def crash_log() -> Path:
    return data_dir() / "crash.log"


def record(where: str, error: BaseException) -> Path:
    """Append ``error`` with its traceback to the crash log; returns the log's path."""
    path = crash_log()
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = f"--- {dt.datetime.now().isoformat(timespec='seconds')} in {where}\n" + "".join(
        traceback.format_exception(type(error), error, error.__traceback__)
    )
    old = path.read_text(errors="replace") if path.exists() else ""
    write_private(path, (old + entry)[-LIMIT:])
    return path
