"""The local demo: a ``models`` bucket in the local store holding the demo model archive."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tirui import locations

DEMO_BUCKET = "models"
DEMO_KEY = "tiny.mar"


def prepare_demo(root: Path | None = None) -> str:
    """Build ``eos://models/tiny.mar`` on first use; return the one-line hint the TUI shows."""
    bucket = (root or locations.local_buckets_dir()) / DEMO_BUCKET
    bucket.mkdir(parents=True, exist_ok=True)
    target = bucket / DEMO_KEY
    if not target.exists():
        from tirui.demo.model import DemoUnavailable, build_mar

        try:
            with tempfile.TemporaryDirectory() as tmp:
                built = build_mar(Path(tmp))
                built.replace(target)
        except DemoUnavailable as exc:
            return f"Demo model not built: {exc}"
        except (OSError, RuntimeError) as exc:
            return f"Demo model not built: {exc}"
    return (
        f"Demo: open bucket '{DEMO_BUCKET}' (enter), select {DEMO_KEY}, i shows its manifest, "
        "d deploys it. ? lists keys."
    )
