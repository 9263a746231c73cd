"""The local demo: makes sure the local profile has something to show, returns a one-line hint."""

from __future__ import annotations

from tirui import locations


def prepare_demo() -> str:
    """Create the local ``models`` bucket; later steps build the demo archive into it."""
    bucket = locations.local_buckets_dir() / "models"
    bucket.mkdir(parents=True, exist_ok=True)
    return "Demo: local profile. Press 1-5 to switch screens, ? for keys, : for commands."
