"""On-disk state of local deployments: one ``state.json`` per deployment under the data dir.

The state file is how a later tirui finds deployments still running (instead of starting them
twice) and what ``tirui status`` reads. It never holds tokens: TorchServe's keys stay in its own
``key_file.json`` in the working directory and, copied by the runtime, in the token store.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tirui.cluster.spec import version_text
from tirui.torchserve.server import Ports
from tirui.torchserve.settings import ModelSettings

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
    response_timeout_s: int = 120
    protocol: str = "torchserve"
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
    generation: int = 0
    """Bumped by every write: one tirui's write never loses what another wrote since it read
    (see :meth:`save`)."""

    @property
    def version_text(self) -> str:
        return version_text(self.source, self.model_version, self.etag)

    @property
    def previous_text(self) -> str:
        p = self.previous
        return version_text(p["source"], p.get("model_version", ""), p.get("etag", "")) if p else ""

    @property
    def settings(self) -> ModelSettings:
        """Workers and batching as one unit (on disk as four fields, as earlier tiruis wrote)."""
        return ModelSettings(self.workers, self.batch_size, self.max_batch_delay_ms, self.response_timeout_s)

    @settings.setter
    def settings(self, value: ModelSettings) -> None:
        self.workers, self.batch_size = value.workers, value.batch_size
        self.max_batch_delay_ms, self.response_timeout_s = value.max_batch_delay_ms, value.response_timeout_s

    @property
    def port_set(self) -> Ports:
        return Ports(**self.ports)

    def save(self, folder: Path) -> None:
        """Write under the folder's lock, as a compare-and-swap: when another tirui wrote since this
        copy was read, the fields this copy did not change since then are taken from the disk (an
        update or a scale from another terminal is kept), the ones it changed are written."""
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder):
            disk = _read(folder)
            merged = self._merged(disk)
            merged["generation"] = max(self.generation, (disk or {}).get("generation", 0)) + 1
            tmp = folder / (STATE_FILE + ".tmp")
            tmp.write_text(json.dumps(merged, indent=2))
            os.replace(tmp, folder / STATE_FILE)
        self._take(merged)

    def refresh(self, folder: Path) -> bool:
        """Take what another tirui wrote since this copy was read (keeping this copy's own unsaved
        changes); True when something came from the disk."""
        disk = _read(folder)
        if disk is None or disk.get("generation", 0) <= self.generation:
            return False
        before = asdict(self)
        self._take(self._merged(disk), base=disk)
        return asdict(self) != before

    def _merged(self, disk: dict[str, Any] | None) -> dict[str, Any]:
        mine = asdict(self)
        if disk is None or disk.get("generation", 0) == self.generation:
            return mine
        base = getattr(self, "_base", None) or {}
        return {
            k: (disk[k] if k in disk and k in base and mine[k] == base[k] else v) for k, v in mine.items()
        }

    def _take(self, values: dict[str, Any], base: dict[str, Any] | None = None) -> None:
        for k in self.__dataclass_fields__:
            if k in values:
                setattr(self, k, values[k])
        self._base = dict(base if base is not None else values)

    @classmethod
    def load(cls, folder: Path) -> LocalState | None:
        doc = _read(folder)
        if doc is None:
            return None
        try:
            state = cls(**{k: doc[k] for k in cls.__dataclass_fields__ if k in doc})
        except TypeError:
            return None
        state._base = asdict(state)
        return state


def _read(folder: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads((folder / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """The deployment folder's write lock (``state.lock``), across processes."""
    with (folder / "state.lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
