"""The canary's own file, ``canary.json`` beside ``state.json``: written only by the canary
operations (:mod:`~tirui.cluster.local.canary`), read fresh by every tirui and by the process
starter, which pauses a canary whenever TorchServe (re)starts with the serving archive only."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tirui.cluster.local.dep import LocalDep

CANARY_FILE = "canary.json"


def canary_of(folder: Path) -> dict[str, Any]:
    """The deployment's canary (source, mar_file, etag, model_version, weight, started, policy),
    or {} without one."""
    try:
        doc = json.loads((folder / CANARY_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def write_canary(folder: Path, canary: dict[str, Any]) -> None:
    path = folder / CANARY_FILE
    if not canary:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(canary, indent=2))
    os.replace(tmp, path)


def canary_text(canary: dict[str, Any]) -> str:
    from tirui.cluster.spec import version_text

    if not canary:
        return ""
    return version_text(
        str(canary["source"]), str(canary.get("model_version", "")), str(canary.get("etag", ""))
    )


def pause_canary(dep: LocalDep) -> None:
    """A TorchServe (re)start loads the serving archive only: the canary gets no traffic until
    :meth:`LocalCanaries.resume` has loaded it again."""
    canary = canary_of(dep.folder)
    if canary and not canary.get("restoring"):
        paused = {**canary, "weight": 0, "paused_weight": canary.get("weight", 0), "restoring": True}
        write_canary(dep.folder, paused)
        dep.event(
            f"Canary {canary_text(canary)} paused: TorchServe (re)starts with the stable version; "
            "the canary is loaded again once that is Ready"
        )
