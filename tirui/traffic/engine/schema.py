"""The schemas between the pool and its worker processes: the :class:`Job` each worker is given
(one JSON document on its stdin) and the :class:`Report` it writes back, one JSON line per
interval, with short keys, since a full-speed run writes four of these a second per worker.
:mod:`tirui.traffic.engine.pool` writes jobs and reads reports, :mod:`tirui.traffic.engine.worker`
the reverse."""

from __future__ import annotations

from typing import Literal, TypedDict


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


class Job(TypedDict):
    """One worker's share of a run (:func:`tirui.traffic.engine.pool.jobs`)."""

    protocol: Literal["http", "grpc"]
    url: str
    """HTTP: the full URL; gRPC: ``host:port``."""
    canary_url: str
    """HTTP: the canary version's URL ("" without a canary)."""
    method: str
    headers: dict[str, str]
    """With the bearer token when the spec has one."""
    body: str
    """Base64 of the request body."""
    model: str
    duration: float | None
    timeout: float
    tls: bool
    verify: bool | str
    stream: bool
    canary_version: str
    canary_weight: int
    every: float
    """Seconds between reports."""
    concurrency: int
    """This worker's connections (gRPC: streams)."""
    requests: int | None
    """This worker's requests (None: until ``duration``)."""
    rate: float | None
    """This worker's requests per second (None: closed loop)."""
    phase: float
    """Open loop: the offset of this worker's first due time."""
