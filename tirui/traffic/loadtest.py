"""Load tests for the Playground, the TUI's load-test dialog and ``tirui bench``: HTTP or gRPC.

The requests are sent by worker processes (:mod:`tirui.traffic.engine`), one per core by default,
each with its own event loop; the caller's loop only merges their reports, so a TUI drawing the
run does not slow it and is not slowed by it. ``concurrency`` connections (gRPC: streams) share
a budget (a count or a duration). Without a rate it is a closed loop (each connection sends again
when answered); with ``rate`` an open loop: requests are due on a fixed schedule and timed from
it, so a stall shows in the percentiles. Latencies are kept as a log-bucket histogram (2% wide
buckets: percentiles within ~1%), per run and per second for the latency-over-time line.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from tirui.traffic.engine.load import PERCENTILES, LoadResult, LoadSpec, Progress

if TYPE_CHECKING:
    from tirui.torchserve.http import Api
    from tirui.torchserve.target import Target
    from tirui.traffic.playground import PlaygroundRequest


def spec_for_request(req: PlaygroundRequest, target: Target) -> LoadSpec:
    """The load spec that repeats a Playground request against ``target`` (its token and TLS
    settings, and a local canary's split unless the request names a version). Over gRPC it
    repeats the RPC the request names: Predictions, or StreamPredictions (ValueError for others)."""
    if req.protocol == "grpc":
        if req.preset not in ("Predictions", "StreamPredictions"):
            raise ValueError(f"a gRPC load test repeats Predictions or StreamPredictions, not {req.preset}")
        return LoadSpec(
            protocol="grpc",
            stream=req.preset == "StreamPredictions",
            url=target.grpc.inference_target,
            model=req.model,
            body=req.body,
            token=target.grpc.inference_token,
            tls=target.grpc.tls,
            verify=target.grpc.ca_file or True,
            headers={k: v for k, v in req.headers.items() if k.lower() != "content-type"},
        ).with_canary(target if not req.version else None)
    api: Api = "management" if req.api == "management" else "inference"
    return LoadSpec(
        url=target.http.base(api) + "/" + req.path.lstrip("/"),
        method=req.method,
        body=req.body,
        headers=dict(req.headers),
        token=target.http.token(api),
        verify=target.http.verify,
    ).with_canary(target)


def spec_for_model(
    target: Target,
    model: str,
    body: bytes,
    *,
    version: str = "",
    grpc: bool = False,
    headers: dict[str, str] | None = None,
) -> LoadSpec:
    """Predictions of ``model`` (``version`` when given) on ``target``, over HTTP or gRPC."""
    if grpc:
        return LoadSpec(
            protocol="grpc",
            url=target.grpc.inference_target,
            model=model,
            body=body,
            token=target.grpc.inference_token,
            tls=target.grpc.tls,
            verify=target.grpc.ca_file or True,
            headers=dict(headers or {}),
        )
    path = f"/predictions/{model}" + (f"/{version}" if version else "")
    return LoadSpec(
        url=target.http.inference_url + path,
        body=body,
        headers={"Content-Type": "application/json", **(headers or {})},
        token=target.http.inference_token,
        verify=target.http.verify,
    )


async def run_load(
    spec: LoadSpec,
    *,
    progress: Progress | None = None,
    every: float = 0.25,
    cancel: asyncio.Event | None = None,
) -> LoadResult:
    """Run the test in worker processes; ``progress`` gets the live result every ``every``
    seconds; set ``cancel`` to stop (what completed stays in the result)."""
    from tirui.traffic.engine.pool import run_pool

    spec.validate()
    cancel = cancel or asyncio.Event()
    result = LoadResult(mode="open" if spec.rate else "closed", rate=spec.rate, concurrency=spec.concurrency)
    await run_pool(spec, result, every=every, progress=progress, cancel=cancel)
    result.cancelled = cancel.is_set()
    return result


def compare(a: LoadResult, b: LoadResult) -> list[tuple[str, float, float, str]]:
    """``(what, a, b, change)`` for throughput and the latency percentiles of two runs."""

    def change(x: float, y: float) -> str:
        if x == 0:
            return "n/a"
        return f"{(y - x) / x * 100:+.1f}%"

    rows = [("throughput req/s", a.rps, b.rps, change(a.rps, b.rps))]
    for p in PERCENTILES:
        x, y = a.percentile(p) * 1000, b.percentile(p) * 1000
        rows.append((f"p{p} ms", x, y, change(x, y)))
    rows.append(("errors", float(a.errors), float(b.errors), change(a.errors, b.errors)))
    return rows
