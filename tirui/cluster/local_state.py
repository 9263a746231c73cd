"""On-disk state of local deployments: one ``state.json`` per deployment under the data dir.

The state file is how a later tirui finds deployments still running (instead of starting them
twice) and what ``tirui status`` reads. It never holds tokens: TorchServe's keys stay in its own
``key_file.json`` in the working directory and, copied by the runtime, in the token store.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tirui.cluster.spec import version_text
from tirui.torchserve.server import Ports

STATE_FILE = "state.json"


@dataclass
class LocalState:
    name: str
    source: str
    model: str
    mar_file: str
    ports: dict[str, int]
    tmp_dir: str
    workers: int = 1
    batch_size: int = 1
    max_batch_delay_ms: int = 100
    etag: str = ""
    pgid: int = 0
    created: float = 0.0
    started: float = 0.0
    restarts: int = 0
    last_exit: str = ""
    phase: str = "Starting"
    """Starting, Ready, NotReady, Restarting, Failed or Stopped."""
    reason: str = ""
    ever_ready: bool = False
    env: dict[str, str] = field(default_factory=dict)
    """The spec's extra environment for TorchServe (and its handlers)."""
    model_version: str = ""
    revision: int = 0
    """How many archives this deployment has been updated to (names their files in the store)."""
    previous: dict[str, str] = field(default_factory=dict)
    """The archive served before the last update (source, mar_file, etag, model_version), kept
    on disk for ``tirui rollback``."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def version_text(self) -> str:
        return version_text(self.source, self.model_version, self.etag)

    @property
    def previous_text(self) -> str:
        p = self.previous
        return version_text(p["source"], p.get("model_version", ""), p.get("etag", "")) if p else ""

    @property
    def port_set(self) -> Ports:
        return Ports(**self.ports)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        os.replace(tmp, folder / STATE_FILE)

    @classmethod
    def load(cls, folder: Path) -> LocalState | None:
        try:
            doc = json.loads((folder / STATE_FILE).read_text())
            known = {k: doc[k] for k in cls.__dataclass_fields__ if k in doc}
            return cls(**known)
        except (OSError, ValueError, TypeError):
            return None
