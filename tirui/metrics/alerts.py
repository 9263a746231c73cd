"""Alert rules per deployment, evaluated from what the Metrics collector already reads.

Rules live in ``alerts.toml`` in the config dir (one ``[[alert]]`` table each)::

    [[alert]]
    deployment = "resnet"      # or "*" for every deployment
    kind = "p99-ms"            # p99-ms, error-rate-pct, queue-latency-ms, no-ready, restarts
    above = 250                # ms, %, ms, (unused), restarts
    for = "60s"                # how long the condition must hold (the window looked at)

p99 and the error rate come from the access log's inference lines over the last ``for`` seconds
(exact per-request latencies, gRPC included); queue latency from TorchServe's counters; no-ready and
restarts from the deployment's status. :func:`prometheus_rule` renders the same rules for clusters
that run the Prometheus operator (a ``PrometheusRule``); Prometheus sees no per-request latency from
TorchServe, so there the p99 rule watches the average latency and says so.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tirui.metrics.series import MetricsPipeline

KINDS = {
    "p99-ms": "p99 latency above {above:g} ms over {for_s:g} s",
    "error-rate-pct": "errors above {above:g}% of requests over {for_s:g} s",
    "queue-latency-ms": "average queue time above {above:g} ms",
    "no-ready": "no ready replica",
    "restarts": "more than {above:g} restart(s)",
}
DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smh])$")


class AlertRuleError(ValueError):
    """A rules file that cannot be used; the message names the file, the rule and the problem."""


@dataclass(frozen=True)
class Rule:
    deployment: str
    kind: str
    above: float = 0.0
    for_s: float = 60.0

    def text(self) -> str:
        return KINDS[self.kind].format(above=self.above, for_s=self.for_s)

    def applies_to(self, deployment: str) -> bool:
        return self.deployment in ("*", deployment)


@dataclass(frozen=True)
class Alert:
    deployment: str
    rule: Rule
    value: float

    def line(self) -> str:
        shown = "" if self.rule.kind == "no-ready" else f" (now {self.value:.4g})"
        return f"{self.deployment}: {self.rule.text()}{shown}"


def _seconds(text: object, where: str) -> float:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    m = DURATION.match(str(text).strip())
    if m is None:
        raise AlertRuleError(f"{where}: for = {text!r} is not a duration (30s, 5m, 1h)")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]


def parse_rules(text: str, where: str = "alerts.toml") -> list[Rule]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AlertRuleError(f"{where}: {exc}") from None
    rules = []
    for i, item in enumerate(doc.get("alert", []), 1):
        at = f"{where}, alert #{i}"
        kind = str(item.get("kind", ""))
        if kind not in KINDS:
            raise AlertRuleError(f"{at}: kind {kind!r} is not one of {', '.join(KINDS)}")
        above = item.get("above", 0)
        if kind != "no-ready" and (
            isinstance(above, bool) or not isinstance(above, (int, float)) or above < 0
        ):
            raise AlertRuleError(f"{at}: above = {above!r} is not a number of 0 or more")
        unknown = set(item) - {"deployment", "kind", "above", "for"}
        if unknown:
            raise AlertRuleError(f"{at}: unknown key(s) {', '.join(sorted(unknown))}")
        rules.append(
            Rule(str(item.get("deployment", "*")), kind, float(above), _seconds(item.get("for", "60s"), at))
        )
    return rules


def read_rules_file(path: Path) -> str:
    """The text of an alerts file ("" when it does not exist; AlertRuleError when unreadable)."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise AlertRuleError(f"{path}: {exc.strerror or exc}") from None


def load_rules(path: Path) -> list[Rule]:
    """The rules of ``path``; none when it does not exist."""
    return parse_rules(read_rules_file(path), str(path))


class Observed(Protocol):
    """What the status rules read of a deployment (a runtime's ``DeploymentStatus``)."""

    @property
    def status(self) -> str: ...
    @property
    def desired(self) -> int: ...
    @property
    def ready(self) -> int: ...
    @property
    def restarts(self) -> int: ...


def observe(rule: Rule, pipeline: MetricsPipeline, status: Observed, now: float) -> float | None:
    """The value ``rule`` compares (None: no data, e.g. no request in the window)."""
    if rule.kind == "p99-ms":
        value = pipeline.percentiles(rule.for_s, now)[0.99]
        return float(value) if value is not None else None
    if rule.kind == "error-rate-pct":
        log = pipeline.aggregate_log
        if not log.seen:
            return None
        rates = log.rates(rule.for_s, now)
        rps, errors = rates.get("rps") or 0.0, rates.get("errors") or 0.0
        return errors / rps * 100 if rps else None
    if rule.kind == "queue-latency-ms":
        value = pipeline.latest("queue_avg")
        return float(value) if value is not None else None
    if rule.kind == "no-ready":
        stopped = status.status == "Stopped"  # stopped on purpose (local): not an outage
        return 1.0 if status.desired > 0 and status.ready == 0 and not stopped else 0.0
    return float(status.restarts)


