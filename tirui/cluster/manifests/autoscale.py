"""The autoscaler's metric entry and the prometheus-adapter rules for the choices of
:mod:`tirui.cluster.autoscale`."""

from __future__ import annotations

from typing import Any

from tirui.cluster.autoscale import CHOICES, requirement


def quantity(number: str) -> str:
    """A positive decimal in the HPA's quantity form ("0.5" → "500m", "20" → "20")."""
    value = float(number)
    if value == int(value):
        return str(int(value))
    return f"{round(value * 1000)}m"


def hpa_metric(metric: str, target: str) -> dict[str, Any]:
    """The ``spec.metrics`` entry of the HPA for a (valid) metric and target."""
    if metric == "cpu":
        return {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": int(target)}},
        }
    choice = CHOICES.get(metric)
    name = choice.hpa_metric if choice else metric
    value = quantity(target) if choice else target
    return {
        "type": "Pods",
        "pods": {"metric": {"name": name}, "target": {"type": "AverageValue", "averageValue": value}},
    }


def adapter_rule(metric: str) -> dict[str, Any] | None:
    """The prometheus-adapter rule (``rules:`` entry) serving the metric per pod; None for cpu
    (metrics-server) and for raw metrics (the expert brings the rule)."""
    choice = CHOICES.get(metric)
    if choice is None or not choice.query:
        return None
    return {
        "seriesQuery": f'{choice.series}{{namespace!="",pod!=""}}',
        "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
        "name": {"matches": f"^{choice.series}$", "as": choice.hpa_metric},
        "metricsQuery": choice.query,
    }


def adapter_rules_yaml(metrics: list[str]) -> str:
    """The prometheus-adapter ``rules:`` for these metrics (``tirui deploy --render
    --adapter-rules``), with a comment per rule saying what it derives."""
    import yaml

    out = ["# prometheus-adapter rules rendered by tirui: merge them into the adapter's config\n", "rules:\n"]
    for metric in dict.fromkeys(metrics):
        rule = adapter_rule(metric)
        if rule is None:
            out.append(f"# {metric}: {requirement(metric)}; no rule from tirui\n")
            continue
        out.append(f"# {metric}: {CHOICES[metric].help} ({CHOICES[metric].unit})\n")
        out.append(yaml.safe_dump([rule], sort_keys=False, width=1000))
    return "".join(out)
