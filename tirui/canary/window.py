"""Both sides' recent requests for a live side-by-side view (the Metrics screen's table), kept as
the metrics pipeline keeps its percentiles: per-second log-bucketed histograms
(:class:`~tirui.metrics.quantiles.WindowedQuantiles`) and per-second error counts, so memory and
each redraw's work stay bounded whatever the request rate."""

from __future__ import annotations

from tirui.canary.feed import Entries
from tirui.canary.judge import SideStats
from tirui.metrics.logstats import WindowedSums
from tirui.metrics.quantiles import WindowedQuantiles


class _Side:
    def __init__(self, horizon_s: int) -> None:
        self.latency = WindowedQuantiles(horizon_s)
        self.errors = WindowedSums(horizon_s)

    def add(self, entries: Entries, now: float) -> None:
        for e in entries:
            self.latency.add(e.latency_ms, now)
            if e.status_class == "5xx":
                self.errors.add(now)

    def stats(self, window_s: float, now: float, seconds: float) -> SideStats:
        q = self.latency.quantiles((0.5, 0.99), window_s, now)
        count = self.latency.count(window_s, now)
        return SideStats(count, int(self.errors.total(window_s, now)), q[0.5], q[0.99], seconds)


class SideWindow:
    """The requests of the last ``horizon_s`` seconds of each side, dated when they were read."""

    def __init__(self, horizon_s: int = 900) -> None:
        self._sides = (_Side(horizon_s), _Side(horizon_s))
        self.started = 0.0

    def add(self, stable: Entries, canary: Entries, now: float) -> None:
        self.started = self.started or now
        self._sides[0].add(stable, now)
        self._sides[1].add(canary, now)

    def stats(self, window_s: float, now: float) -> tuple[SideStats, SideStats]:
        seconds = max(min(window_s, now - self.started) if self.started else 0.0, 1.0)
        stable, canary = (side.stats(window_s, now, seconds) for side in self._sides)
        return stable, canary


def comparison(stable: SideStats, canary: SideStats) -> list[tuple[str, str, str, str, str]]:
    """Rows (side, req/s, p50, p99, server errors) for a table."""

    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.3g} ms"

    rows = []
    for label, s in (("stable", stable), ("canary", canary)):
        errors = f"{s.error_rate * 100:.1f}%" if s.requests else "-"
        rows.append((label, f"{s.rps:.1f}", ms(s.p50_ms), ms(s.p99_ms), errors))
    return rows
