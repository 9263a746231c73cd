"""Metrics of several deployments at once (``tirui top``, ``tirui alerts``, the alert watch)."""

from __future__ import annotations

import asyncio
from typing import Protocol

from tirui.metrics.collector import Collector, ReplicaSource
from tirui.metrics.series import MetricsPipeline


class MetricsSources(Protocol):
    """Where a deployment's metrics come from (every runtime is one)."""

    def metrics_sources(self, name: str) -> list[ReplicaSource]: ...


class Sampler:
    """One collector per deployment, sharing the API-server budget (10 requests/s in all); the
    access logs' recent history is read at once, so windows have data from the first round."""

    def __init__(self, runtime: MetricsSources, models: dict[str, str]) -> None:
        self.runtime = runtime
        self.pipes = {n: MetricsPipeline(model=m) for n, m in models.items()}
        budget = max(1, 10 // max(1, len(models)))
        self.collectors = {
            n: Collector(p, backfill=256 * 1024, api_budget=budget) for n, p in self.pipes.items()
        }

    async def round(self) -> None:
        for name, collector in self.collectors.items():
            sources = await asyncio.to_thread(self.runtime.metrics_sources, name)
            await collector.collect(sources)

    @property
    def sampling(self) -> list[str]:
        return sorted({c.sampling for c in self.collectors.values() if c.sampling})

    async def aclose(self) -> None:
        for c in self.collectors.values():
            await c.aclose()