def evaluate(
    rules: list[Rule], deployment: str, pipeline: MetricsPipeline, status: Observed, now: float
) -> tuple[list[Alert], list[Rule]]:
    """(the alerts of ``deployment`` whose condition holds now, every rule that had data to
    decide on: a rule without data neither fires nor resolves)."""
    alerts, decided = [], []
    for rule in rules:
        if not rule.applies_to(deployment):
            continue
        value = observe(rule, pipeline, status, now)
        if value is None:
            continue
        decided.append(rule)
        if (rule.kind == "no-ready" and value) or (rule.kind != "no-ready" and value > rule.above):
            alerts.append(Alert(deployment, rule, value))
    return alerts, decided


def firing(
    rules: list[Rule], deployment: str, pipeline: MetricsPipeline, status: Observed, now: float
) -> list[Alert]:
    """The rules of ``deployment`` whose condition holds now (over their window)."""
    return evaluate(rules, deployment, pipeline, status, now)[0]


def _ratio(top: str, bottom: str, sel: str, window: str) -> str:
    def rate(metric: str) -> str:
        return f"sum(rate({metric}{{{sel}}}[{window}]))"

    return f"{rate(top)} / clamp_min({rate(bottom)}, 1e-9)"


AVERAGE_NOTE = (
    "average inference latency: TorchServe exports no per-request latencies "
    "(tirui alerts checks the p99 from the access log)"
)


def _expr(rule: Rule, deployment: str, namespace: str) -> tuple[str, str]:
    """(PromQL, what it watches) for one deployment."""
    sel = f'namespace="{namespace}",pod=~"{deployment}-.*"'
    window = f"{max(int(rule.for_s), 60)}s"
    limit = f"{rule.above:g}"
    if rule.kind == "p99-ms":
        ratio = _ratio("ts_inference_latency_microseconds", "ts_inference_requests_total", sel, window)
        return f"{ratio} / 1000 > {limit}", AVERAGE_NOTE
    if rule.kind == "error-rate-pct":
        errors = f'sum(rate({{__name__=~"Requests[45]XX",{sel}}}[{window}]))'
        total = f'sum(rate({{__name__=~"Requests[245]XX",{sel}}}[{window}]))'
        expr = f"100 * {errors} / clamp_min({total}, 1e-9) > {limit}"
        return expr, "error share of all responses (TorchServe's counters include probes and scrapes)"
    if rule.kind == "queue-latency-ms":
        ratio = _ratio("ts_queue_latency_microseconds", "ts_inference_requests_total", sel, window)
        return f"{ratio} / 1000 > {limit}", "average queue time per request"
    if rule.kind == "no-ready":
        which = f'namespace="{namespace}",deployment="{deployment}"'
        return (
            f"kube_deployment_status_replicas_available{{{which}}} == 0",
            "available replicas (kube-state-metrics)",
        )
    expr = f"sum(increase(kube_pod_container_status_restarts_total{{{sel}}}[{window}])) > {limit}"
    return expr, "container restarts (kube-state-metrics)"


HELD = ("p99-ms", "error-rate-pct", "no-ready")
"""Kinds whose condition must hold ``for`` a while (the others are windows already)."""


def prometheus_rule(rules: list[Rule], deployments: list[str], namespace: str) -> dict[str, Any]:
    """A ``monitoring.coreos.com/v1`` PrometheusRule with one alert per rule and deployment."""
    alerts = []
    for rule in rules:
        for deployment in deployments:
            if not rule.applies_to(deployment):
                continue
            expr, watches = _expr(rule, deployment, namespace)
            name = "Tirui" + "".join(p.capitalize() for p in re.split(r"[-_]", rule.kind))
            alerts.append(
                {
                    "alert": name,
                    "expr": expr,
                    "for": f"{int(rule.for_s)}s"
                    if rule.kind in ("p99-ms", "error-rate-pct", "no-ready")
                    else "0s",
                    "labels": {"severity": "warning", "tirui_deployment": deployment},
                    "annotations": {"summary": f"{deployment}: {rule.text()}", "description": watches},
                }
            )
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "tirui-alerts",
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "tirui"},
        },
        "spec": {"groups": [{"name": "tirui", "rules": alerts}]},
    }
