"""Inference requests as the access log tells them, by time: what the charts' request rate,
response classes, average latency, percentiles (per protocol too) and active requests come from.

Only inference lines count (REST predictions/explanations and the gRPC Predictions calls), so
probes, ``/metrics`` scrapes and management calls never show up as traffic — TorchServe's own
``Requests2XX`` counters include all of them (docs/torchserve.md). gRPC calls count like HTTP ones:
status 0 is 2xx, a client error code (NOT_FOUND, INVALID_ARGUMENT...) 4xx, any other 5xx.
"""

from __future__ import annotations

from collections import deque

from tirui.metrics.accesslog import AccessEntry
from tirui.metrics.quantiles import WindowedQuantiles

CLASSES = ("2xx", "4xx", "5xx")
PROTOCOLS = ("http", "grpc")


class Tally:
    """The inference requests that arrived in one interval (counted on arrival, so a line that
    comes late is still counted once, and a slow interval loses nothing)."""

    def __init__(self) -> None:
        self.classes: dict[str, float] = dict.fromkeys(CLASSES, 0.0)
        self.busy_ms = 0.0

    def add(self, e: AccessEntry) -> None:
        if e.inference:
            self.classes[e.status_class] += 1
            self.busy_ms += e.latency_ms

    def merge(self, other: Tally) -> None:
        for c, n in other.classes.items():
            self.classes[c] += n
        self.busy_ms += other.busy_ms

    def rates(self, seconds: float) -> dict[str, float | None]:
        """Per second over ``seconds``: the same keys as :meth:`LogStats.rates`."""
        n = sum(self.classes.values())
        out: dict[str, float | None] = {c: v / seconds for c, v in self.classes.items()}
        out["rps"] = n / seconds
        out["errors"] = (self.classes["4xx"] + self.classes["5xx"]) / seconds
        out["active"] = self.busy_ms / 1000 / seconds
        out["latency_avg"] = self.busy_ms / n if n else None
        return out


class WindowedSums:
    """Per-second sums of a value (a count, seconds of latency) over a bounded horizon."""

    def __init__(self, horizon: int = 900) -> None:
        self.horizon = horizon
        self._seconds: deque[list[float]] = deque()

    def add(self, at: float, value: float = 1.0) -> None:
        second = int(at)
        for slot in reversed(self._seconds):  # late lines land in their own (recent) second
            if slot[0] == second:
                slot[1] += value
                return
            if slot[0] < second:
                break
        self._seconds.append([second, value])
        if len(self._seconds) > 1 and self._seconds[-2][0] > second:
            self._seconds = deque(sorted(self._seconds, key=lambda s: s[0]))
        while self._seconds and self._seconds[0][0] <= self._seconds[-1][0] - self.horizon:
            self._seconds.popleft()

    def total(self, window: float, now: float) -> float:
        start = now - window  # no upper bound: a line stamped a little after ``now`` still happened
        return sum(v for sec, v in self._seconds if sec > start)


class LogStats:
    """The inference requests of one replica (or of all of them)."""

    def __init__(self, horizon: int = 900) -> None:
        self.quantiles = WindowedQuantiles(horizon)
        self.by_protocol = {p: WindowedQuantiles(horizon) for p in PROTOCOLS}
        self.classes = {c: WindowedSums(horizon) for c in CLASSES}
        self.latency = WindowedSums(horizon)
        """Milliseconds of latency per second: the average's numerator, and the busy time of
        Little's law (active requests = busy seconds / elapsed seconds)."""
        self.seen = False
        """Any access-log line arrived: the log is this replica's source of request rates (zero
        when it shows only probes and scrapes)."""

    def add(self, e: AccessEntry) -> None:
        self.seen = True
        if not e.inference:
            return
        self.quantiles.add(e.latency_ms, e.at)
        self.by_protocol[e.protocol].add(e.latency_ms, e.at)
        self.classes[e.status_class].add(e.at)
        self.latency.add(e.at, e.latency_ms)

    def rates(self, window: float, now: float) -> dict[str, float | None]:
        """Per second over the last ``window`` s: ``rps``, ``2xx``/``4xx``/``5xx``, ``errors``,
        ``active`` (Little's law), and ``latency_avg`` in ms (None without requests)."""
        tally = Tally()
        tally.classes = {c: self.classes[c].total(window, now) for c in CLASSES}
        tally.busy_ms = self.latency.total(window, now)
        return tally.rates(window)

    def protocol_summary(self, window: float, now: float) -> dict[str, dict[str, float | int | None]]:
        """``{"http": {"requests": n, "p99_ms": x}, "grpc": {...}}`` over the last ``window`` s."""
        return {
            p: {
                "requests": wq.count(window, now),
                "p99_ms": wq.quantiles((0.99,), window, now)[0.99],
            }
            for p, wq in self.by_protocol.items()
        }
