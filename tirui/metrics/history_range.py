"""Long windows (1h, 6h, 24h, 7d) of a deployment's charts from Prometheus ``query_range``.

tirui itself keeps 15 minutes (what it collected since it started); a Prometheus that scrapes
the pods keeps days. The series are the Metrics screen's, from TorchServe's own counters and
gauges: average latency and queue time, inference requests per second, responses by class
(TorchServe's ``Requests2XX/4XX/5XX``, which count probes and scrapes too), CPU, memory and GPU.
Prometheus sees no per-request latency from TorchServe, so there is no p50/p99 here: the average
latency is what the alert rules' p99 watches on Prometheus (:data:`tirui.metrics.alerts.AVERAGE_NOTE`).
The step follows the chart's width, so one point is about one braille dot.
"""

from __future__ import annotations

import math

from tirui.metrics.promql import PrometheusSource
from tirui.metrics.scrape import ScrapeError

LONG_WINDOWS = {3600: "1h", 21600: "6h", 86400: "24h", 604800: "7d"}
MIN_STEP = 15
"""Seconds: finer than Prometheus' usual scrape interval means nothing."""

Points = list[tuple[float, float | None]]


def step_for(window: float, width: int) -> int:
    """Seconds per point for a chart ``width`` cells wide (two braille dots a cell)."""
    return max(MIN_STEP, math.ceil(window / max(2 * width, 40)))


def pods_of(deployment: str) -> str:
    """The pods of a Deployment (``<name>-<replicaset hash>-<suffix>``), not its canary's."""
    return f"{deployment}-[a-z0-9]+-[a-z0-9]+"


def queries(namespace: str, deployment: str, step: int) -> dict[str, str]:
    """PromQL per chart series (keys as in :class:`~tirui.metrics.series.MetricsPipeline`)."""
    sel = f'namespace="{namespace}",pod=~"{pods_of(deployment)}"'
    r = f"[{max(step, 60)}s]"  # a rate needs two scrapes in its range

    def rate(name: str) -> str:
        return f"sum(rate({name}{{{sel}}}{r}))"

    def per_request(name: str) -> str:
        return f"{rate(name)} / clamp_min({rate('ts_inference_requests_total')}, 1e-9) / 1000"

    out = {
        "latency_avg": per_request("ts_inference_latency_microseconds"),
        "queue_avg": per_request("ts_queue_latency_microseconds"),
        "rps": rate("ts_inference_requests_total"),
    }
    for code in ("2", "4", "5"):
        out[f"{code}xx"] = f'sum(rate({{__name__=~"Requests{code}XX(_total)?",{sel}}}{r}))'
    for key, gauge in (
        ("cpu", "CPUUtilization"),
        ("mem", "MemoryUtilization"),
        ("gpu", "GPUUtilization"),
        ("gpu_mem", "GPUMemoryUtilization"),
    ):
        out[key] = f"avg({gauge}{{{sel}}})"
    return out


def _points(data: object) -> Points:
    result = (data.get("result") if isinstance(data, dict) else None) or []
    if not result:
        return []
    out: Points = []
    for at, value in result[0].get("values", []):
        try:
            v: float | None = float(value)
        except (TypeError, ValueError):
            v = None
        out.append((float(at), None if v is None or math.isnan(v) or math.isinf(v) else v))
    return out


def fetch_range(
    source: PrometheusSource, namespace: str, deployment: str, window: int, now: float, width: int
) -> dict[str, Points]:
    """Every series over the last ``window`` seconds (blocking: run it in a thread); a series
    Prometheus has nothing for is empty. ScrapeError when Prometheus does not answer."""
    step = step_for(window, width)
    end = math.floor(now / step) * step  # aligned: the same points from one redraw to the next
    params = {"start": str(end - window), "end": str(end), "step": str(step)}
    return {
        key: _points(source.get("/api/v1/query_range", {**params, "query": query}))
        for key, query in queries(namespace, deployment, step).items()
    }


__all__ = ["LONG_WINDOWS", "ScrapeError", "fetch_range", "queries", "step_for"]
