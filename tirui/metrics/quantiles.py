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


def _bucket(value: float) -> int:
    return -1 if value <= 0 else math.floor(math.log(value) / _LOG)


def _value(bucket: int) -> float:
    """Representative (geometric middle) of a bucket."""
    return 0.0 if bucket < 0 else GROWTH ** (bucket + 0.5)


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
        ordered = sorted(hist.items())
        for q in qs:
            rank = max(1, math.ceil(q * n))
            seen = 0
            for bucket, count in ordered:
                seen += count
                if seen >= rank:
                    out[q] = _value(bucket)
                    break
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
