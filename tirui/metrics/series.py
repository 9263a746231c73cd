"""Derived series per replica and in aggregate: rates that survive counter resets, averages,
gauges, access-log percentiles, in bounded ring buffers.

Feed :meth:`MetricsPipeline.tick` once per interval with what each replica's scrape and log tail
returned; read :meth:`MetricsPipeline.points` for charts. A replica whose scrape failed gets a
gap (None) and a status note, the others carry on. A counter that goes down (the process
restarted) restarts its delta from the new value instead of producing a negative rate.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field

from tirui.metrics.accesslog import AccessEntry
from tirui.metrics.logstats import LogStats, Tally
from tirui.metrics.quantiles import WindowedQuantiles, histogram_quantile
from tirui.metrics.scrape import PROXY_INFLIGHT, Snapshot

AGGREGATE = "all"
COUNTERS = {"rps": "ts_inference_requests_total"}
"""Used only for replicas without an access log; TorchServe's Requests2XX/4XX/5XX are not used at
all: they count every probe and scrape (``logstats`` says what counts instead)."""
LOG_SERIES = ("rps", "2xx", "4xx", "5xx", "errors", "active", "latency_avg")
GAUGES = {
    "cpu": "CPUUtilization",
    "mem": "MemoryUtilization",
    "mem_used": "MemoryUsed",
    "gpu": "GPUUtilization",
    "gpu_mem": "GPUMemoryUtilization",
    "gpu_mem_used": "GPUMemoryUsed",
}
LATENCY = "ts_inference_latency_microseconds"
QUEUE = "ts_queue_latency_microseconds"
PERCENTILES = (0.5, 0.9, 0.99)
SMOOTH = 10.0
REPLICA_HORIZON = 20
"""Seconds of per-replica log statistics (the aggregate keeps the whole horizon): enough for the
per-replica percentile lines (smoothed over SMOOTH s), bounded for deployments of 100 replicas."""
"""Seconds of requests behind each charted percentile point."""


def delta(prev: float | None, cur: float | None) -> float | None:
    """Counter increase; after a reset (value went down) the new value is the increase."""
    if cur is None:
        return None
    if prev is None:
        return None
    return cur - prev if cur >= prev else cur


def _change(prev: Snapshot | None, cur: Snapshot, metric: str, match: dict[str, str]) -> float | None:
    """A counter's increase between two scrapes; TorchServe omits a counter until it is first
    incremented, so absent means 0."""
    if prev is None:
        return None
    return delta(prev.total(metric, **match) or 0.0, cur.total(metric, **match) or 0.0)


@dataclass
class Replica:
    name: str
    prev: Snapshot | None = None
    note: str = ""
    last_seen: float = 0.0
    log: LogStats = field(default_factory=LogStats)
    percentile_source: str = ""
    last_tick: float = 0.0
    """When this replica's previous interval ended (0: this is its first)."""

    @property
    def quantiles(self) -> WindowedQuantiles:
        return self.log.quantiles


@dataclass
class TickInput:
    """What one replica produced in one interval."""

    snapshot: Snapshot | None = None
    error: str = ""
    entries: list[AccessEntry] = field(default_factory=list)
    sampled: bool = True
    """False when the collector left this replica's metrics out of this round to bound its load:
    its log still counts, its gauges keep their last value, and its counters' next rate spans
    the longer interval (not a gap)."""


class Ring:
    """The last ``maxlen`` points ``(t, value|None)`` of one series, in two ``array('d')`` (16
    bytes a point instead of ~100 for a tuple of floats: 100 replicas x 15 series x 900 points
    stay ~20 MB). A gap (None) is stored as NaN."""

    __slots__ = ("maxlen", "start", "ts", "vs")

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self.start = 0
        self.ts = array("d")
        self.vs = array("d")

    def append(self, at: float, value: float | None) -> None:
        v = math.nan if value is None else value
        if len(self.ts) < self.maxlen:
            self.ts.append(at)
            self.vs.append(v)
            return
        self.ts[self.start], self.vs[self.start] = at, v
        self.start = (self.start + 1) % self.maxlen

    def __len__(self) -> int:
        return len(self.ts)

    def last(self) -> tuple[float, float | None]:
        i = (self.start - 1) % len(self.ts)
        v = self.vs[i]
        return self.ts[i], None if math.isnan(v) else v

    def since(self, start: float) -> list[tuple[float, float | None]]:
        """The points at or after ``start``, oldest first."""
        k = self.start
        ts, vs = self.ts[k:] + self.ts[:k], self.vs[k:] + self.vs[:k]
        return [(t, None if v != v else v) for t, v in zip(ts, vs, strict=True) if t >= start]


