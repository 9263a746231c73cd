"""Latency percentiles over a sliding window with bounded memory.

:class:`WindowedQuantiles` keeps one small log-bucketed histogram per second (buckets 2% wide,
so any quantile is within ~1% of the true value) for at most ``horizon`` seconds; a quantile over
the last N seconds merges those histograms. Memory is bounded by horizon times distinct buckets, no
matter how many requests arrive. :func:`histogram_quantile` is Prometheus's algorithm for
``_bucket`` counters, for endpoints that expose real histograms.
"""

from __future__ import annotations

import math
from collections import Counter, deque

GROWTH = 1.02
_LOG = math.log(GROWTH)
ZERO = -(2**31)
"""The bucket of values <= 0 (every other integer is the bucket of some positive value: values
just under 1 fall in bucket -1, so that cannot be the marker)."""


def _bucket(value: float) -> int:
    return ZERO if value <= 0 else math.floor(math.log(value) / _LOG)


def _value(bucket: int) -> float:
    """Representative (geometric middle) of a bucket."""
    return 0.0 if bucket == ZERO else float(GROWTH ** (bucket + 0.5))


class LogHistogram:
    """Counts per log bucket (2% wide): any quantile within ~1% of the true value, memory bounded
    by the spread of the values, not their number; merges by adding counts. Units are the
    caller's (seconds for load tests, milliseconds for access logs)."""

    def __init__(self, counts: dict[int, int] | None = None) -> None:
        self.counts: Counter[int] = Counter(counts or {})

    def add(self, value: float, n: int = 1) -> None:
        self.counts[_bucket(value)] += n

    def merge(self, other: LogHistogram | dict[int, int]) -> None:
        self.counts.update(other.counts if isinstance(other, LogHistogram) else other)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def quantile(self, q: float) -> float:
        """Nearest-rank quantile (0 < q <= 1) as a bucket's middle; 0.0 when empty."""
        n = self.total
        if n == 0:
            return 0.0
        rank, seen = max(1, math.ceil(q * n)), 0
        for bucket, count in sorted(self.counts.items()):
            seen += count
            if seen >= rank:
                return _value(bucket)
        return _value(max(self.counts))

    def bins(self) -> list[tuple[float, float, int]]:
        """``(low, high, count)`` of every non-empty bucket, ascending."""
        out = []
        for bucket, count in sorted(self.counts.items()):
            low = 0.0 if bucket == ZERO else float(GROWTH**bucket)
            high = 0.0 if bucket == ZERO else float(GROWTH ** (bucket + 1))
            out.append((low, high, count))
        return out

    def to_json(self) -> dict[str, int]:
        return {str(k): v for k, v in sorted(self.counts.items())}

    @classmethod
    def from_json(cls, doc: dict[str, int]) -> LogHistogram:
        return cls({int(k): int(v) for k, v in doc.items()})


class WindowedQuantiles:
    def __init__(self, horizon: int = 900) -> None:
        self.horizon = horizon
        self._seconds: deque[tuple[int, Counter[int]]] = deque()

    def add(self, value: float, at: float) -> None:
        second = int(at)
        if self._seconds and self._seconds[-1][0] == second:
            self._seconds[-1][1][_bucket(value)] += 1
        else:
            # Out-of-order seconds (log lines a little late) go to their own slot if recent.
            for sec, hist in reversed(self._seconds):
                if sec == second:
                    hist[_bucket(value)] += 1
                    return
                if sec < second:
                    break
            self._seconds.append((second, Counter({_bucket(value): 1})))
            if len(self._seconds) > 1 and self._seconds[-2][0] > second:
                self._seconds = deque(sorted(self._seconds, key=lambda x: x[0]))
        self._trim(second)

    def _trim(self, now: int) -> None:
        while self._seconds and self._seconds[0][0] <= now - self.horizon:
            self._seconds.popleft()

    def merged(self, window: float, now: float) -> Counter[int]:
        start = now - window
        total: Counter[int] = Counter()
        for sec, hist in self._seconds:
            if sec >= start:
                total.update(hist)
        return total

    def count(self, window: float, now: float) -> int:
        return sum(self.merged(window, now).values())

    def quantiles(self, qs: tuple[float, ...], window: float, now: float) -> dict[float, float | None]:
        """``{0.5: ms, 0.99: ms}`` over the last ``window`` seconds (None when no data)."""
        hist = self.merged(window, now)
        n = sum(hist.values())
        out: dict[float, float | None] = {}
        if n == 0:
            return dict.fromkeys(qs)
        merged = LogHistogram(dict(hist))
        for q in qs:
            out[q] = merged.quantile(q)
        return out


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus's ``histogram_quantile`` over ``(upper bound, cumulative count)`` pairs."""
    if not buckets:
        return None
    buckets = sorted(buckets)
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return prev_bound
            if count == prev_count:
                return bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = bound, count
    return buckets[-1][0]
