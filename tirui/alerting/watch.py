"""The alert evaluation: every round, the rules of ``alerts.toml`` against every deployment.

Status rules (no ready replica, restarts) need only the deployment list; metric rules (p99, error
rate, queue time) keep a collector per deployment they concern, sharing the API-server budget.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tirui.metrics.alerts import Alert, Rule, evaluate, load_rules
from tirui.metrics.sampler import Sampler
from tirui.metrics.series import MetricsPipeline

if TYPE_CHECKING:
    from tirui.cluster.runtime import Runtime

METRIC_KINDS = frozenset({"p99-ms", "error-rate-pct", "queue-latency-ms"})


@dataclass
class Round:
    """What one round saw: the alerts firing, the (deployment, rule) pairs that had data, and
    the deployments listed (what :class:`tirui.alerting.book.Observation` books)."""

    alerts: list[Alert] = field(default_factory=list)
    decided: list[tuple[str, Rule]] = field(default_factory=list)
    deployments: list[str] = field(default_factory=list)


class AlertWatch:
    def __init__(self, rules_path: Path) -> None:
        self.rules_path = rules_path
        self._sampler: Sampler | None = None

    async def round(self, runtime: Runtime) -> Round:
        """One evaluation of every rule (AlertRuleError for an unusable rules file)."""
        rules = await asyncio.to_thread(load_rules, self.rules_path)
        if not rules:
            await self.aclose()
            return Round()
        statuses = await asyncio.to_thread(runtime.list)
        watched = {
            s.name: s.model
            for s in statuses
            if any(r.kind in METRIC_KINDS and r.applies_to(s.name) for r in rules)
        }
        if self._sampler is None or set(self._sampler.pipes) != set(watched):
            await self.aclose()
            self._sampler = Sampler(runtime, watched) if watched else None
        if self._sampler is not None:
            await self._sampler.round()
        pipes = self._sampler.pipes if self._sampler is not None else {}
        now = time.time()
        seen = Round(deployments=[s.name for s in statuses])
        for s in statuses:
            alerts, decided = evaluate(rules, s.name, pipes.get(s.name, MetricsPipeline()), s, now)
            seen.alerts += alerts
            seen.decided += [(s.name, r) for r in decided]
        return seen

    async def aclose(self) -> None:
        if self._sampler is not None:
            await self._sampler.aclose()
            self._sampler = None
