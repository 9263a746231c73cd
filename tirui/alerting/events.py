"""One transition of one alert (it started firing, or it resolved), as channels send it and the
history keeps it."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from typing import Any

from tirui.metrics.alerts import Rule


def rule_key(deployment: str, rule: Rule) -> str:
    """What identifies one alert across rounds and restarts: the deployment and the rule."""
    return f"{deployment}|{rule.kind}|{rule.above:g}|{rule.for_s:g}"


def alertname(kind: str) -> str:
    """``p99-ms`` → ``TiruiP99Ms`` (the name the PrometheusRule gives the same rule)."""
    return "Tirui" + "".join(p.capitalize() for p in re.split(r"[-_]", kind))


@dataclass(frozen=True)
class AlertEvent:
    status: str
    """``firing`` or ``resolved``."""
    key: str
    deployment: str
    kind: str
    rule: str
    """The rule in words (``p99 latency above 250 ms over 60 s``)."""
    value: float
    """The value at the transition (for a resolve: the last value seen while firing)."""
    peak: float
    started: float
    ended: float = 0.0
    """When it resolved (0 while firing)."""

    @property
    def alertname(self) -> str:
        return alertname(self.kind)

    def line(self) -> str:
        shown = "" if self.kind == "no-ready" else f" (value {self.value:.4g}, peak {self.peak:.4g})"
        return f"{self.deployment}: {self.rule}{shown}"

    def text(self) -> str:
        start = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(self.started))
        lines = [f"{self.status}: {self.line()}", f"rule: {self.rule}", f"since: {start}"]
        if self.ended:
            lines.append("resolved: " + time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(self.ended)))
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> AlertEvent:
        return cls(
            str(doc["status"]),
            str(doc["key"]),
            str(doc["deployment"]),
            str(doc["kind"]),
            str(doc["rule"]),
            float(doc["value"]),
            float(doc["peak"]),
            float(doc["started"]),
            float(doc.get("ended", 0.0)),
        )


def history_lines(events: list[AlertEvent]) -> list[str]:
    """The history as a table: start, end (or ``firing``), peak, the alert (CLI and TUI alike)."""

    def when(at: float) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))

    lines = [f"{'STARTED':<19}  {'ENDED':<19}  {'PEAK':>9}  ALERT"]
    for e in events:
        peak = "" if e.kind == "no-ready" else f"{e.peak:.4g}"
        ended = when(e.ended) if e.ended else "firing"
        lines.append(f"{when(e.started):<19}  {ended:<19}  {peak:>9}  {e.deployment}: {e.rule}")
    return lines
