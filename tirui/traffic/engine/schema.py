"""The one schema of what a load-engine worker reports to the pool, one JSON line per interval
(:mod:`tirui.traffic.engine.worker` writes it, :mod:`tirui.traffic.engine.pool` reads it):
short keys, since a full-speed run writes four of these a second per worker."""

from __future__ import annotations

from typing import TypedDict


class Report(TypedDict):
    """What completed in one interval of one worker."""

    n: int
    """Requests completed (answered, failed or, at the end, cancelled)."""
    ok: int
    """Of them, answered with success (HTTP < 400, gRPC OK)."""
    b: int
    """Bytes received."""
    mx: float
    """The longest latency, seconds."""
    st: dict[str, int]
    """Completions by status (``"200"``, ``"OK"``, ``"timeout"``, ``"cancelled"`` …)."""
    h: dict[str, int]
    """Latencies: log-histogram bucket → count (:class:`tirui.metrics.quantiles.LogHistogram`)."""
    f: dict[str, int]
    """gRPC streams: time to the first chunk, the same way; empty otherwise."""
