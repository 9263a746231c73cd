"""The load-test engine shared by the Playground and ``tirui bench``: HTTP (aiohttp) or gRPC.

``concurrency`` workers share one request budget (a count or a duration) and an optional rate
limit; every request's latency and outcome is recorded. aiohttp was chosen over httpx by
measurement (``benchmarks/loadtest_vs_hey.py``): httpx's per-request overhead kept it well under
hey on this machine, aiohttp reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

PERCENTILES = (50, 90, 99)


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
    """Requests per second across all workers; None means as fast as possible."""
    timeout: float = 30.0
    tls: bool = False
    canary_version: str = ""
    canary_weight: int = 0
    """A local canary: this percentage of the requests go to that model version (HTTP: the URL
    gains ``/<version>`` when it names none; gRPC: ``model_version``)."""
    canary_source: Callable[[], tuple[str, int]] | None = None
    """Asked about once a second during the run for (version, weight): the split follows a
    canary analysis moving the weight meanwhile."""

    def with_canary(self, target: Any, follow: Callable[[], Any] | None = None) -> LoadSpec:
        """Split like ``target`` says (a local canary) and, with ``follow`` (returns the current
        target), keep following it; a URL naming a version is left alone."""
        self.canary_version = getattr(target, "canary_version", "")
        self.canary_weight = getattr(target, "canary_weight", 0)
        if follow is not None:

            def source() -> tuple[str, int]:
                now = follow()
                return getattr(now, "canary_version", ""), getattr(now, "canary_weight", 0)

            self.canary_source = source
        return self

    def _canary_url(self) -> str:
        from tirui.torchserve.target import versioned_path

        return versioned_path(self.url, self.canary_version)

    def _to_canary(self) -> bool:
        from tirui.torchserve.target import takes_canary

        return takes_canary(self.canary_weight)

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
            raise ValueError("the rate limit must be positive")
        if not self.url:
            raise ValueError("no target URL")


@dataclass
class LoadResult:
    """Outcome of a run (or of the part done so far, for live progress)."""

    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    """Seconds, successful and failed requests alike, in completion order."""
    statuses: Counter[str] = field(default_factory=Counter)
    """``"200"``, ``"503"``, ``"OK"``, ``"UNAVAILABLE"`` or an error kind such as ``"connection"``."""
    ok: int = 0
    bytes_received: int = 0
    cancelled: bool = False

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def errors(self) -> int:
        return self.count - self.ok

    @property
    def rps(self) -> float:
        return self.count / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in seconds (0 when empty)."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
        return ordered[rank - 1]

    def histogram(self, bins: int = 20) -> list[tuple[float, int]]:
        """``(upper bound in seconds, count)`` over equal-width bins from min to max."""
        if not self.latencies:
            return []
        lo, hi = min(self.latencies), max(self.latencies)
        width = (hi - lo) / bins or 1e-9
        counts = [0] * bins
        for v in self.latencies:
            counts[min(bins - 1, int((v - lo) / width))] += 1
        return [(lo + width * (i + 1), c) for i, c in enumerate(counts)]

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers (latencies in milliseconds)."""
        return {
            "requests": self.count,
            "ok": self.ok,
            "errors": self.errors,
            "elapsed_s": round(self.elapsed, 4),
            "rps": round(self.rps, 2),
            "latency_ms": {
                **{f"p{p}": round(self.percentile(p) * 1000, 3) for p in PERCENTILES},
                "max": round(max(self.latencies, default=0) * 1000, 3),
                "mean": round(sum(self.latencies) / self.count * 1000, 3) if self.count else 0,
            },
            "statuses": dict(self.statuses),
            "histogram_ms": [(round(b * 1000, 3), c) for b, c in self.histogram()],
            "cancelled": self.cancelled,
        }

    def to_json(self) -> str:
        return json.dumps(self.summary(), indent=2)


Progress = Callable[[LoadResult], None]


class _Budget:
    """Hands out request slots until the count or the duration is used up; paces a rate limit."""

    def __init__(self, spec: LoadSpec, cancel: asyncio.Event) -> None:
        self.spec = spec
        self.cancel = cancel
        self.issued = 0
        self.start = time.perf_counter()

    async def take(self) -> bool:
        if self.cancel.is_set():
            return False
        spec = self.spec
        if spec.requests is not None and self.issued >= spec.requests:
            return False
        now = time.perf_counter()
        if spec.duration is not None and now - self.start >= spec.duration:
            return False
        slot = self.issued
        self.issued += 1
        if spec.rate:
            wait = self.start + slot / spec.rate - now
            if wait > 0:
                await asyncio.sleep(wait)
        return True


