"""What a load test is and what it gave: :class:`LoadSpec` (what to send and how hard) and
:class:`LoadResult` (counts, log-bucket histograms, per-second lines; saved and read back as
JSON): the engine's model, filled in by its pool (:mod:`~tirui.traffic.engine.pool`) and
started by :mod:`tirui.traffic.loadtest`."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tirui.metrics.quantiles import LogHistogram
from tirui.traffic.engine.grpc_wire import grpc_address

if TYPE_CHECKING:
    from tirui.torchserve.target import Target

PERCENTILES = (50, 90, 99)


def max_workers() -> int:
    """More worker processes than this only share the same cores."""
    return 4 * (os.cpu_count() or 1)


@dataclass
class LoadSpec:
    """What to send and how hard."""

    protocol: Literal["http", "grpc"] = "http"
    url: str = ""
    """HTTP: the full URL. gRPC: ``host:port`` of the inference API."""
    method: str = "POST"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    model: str = ""
    """gRPC: the model name (its input goes as ``input["data"]``)."""
    token: str | None = None
    requests: int | None = 200
    duration: float | None = None
    concurrency: int = 8
    rate: float | None = None
    """Requests per second across all workers, on schedule (open loop); None: closed loop."""
    timeout: float = 30.0
    tls: bool = False
    verify: bool | str = True
    """TLS: check the server's certificate (True), not (False), or against this CA file."""
    workers: int = 0
    """Worker processes (0: one per core; never more than the connections)."""
    stream: bool = False
    """gRPC: StreamPredictions (time to first chunk recorded too) instead of Predictions."""
    canary_version: str = ""
    canary_weight: int = 0
    """A local canary: this percentage of the requests go to that model version (HTTP: the URL
    gains ``/<version>`` when it names none; gRPC: ``model_version``)."""
    canary_source: Callable[[], tuple[str, int]] | None = None
    """Asked about once a second during the run for (version, weight): the split follows a
    canary analysis moving the weight meanwhile."""

    def with_canary(
        self, target: Target | None, follow: Callable[[], Target | None] | None = None
    ) -> LoadSpec:
        """Split like ``target`` says (a local canary; None: no split) and, with ``follow``
        (returns the current target), keep following it; a URL naming a version is left alone."""
        self.canary_version = target.canary_version if target is not None else ""
        self.canary_weight = target.canary_weight if target is not None else 0
        if follow is not None:

            def source() -> tuple[str, int]:
                now = follow()  # None: the deployment went; no split
                return (now.canary_version, now.canary_weight) if now is not None else ("", 0)

            self.canary_source = source
        return self

    def canary_url(self) -> str:
        """The URL of the canary's version ("" when the URL names a version or is not predict)."""
        from tirui.torchserve.target import versioned_path

        return versioned_path(self.url, self.canary_version) if self.canary_version else ""

    def validate(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.requests is None and self.duration is None:
            raise ValueError("give a request count or a duration")
        if self.requests is not None and self.requests < 1:
            raise ValueError("the request count must be at least 1")
        if self.duration is not None and self.duration <= 0:
            raise ValueError("the duration must be positive")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("the rate must be positive")
        if self.workers < 0:
            raise ValueError("workers must be 0 (one per core) or more")
        if self.workers > max_workers():
            raise ValueError(f"at most {max_workers()} worker processes here (4 per core)")
        if self.stream and self.protocol != "grpc":
            raise ValueError("streaming load tests are gRPC (StreamPredictions)")
        if not self.url:
            raise ValueError("no target URL")
        if self.protocol == "grpc":
            grpc_address(self.url, self.tls)  # raises ValueError naming what is wrong


@dataclass
class LoadResult:
    """Outcome of a run (or of the part done so far, for live progress)."""

    elapsed: float = 0.0
    count: int = 0
    """Requests completed, failed ones included."""
    ok: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    """``"200"``, ``"503"``, ``"OK"``, ``"UNAVAILABLE"`` or an error kind: ``"connection"``,
    ``"timeout"``, or the name of what could not be read."""
    bytes_received: int = 0
    hist: LogHistogram = field(default_factory=LogHistogram)
    """Latencies in seconds (open loop: from each request's due time)."""
    first_chunk: LogHistogram = field(default_factory=LogHistogram)
    """gRPC streams: time to the first chunk."""
    max_latency: float = 0.0
    seconds: dict[int, LogHistogram] = field(default_factory=dict)
    """Latencies of the requests that completed in each second of the run."""
    second_errors: dict[int, int] = field(default_factory=dict)
    cancelled: bool = False
    workers: int = 0
    mode: str = "closed"
    rate: float | None = None
    concurrency: int = 0
    started: float = 0.0
    """Wall-clock time (epoch seconds) the workers were told to go."""

    @property
    def errors(self) -> int:
        return self.count - self.ok

    @property
    def rps(self) -> float:
        return self.count / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile latency in seconds (nearest rank on the histogram, never above
        the slowest request; 0 when empty)."""
        value = self.hist.quantile(p / 100)
        return min(value, self.max_latency) if self.max_latency > 0 else value

    def histogram(self, bins: int = 20) -> list[tuple[float, int]]:
        """``(upper bound in seconds, count)`` over equal-width bins from min to max."""
        buckets = self.hist.bins()
        if not buckets:
            return []
        lo, hi = buckets[0][0], max(self.max_latency, buckets[-1][0])
        width = (hi - lo) / bins or 1e-9
        counts = [0] * bins
        for low, high, count in buckets:
            middle = min(max((low + high) / 2, lo), hi)
            counts[min(bins - 1, int((middle - lo) / width))] += count
        return [(lo + width * (i + 1), c) for i, c in enumerate(counts)]

    def timeline(self) -> list[dict[str, Any]]:
        """Per second of the run: requests completed, errors, p50 and p99 (ms)."""
        return [
            {
                "second": sec,
                "requests": h.total,
                "errors": self.second_errors.get(sec, 0),
                "p50_ms": round(h.quantile(0.5) * 1000, 3),
                "p99_ms": round(h.quantile(0.99) * 1000, 3),
            }
            for sec, h in sorted(self.seconds.items())
        ]

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers (latencies in milliseconds; ``histogram`` is the log buckets)."""
        doc: dict[str, Any] = {
            "requests": self.count,
            "ok": self.ok,
            "errors": self.errors,
            "elapsed_s": round(self.elapsed, 4),
            "rps": round(self.rps, 2),
            "mode": self.mode,
            "rate": self.rate,
            "concurrency": self.concurrency,
            "workers": self.workers,
            "started": self.started,
            "latency_ms": {
                **{f"p{p}": round(self.percentile(p) * 1000, 3) for p in PERCENTILES},
                "max": round(self.max_latency * 1000, 3),
            },
            "statuses": dict(self.statuses),
            "bytes_received": self.bytes_received,
            "histogram_ms": [(round(b * 1000, 3), c) for b, c in self.histogram()],
            "histogram": {"unit": "s", "growth": 1.02, "buckets": self.hist.to_json()},
            "timeline": self.timeline(),
            "cancelled": self.cancelled,
        }
        if self.first_chunk.total:
            doc["first_chunk_ms"] = {
                f"p{p}": round(self.first_chunk.quantile(p / 100) * 1000, 3) for p in PERCENTILES
            }
            doc["first_chunk"] = self.first_chunk.to_json()
        return doc

    def to_json(self) -> str:
        return json.dumps(self.summary(), indent=2)

    @classmethod
    def from_summary(cls, doc: dict[str, Any]) -> LoadResult:
        """A saved run (``to_json``) read back: counts, histogram and timeline as they were."""
        try:
            r = cls(
                elapsed=float(doc["elapsed_s"]),
                count=int(doc["requests"]),
                ok=int(doc["ok"]),
                statuses=Counter({str(k): int(v) for k, v in doc["statuses"].items()}),
                bytes_received=int(doc.get("bytes_received", 0)),
                hist=LogHistogram.from_json(doc["histogram"]["buckets"]),
                first_chunk=LogHistogram.from_json(doc.get("first_chunk", {})),
                max_latency=float(doc["latency_ms"]["max"]) / 1000,
                cancelled=bool(doc.get("cancelled", False)),
                workers=int(doc.get("workers", 0)),
                mode=str(doc.get("mode", "closed")),
                rate=doc.get("rate"),
                concurrency=int(doc.get("concurrency", 0)),
                started=float(doc.get("started", 0.0)),
            )
            for entry in doc.get("timeline", []):
                r.second_errors[int(entry["second"])] = int(entry["errors"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a tirui load test result ({type(exc).__name__}: {exc})") from None
        r.timeline_saved = list(doc.get("timeline", []))
        return r

    timeline_saved: list[dict[str, Any]] = field(default_factory=list)
    """A saved run's per-second lines (its per-second histograms are not saved)."""


Progress = Callable[[LoadResult], None]
