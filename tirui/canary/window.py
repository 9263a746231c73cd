"""Both sides' recent requests for a live side-by-side view (the Metrics screen's table)."""

from __future__ import annotations

from collections import deque

from tirui.canary.feed import Entries
from tirui.canary.judge import SideStats
from tirui.metrics.accesslog import AccessEntry


class SideWindow:
    """The requests of the last ``horizon_s`` seconds of each side, dated when they were read."""

    def __init__(self, horizon_s: float = 900.0, max_entries: int = 200_000) -> None:
        self.horizon_s = horizon_s
        self._sides: tuple[deque[tuple[float, AccessEntry]], ...] = (
            deque(maxlen=max_entries),
            deque(maxlen=max_entries),
        )
        self.started = 0.0

    def add(self, stable: Entries, canary: Entries, now: float) -> None:
        self.started = self.started or now
        for side, entries in zip(self._sides, (stable, canary), strict=True):
            side.extend((now, e) for e in entries)
            while side and side[0][0] < now - self.horizon_s:
                side.popleft()

    def stats(self, window_s: float, now: float) -> tuple[SideStats, SideStats]:
        seconds = min(window_s, now - self.started) if self.started else 0.0
        stable, canary = (
            SideStats.of([e for at, e in side if at >= now - window_s], max(seconds, 1.0))
            for side in self._sides
        )
        return stable, canary


def comparison(stable: SideStats, canary: SideStats) -> list[tuple[str, str, str, str, str]]:
    """Rows (side, req/s, p50, p99, server errors) for a table."""

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:g} ms"

    rows = []
    for label, s in (("stable", stable), ("canary", canary)):
        errors = f"{s.error_rate * 100:.1f}%" if s.requests else "-"
        rows.append((label, f"{s.rps:.1f}", ms(s.p50_ms), ms(s.p99_ms), errors))
    return rows