class MetricsPipeline:
    """Ring buffers of ``series → replica → [(t, value|None)]`` (``replica == "all"`` aggregates)."""

    def __init__(self, *, max_points: int = 900, model: str = "", horizon: int = 900) -> None:
        self.max_points = max_points
        self.model = model
        self.horizon = horizon
        self.replicas: dict[str, Replica] = {}
        self.rings: dict[str, dict[str, Ring]] = {}
        self.aggregate_log = LogStats(horizon)
        self._last_tick = 0.0
        self.custom_names: set[str] = set()
        self.watch_custom: str = ""

    # -- storage -----------------------------------------------------------------------------
    def _put(self, series: str, replica: str, at: float, value: float | None) -> None:
        per = self.rings.setdefault(series, {})
        ring = per.get(replica)
        if ring is None:
            ring = per[replica] = Ring(self.max_points)
        ring.append(at, value)

    def points(
        self, series: str, replica: str = AGGREGATE, window: float = 300, now: float = 0.0
    ) -> list[tuple[float, float | None]]:
        ring = self.rings.get(series, {}).get(replica)
        if not ring:
            return []
        return ring.since((now or ring.last()[0]) - window)

    def latest(self, series: str, replica: str = AGGREGATE) -> float | None:
        ring = self.rings.get(series, {}).get(replica)
        return ring.last()[1] if ring else None

    @property
    def aggregate_quantiles(self) -> WindowedQuantiles:
        return self.aggregate_log.quantiles

    def log_of(self, replica: str = AGGREGATE) -> LogStats:
        return self.aggregate_log if replica == AGGREGATE else self.replicas[replica].log

    def percentiles(self, window: float, now: float, replica: str = AGGREGATE) -> dict[float, float | None]:
        return self.log_of(replica).quantiles.quantiles(PERCENTILES, window, now)

    def percentile_source(self) -> str:
        sources = {r.percentile_source for r in self.replicas.values() if r.percentile_source}
        return ", ".join(sorted(sources)) or "no requests yet"

    # -- ingest ------------------------------------------------------------------------------
    def _match(self) -> dict[str, str]:
        return {"model_name": self.model} if self.model else {}

    def tick(self, now: float, inputs: dict[str, TickInput]) -> None:
        """Process one interval of every replica that exists now."""
        counted_rps: float | None = None  # the sum of counter rates (replicas without an access log)
        fleet_tally = Tally()
        latency_total = requests_total = queue_total = 0.0
        for name, data in inputs.items():
            rep = self.replicas.get(name)
            if rep is None:  # a replica's own log stats serve its smoothed percentiles and rates
                rep = self.replicas[name] = Replica(name, log=LogStats(REPLICA_HORIZON))
            rep.last_seen = now
            tally = self._entries(rep, data.entries)
            interval = now - rep.last_tick if rep.last_tick else 0.0
            rep.last_tick = now
            snap = data.snapshot
            if snap is None and data.sampled:
                rep.note = data.error or "no data"
                # a replica that does not answer is a gap (its silent log proves nothing)
                for series in (*LOG_SERIES, *GAUGES, "queue_avg"):
                    self._put(series, name, now, None)
                continue
            if rep.log.seen and interval > 0:  # the access log: no phantom traffic
                for series, value in tally.rates(interval).items():
                    self._put(series, name, now, value)
                fleet_tally.merge(tally)
            if snap is None:  # not sampled this round
                continue
            rep.note = "ok"
            prev = rep.prev
            dt = (snap.at - prev.at) if prev is not None else 0.0
            match = self._match()

            requests = _change(prev, snap, COUNTERS["rps"], match)
            latency = _change(prev, snap, LATENCY, match)
            queued_us = _change(prev, snap, QUEUE, match)
            if not rep.log.seen:  # no access log (yet): TorchServe's counters
                rate = requests / dt if requests is not None and dt > 0 else None
                self._put("rps", name, now, rate)
                if rate is not None:
                    counted_rps = (counted_rps or 0.0) + rate
                avg = latency / requests / 1000 if requests and latency is not None else None
                self._put("latency_avg", name, now, avg)
            queue_avg = queued_us / requests / 1000 if requests and queued_us is not None else None
            self._put("queue_avg", name, now, queue_avg)
            if requests and latency is not None:
                latency_total += latency
                requests_total += requests
                queue_total += queued_us or 0.0
            for series, metric in GAUGES.items():
                self._put(series, name, now, snap.total(metric))
            writing = snap.total(PROXY_INFLIGHT)  # the pod's auth proxy, when its port is scraped
            if writing is not None:
                self._put("inflight", name, now, max(writing - 1.0, 0.0))
            self._histogram_percentiles(rep, prev, snap, now)
            self._custom(name, prev, snap, now, dt)
            rep.prev = snap
        fleet_interval = now - self._last_tick if self._last_tick else 0.0
        self._last_tick = now
        if self.aggregate_log.seen:
            rates = fleet_tally.rates(fleet_interval) if fleet_interval > 0 else dict.fromkeys(LOG_SERIES)
            for series, value in rates.items():
                self._put(series, AGGREGATE, now, value)
        else:
            self._put("rps", AGGREGATE, now, counted_rps)
            avg = latency_total / requests_total / 1000 if requests_total else None
            self._put("latency_avg", AGGREGATE, now, avg)
        queued = queue_total / requests_total / 1000 if requests_total else None
        self._put("queue_avg", AGGREGATE, now, queued)
        for series in GAUGES:
            values = [v for r in inputs for v in [self.latest(series, r)] if v is not None]
            self._put(series, AGGREGATE, now, sum(values) / len(values) if values else None)
        if "inflight" in self.rings:
            values = [v for r in inputs for v in [self.latest("inflight", r)] if v is not None]
            self._put("inflight", AGGREGATE, now, sum(values) if values else None)
        for q in PERCENTILES:
            key = f"p{int(q * 100)}"
            self._put(key, AGGREGATE, now, self.aggregate_quantiles.quantiles((q,), SMOOTH, now)[q])
            for name in inputs:
                rq = self.replicas[name].quantiles.quantiles((q,), SMOOTH, now)[q]
                self._put(key, name, now, rq)
        self._prune(now)

    def _entries(self, rep: Replica, entries: list[AccessEntry]) -> Tally:
        """Feed the windowed stats; the tally of this interval (empty on a replica's first
        interval: what it reads then is history, e.g. a log backfill, not this interval's rate)."""
        tally = Tally()
        for e in entries:
            rep.log.add(e)
            self.aggregate_log.add(e)
            if e.inference:
                rep.percentile_source = "access log"
                if rep.last_tick:
                    tally.add(e)
        return tally

    def _histogram_percentiles(self, rep: Replica, prev: Snapshot | None, snap: Snapshot, now: float) -> None:
        """When no access log feeds this replica, use a latency ``_bucket`` histogram if exposed."""
        if rep.percentile_source == "access log" or prev is None:
            return
        family = next(
            (n for n, t in snap.types.items() if t == "histogram" and ("atency" in n or "Time" in n)), None
        )
        if family is None:
            return
        buckets: dict[float, float] = {}
        for (name, labels), value in snap.values.items():
            if name != f"{family}_bucket":
                continue
            le = float(dict(labels).get("le", "inf"))
            old = prev.values.get((name, labels))
            buckets[le] = buckets.get(le, 0.0) + (delta(old, value) or 0.0)
        pairs = sorted(buckets.items())
        for q in PERCENTILES:
            self._put(f"hist_p{int(q * 100)}", rep.name, now, histogram_quantile(q, pairs))
        rep.percentile_source = f"histogram {family}"

    def _custom(self, replica: str, prev: Snapshot | None, snap: Snapshot, now: float, dt: float) -> None:
        self.custom_names.update(n for n in snap.names() if not n.endswith(("_bucket", "_count", "_sum")))
        name = self.watch_custom
        if not name:
            return
        value = snap.total(name)
        if snap.types.get(name) == "counter":
            d = delta(prev.total(name) if prev else None, value)
            value = d / dt if d is not None and dt > 0 else None
        self._put(f"custom:{name}", replica, now, value)

    def _prune(self, now: float) -> None:
        gone = [n for n, r in self.replicas.items() if now - r.last_seen > self.horizon]
        for name in gone:
            del self.replicas[name]
            for per in self.rings.values():
                per.pop(name, None)