async def _http_workers(spec: LoadSpec, budget: _Budget, result: LoadResult) -> None:
    import aiohttp

    headers = dict(spec.headers)
    if spec.token and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = f"Bearer {spec.token}"
    connector = aiohttp.TCPConnector(limit=spec.concurrency, ttl_dns_cache=300)
    timeout = aiohttp.ClientTimeout(total=spec.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as session:

        async def worker() -> None:
            method, url, body = spec.method.upper(), spec.url, spec.body or None
            while await budget.take():
                t0 = time.perf_counter()
                try:
                    to = (spec._canary_url() or url) if spec.canary_version and spec._to_canary() else url
                    async with session.request(method, to, data=body) as r:
                        payload = await r.read()
                    status = str(r.status)
                    good = r.status < 400
                    result.bytes_received += len(payload)
                except TimeoutError:
                    status, good = "timeout", False
                except aiohttp.ClientConnectorError:
                    status, good = "connection", False
                except aiohttp.ClientError as exc:
                    status, good = type(exc).__name__, False
                result.latencies.append(time.perf_counter() - t0)
                result.statuses[status] += 1
                result.ok += good

        await asyncio.gather(*(worker() for _ in range(spec.concurrency)))


async def _grpc_workers(spec: LoadSpec, budget: _Budget, result: LoadResult) -> None:
    import grpc
    import grpc.aio

    from tirui.torchserve.protos import inference_pb2, inference_pb2_grpc

    channel = (
        grpc.aio.secure_channel(spec.url, grpc.ssl_channel_credentials())
        if spec.tls
        else grpc.aio.insecure_channel(spec.url)
    )
    stub = inference_pb2_grpc.InferenceAPIsServiceStub(channel)
    metadata = [(k.lower(), v) for k, v in spec.headers.items()]
    if spec.token:
        metadata.append(("authorization", f"Bearer {spec.token}"))
    request = inference_pb2.PredictionsRequest(model_name=spec.model, input={"data": spec.body})
    canaries: dict[str, Any] = {}

    def canary() -> Any:
        if spec.canary_version not in canaries:
            canaries[spec.canary_version] = inference_pb2.PredictionsRequest(
                model_name=spec.model, model_version=spec.canary_version, input={"data": spec.body}
            )
        return canaries[spec.canary_version]

    async def worker() -> None:
        while await budget.take():
            t0 = time.perf_counter()
            try:
                message = canary() if spec.canary_version and spec._to_canary() else request
                response = await stub.Predictions(message, metadata=metadata, timeout=spec.timeout)
                result.bytes_received += len(response.prediction)
                status, good = "OK", True
            except grpc.aio.AioRpcError as exc:
                status, good = exc.code().name, False
            result.latencies.append(time.perf_counter() - t0)
            result.statuses[status] += 1
            result.ok += good

    try:
        await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
    finally:
        await channel.close()


async def run_load(
    spec: LoadSpec,
    *,
    progress: Progress | None = None,
    every: float = 0.25,
    cancel: asyncio.Event | None = None,
) -> LoadResult:
    """Run the test; ``progress`` gets the live result every ``every`` seconds; set ``cancel`` to stop."""
    spec.validate()
    cancel = cancel or asyncio.Event()
    result = LoadResult()
    budget = _Budget(spec, cancel)
    runner = _http_workers if spec.protocol == "http" else _grpc_workers
    task = asyncio.ensure_future(runner(spec, budget, result))
    try:
        followed = time.perf_counter()
        while not task.done():
            await asyncio.wait([task], timeout=every)
            if spec.canary_source is not None and time.perf_counter() - followed >= 1.0:
                followed = time.perf_counter()
                with contextlib.suppress(Exception):  # the split stays as it was; the load goes on
                    spec.canary_version, spec.canary_weight = await asyncio.to_thread(spec.canary_source)
            result.elapsed = time.perf_counter() - budget.start
            if progress is not None and not task.done():
                progress(result)
        await task
    finally:
        if not task.done():
            task.cancel()
    result.elapsed = time.perf_counter() - budget.start
    result.cancelled = cancel.is_set()
    return result
