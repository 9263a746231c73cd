"""The TUI's alert watch: every round, the rules of ``alerts.toml`` against every deployment.

Status rules (no ready replica, restarts) need only the deployment list; metric rules (p99, error
rate, queue time) keep a collector per deployment they concern, sharing the API-server budget.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from tirui.metrics.alerts import Alert, firing, load_rules
from tirui.metrics.sampler import Sampler
from tirui.metrics.series import MetricsPipeline

METRIC_KINDS = frozenset({"p99-ms", "error-rate-pct", "queue-latency-ms"})


class AlertWatch:
    def __init__(self, rules_path: Path) -> None:
        self.rules_path = rules_path
        self._sampler: Sampler | None = None

    async def check(self, runtime: Any) -> list[Alert]:
        """The alerts firing now (AlertRuleError for an unusable rules file)."""
        rules = await asyncio.to_thread(load_rules, self.rules_path)
        if not rules:
            await self.aclose()
            return []
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
        return [
            a for s in statuses for a in firing(rules, s.name, pipes.get(s.name, MetricsPipeline()), s, now)
        ]

    async def aclose(self) -> None:
        if self._sampler is not None:
            await self._sampler.aclose()
            self._sampler = None
