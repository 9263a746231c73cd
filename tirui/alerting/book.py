"""The book of alerts: what fires now (with when it started and its peak), what fired before
(the history), and the outbox of transitions not yet delivered to every channel.

Kept in the data dir, so a tirui (or ``tirui alerts --watch``) that restarts knows what was
firing and sends nothing again for it; one process at a time keeps the book (:class:`BookLease`,
a flock released by the kernel with its holder), the others only read it. Files: ``alerts/
state.json`` (firing and outbox, replaced atomically) and ``alerts/history.jsonl`` (one line per
resolved firing: deployment, rule, start, end, peak).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tirui.alerting.events import AlertEvent, rule_key
from tirui.metrics.alerts import Alert, Rule

HISTORY_KEPT = 10_000
"""Lines of history kept (the oldest go once it grows past twice this)."""


@dataclass
class Pending:
    """One event for one channel, until that channel has taken it."""

    channel: str
    event: AlertEvent
    attempts: int = 0
    next_at: float = 0.0
    last_error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "event": self.event.to_json(),
            "attempts": self.attempts,
            "next_at": self.next_at,
            "last_error": self.last_error,
        }


@dataclass
class Firing:
    deployment: str
    kind: str
    rule: str
    started: float
    value: float
    peak: float


@dataclass
class Observation:
    """One round of evaluation: the alerts whose condition holds, the rules that could be
    evaluated at all (the others keep their state: no data is not a resolve), and the
    deployments that exist (the alerts of one that is gone resolve)."""

    firing: list[Alert]
    observed: set[str] = field(default_factory=set)
    deployments: set[str] = field(default_factory=set)

    @classmethod
    def of(
        cls, alerts: Iterable[Alert], observed: Iterable[tuple[str, Rule]], deployments: Iterable[str]
    ) -> Observation:
        return cls(list(alerts), {rule_key(d, r) for d, r in observed}, set(deployments))


class BookLease:
    """Held by the one process that keeps the book and sends (non-blocking flock)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / ".book.lock"
        self._file: IO[bytes] | None = None

    def held(self) -> bool:
        if self._file is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            f = self.path.open("ab")
        except OSError:
            return False
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        self._file = f
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class AlertBook:
    """Firing state, history and outbox of one data dir."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.state_path = folder / "state.json"
        self.history_path = folder / "history.jsonl"
        self.firing: dict[str, Firing] = {}
        self.outbox: list[Pending] = []
        self.load()

    # -- files --------------------------------------------------------------------------------
    def load(self) -> None:
        """Read the state file again (what another process wrote); a broken one reads as empty."""
        try:
            doc = json.loads(self.state_path.read_text())
            self.firing = {k: Firing(**v) for k, v in doc.get("firing", {}).items()}
            self.outbox = [
                Pending(
                    str(p["channel"]),
                    AlertEvent.from_json(p["event"]),
                    int(p.get("attempts", 0)),
                    float(p.get("next_at", 0.0)),
                    str(p.get("last_error", "")),
                )
                for p in doc.get("outbox", [])
            ]
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            self.firing, self.outbox = {}, []

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        doc = {
            "firing": {k: vars(f) for k, f in self.firing.items()},
            "outbox": [p.to_json() for p in self.outbox],
        }
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, self.state_path)

    def _remember(self, event: AlertEvent) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.history_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(event.to_json()) + "\n")
            grown = f.tell() > 400 * HISTORY_KEPT
        if grown:
            lines = self.history_path.read_text(encoding="utf-8").splitlines()[-HISTORY_KEPT:]
            self.history_path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    def history(self) -> list[AlertEvent]:
        """Past firings, oldest first, then those firing now (``ended`` 0)."""
        out: list[AlertEvent] = []
        with contextlib.suppress(OSError):
            for line in self.history_path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    out.append(AlertEvent.from_json(json.loads(line)))
        for key, f in sorted(self.firing.items(), key=lambda kv: kv[1].started):
            out.append(AlertEvent("firing", key, f.deployment, f.kind, f.rule, f.value, f.peak, f.started))
        return out

    # -- transitions --------------------------------------------------------------------------
    def record(self, seen: Observation, now: float, channels: Iterable[str]) -> list[AlertEvent]:
        """Book one round: alerts that start firing, peaks of those that go on, those that
        resolve; each transition goes to the outbox once per channel. Returns the transitions."""
        names = list(channels)
        events: list[AlertEvent] = []
        holding = set()
        for alert in seen.firing:
            key = rule_key(alert.deployment, alert.rule)
            holding.add(key)
            known = self.firing.get(key)
            if known is None:
                rule = alert.rule.text()
                self.firing[key] = Firing(
                    alert.deployment, alert.rule.kind, rule, now, alert.value, alert.value
                )
                f = self.firing[key]
                events.append(
                    AlertEvent("firing", key, f.deployment, f.kind, f.rule, f.value, f.peak, f.started)
                )
            else:
                known.value, known.peak = alert.value, max(known.peak, alert.value)
        for key, f in list(self.firing.items()):
            if key in holding:
                continue
            gone = f.deployment not in seen.deployments
            if key not in seen.observed and not gone:
                continue  # no data this round: neither firing nor resolved
            del self.firing[key]
            event = AlertEvent("resolved", key, f.deployment, f.kind, f.rule, f.value, f.peak, f.started, now)
            events.append(event)
            self._remember(event)
        self.outbox += [Pending(name, event) for event in events for name in names]
        if events:
            self.save()
        return events
