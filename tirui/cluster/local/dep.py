"""One local deployment as the runtime tracks it (the process, probe results, its events) and
what TorchServe's logs say when it fails."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections import deque
from pathlib import Path

from tirui.cluster.local.state import LocalState

EVENTS_FILE = "events.log"
_GENERIC = ("Unknown exception", "Traceback", "raise ", "Backend worker error", "Load model failed")


def failure_reason(workdir: Path) -> str:
    """The most telling recent error line of TorchServe's logs (the handler's own exception first).

    TorchServe wraps a failed load in ``RuntimeError: 500 - Unknown exception`` after the real
    traceback; skip such generic lines and log prefixes.
    """
    logs = {
        name: tail(workdir / "logs" / name, 400) for name in ("model_log.log", "ts_log.log", "stdout.log")
    }
    for line in reversed(logs["ts_log.log"]):  # TorchServe refused a setting: its own words
        if "Invalid configuration" in line:
            return _message(line)[-300:]
    for lines in logs.values():
        for line in reversed(lines):
            text = _message(line)
            if any(g in text for g in _GENERIC) or text.startswith("File "):
                continue
            if any(w in text for w in ("Error", "Exception", "error:", "No module")):
                return text[-300:]
    return ""


def _message(line: str) -> str:
    """A log line without its ``timestamp [LEVEL] thread logger - `` prefix."""
    return (line.split(" - ", 1)[1] if " - " in line else line).strip()


def tail(path: Path, lines: int) -> list[str]:
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 64 * 1024))
            return f.read().decode("utf-8", "replace").splitlines()[-lines:]
    except OSError:
        return []


def started_on_this_clock(state: LocalState) -> float:
    """The monotonic time of the state's start when it is starting (another process may have
    started it: its wall-clock ``started`` tells when), else now (a NotReady seen from here is
    judged from when this process saw it)."""
    now = time.monotonic()
    if state.phase == "Starting" and state.started:
        return now - min(max(0.0, time.time() - state.started), 24 * 3600.0)
    return now


class LocalDep:
    """Runtime-side bookkeeping of one deployment (the state file holds what must persist)."""

    def __init__(self, state: LocalState, folder: Path) -> None:
        self.state = state
        self.folder = folder
        self.proc: subprocess.Popen[bytes] | None = None
        self.next_restart = 0.0
        self.seen_pgid = state.pgid
        self.down_since = started_on_this_clock(state)
        """Since when it has had no READY worker (monotonic): a start is judged from when the
        process that started it did (the state's ``started``), never from this process's boot."""
        self.ready_workers = 0
        self.workers_seen = 0
        self.keys_mtime = 0.0
        self.next_probe = 0.0
        self.described: dict[str, int] = {}
        """The serving settings TorchServe last described (batchSize, maxBatchDelay, ...)."""
        """When the supervisor next asks TorchServe for READY workers (monotonic)."""
        self.events: deque[tuple[float, str]] = deque(self._saved_events(), maxlen=200)
        self.restoring_canary = False
        """A thread is loading the paused canary again (see LocalCanaries.resume)."""
        self.stopping = False
        """Its processes are being stopped outside the lock: the supervisor leaves it alone."""

    def _saved_events(self) -> list[tuple[float, str]]:
        """Events outlive the tirui that saw them (``events.log``: a later tirui, ``tirui events``)."""
        out = []
        for line in tail(self.folder / EVENTS_FILE, 200):
            at, _, text = line.partition("\t")
            with contextlib.suppress(ValueError):
                out.append((float(at), text))
        return out

    def event(self, text: str) -> None:
        at = time.time()
        self.events.append((at, text))
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / EVENTS_FILE
            with path.open("a", encoding="utf-8") as f:
                f.write(f"{at:.3f}\t{text.replace(chr(10), ' ')}\n")
                grown = f.tell() > 256 * 1024
            if grown:  # keep it bounded: the last 200 events, as in memory
                path.write_text("".join(f"{t:.3f}\t{x}\n" for t, x in self.events), encoding="utf-8")

    @property
    def workdir(self) -> Path:
        return self.folder / "run"
