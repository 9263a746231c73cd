"""Autoscale metrics that mean something: the named choices a user picks, and what each needs.
Their HPA metric and prometheus-adapter rule are rendered by :mod:`tirui.cluster.manifests.autoscale`.

TorchServe exports its request, latency and queue figures as **counters** (they only grow), so an
HPA fed with one of them directly scales to its maximum and stays there. The named choices below
are rates and ratios derived from those counters by a prometheus-adapter rule, in human units:

=====================  =============================================  ===========================
choice (``=target``)   what the HPA keeps at the target, per pod      what the cluster must run
=====================  =============================================  ===========================
``cpu=70``             CPU utilisation, % of the request              metrics-server
``gpu=80``             GPU utilisation, % (DCGM_FI_DEV_GPU_UTIL)      dcgm-exporter + adapter
``queue-latency-ms``   average queue time per request, last minute    Prometheus + adapter
``inflight``           requests in flight at the auth proxy           Prometheus + adapter
``requests-per-s``     inference requests per second, last minute     Prometheus + adapter
``<metric name>``      a Pods metric the adapter already serves       (experts) its adapter rule
=====================  =============================================  ===========================

The adapter rules assume Prometheus scrapes the pods with ``namespace`` and ``pod`` labels (as the
Prometheus operator's PodMonitor and the common ``prometheus.io/scrape`` annotation jobs do):
TorchServe's metrics on port ``metrics`` (8082) and, for ``inflight``, the proxy's on port
``proxy-metrics``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tirui.cluster.quantities import QUANTITY_RE
from tirui.metrics.scrape import PROXY_INFLIGHT

GPU_METRIC = "DCGM_FI_DEV_GPU_UTIL"
TORCHSERVE_COUNTERS = frozenset(
    {
        "ts_inference_requests_total",
        "ts_inference_latency_microseconds",
        "ts_queue_latency_microseconds",
        "Requests2XX",
        "Requests4XX",
        "Requests5XX",
    }
)
METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
NUMBER_RE = re.compile(r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)$")


@dataclass(frozen=True)
class Choice:
    """One named autoscale metric."""

    name: str
    hpa_metric: str
    """The Pods metric name the HPA asks custom.metrics.k8s.io for ("" for cpu)."""
    unit: str
    help: str
    requires: str
    query: str = ""
    """The adapter's metricsQuery (Go template over <<.LabelMatchers>> / <<.GroupBy>>)."""
    series: str = ""
    """The series the adapter discovers the metric from."""


_PER_POD = "sum({expr}) by (<<.GroupBy>>)"
CHOICES: dict[str, Choice] = {
    c.name: c
    for c in (
        Choice("cpu", "", "%", "CPU utilisation, % of the CPU request", "metrics-server (metrics.k8s.io)"),
        Choice(
            "gpu",
            GPU_METRIC,
            "%",
            "GPU utilisation, % (NVIDIA DCGM)",
            "NVIDIA dcgm-exporter scraped by Prometheus, and prometheus-adapter with the rule below",
            query=f"avg({GPU_METRIC}{{<<.LabelMatchers>>}}) by (<<.GroupBy>>)",
            series=GPU_METRIC,
        ),
        Choice(
            "queue-latency-ms",
            "tirui_queue_latency_ms",
            "ms",
            "average time a request waits in TorchServe's queue over the last minute",
            "Prometheus scraping TorchServe's metrics port, and prometheus-adapter with the rule below",
            query=(
                "sum(rate(ts_queue_latency_microseconds{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>) / 1000"
                " / clamp_min(sum(rate(ts_inference_requests_total{<<.LabelMatchers>>}[1m]))"
                " by (<<.GroupBy>>), 0.001)"
            ),
            series="ts_queue_latency_microseconds",
        ),
        Choice(
            "inflight",
            "tirui_inflight_requests",
            "requests",
            "requests in flight at the pod's auth proxy (REST and gRPC)",
            "Prometheus scraping the proxy-metrics port, and prometheus-adapter with the rule below",
            query=_PER_POD.format(expr=f"clamp_min({PROXY_INFLIGHT}{{<<.LabelMatchers>>}} - 1, 0)"),
            series=PROXY_INFLIGHT,
        ),
        Choice(
            "requests-per-s",
            "tirui_requests_per_second",
            "req/s",
            "inference requests per second over the last minute",
            "Prometheus scraping TorchServe's metrics port, and prometheus-adapter with the rule below",
            query=_PER_POD.format(expr="rate(ts_inference_requests_total{<<.LabelMatchers>>}[1m])"),
            series="ts_inference_requests_total",
        ),
    )
}
DEFAULT_TARGETS = {
    "cpu": "70",
    "gpu": "80",
    "queue-latency-ms": "50",
    "inflight": "4",
    "requests-per-s": "10",
}


class AutoscaleError(ValueError):
    """A metric or target that cannot work; the message says why and what to use."""


def parse_metric(text: str, target: str = "") -> tuple[str, str]:
    """``"queue-latency-ms=50"`` (or the metric and a separate target) → (metric, target), the
    target defaulting per metric; raises AutoscaleError for what cannot work."""
    metric, sep, inline = text.partition("=")
    metric, target = metric.strip(), (inline if sep else target).strip()
    target = target or DEFAULT_TARGETS.get(metric, "")
    problem = metric_problem(metric) or target_problem(metric, target)
    if problem:
        raise AutoscaleError(problem)
    return metric, target


def metric_problem(metric: str) -> str:
    if metric in CHOICES:
        return ""
    names = ", ".join(CHOICES)
    if not METRIC_NAME_RE.match(metric):
        return f"{metric!r} is not an autoscale metric: choose {names}, or name a Pods metric"
    if metric in TORCHSERVE_COUNTERS or metric.endswith(("_total", "_count", "_sum", "_bucket")):
        return (
            f"{metric} is a counter (it only grows), so an autoscaler on it scales to the maximum and "
            "stays there; use queue-latency-ms, inflight or requests-per-s (rates derived from "
            "TorchServe's counters by the adapter rule of tirui deploy --render --adapter-rules)"
        )
    return ""


def target_problem(metric: str, target: str) -> str:
    if metric in ("cpu", "gpu"):
        if not target.isdigit() or not 1 <= int(target) <= 100:
            return f"{target!r} is not a utilisation percentage (1-100)"
        return ""
    if metric in CHOICES:
        if not NUMBER_RE.match(target) or float(target) <= 0:
            return f"{target!r} is not a positive number of {CHOICES[metric].unit}"
        return ""
    if not target or not QUANTITY_RE.match(target):
        return f"{target!r} is not a quantity (e.g. 10, 500m)"
    return ""


def requirement(metric: str) -> str:
    """What the cluster must run for an autoscaler on ``metric``, in one sentence."""
    choice = CHOICES.get(metric)
    if choice is not None:
        return choice.requires
    return f"prometheus-adapter with a rule serving {metric} per pod (custom.metrics.k8s.io)"
