"""Durations typed by people: ``90``, ``90s``, ``15m``, ``1h``, ``7d`` (presign expiry, windows)."""

from __future__ import annotations

import re

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$", re.IGNORECASE)


def parse_duration(text: str) -> int:
    """Seconds in ``text``; raises ValueError with a sentence saying what is accepted."""
    match = _RE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration: use seconds or a number with s, m, h or d (e.g. 15m).")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def format_duration(seconds: int) -> str:
    """The shortest exact form: 3600 → ``1h``, 90 → ``90s``."""
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
