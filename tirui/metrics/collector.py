"""One collection round: scrape every replica's metrics endpoint and read its access-log tail.

Scrapes run concurrently on the event loop (httpx async); file reads go to a thread. A replica
that fails contributes a gap and a note, never an exception.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from tirui.metrics.accesslog import LogTail
from tirui.metrics.scrape import ScrapeError, Snapshot, scrape
from tirui.metrics.series import MetricsPipeline, TickInput


@dataclass(frozen=True)
class ReplicaSource:
    """Where one replica's numbers come from."""

    name: str
    metrics_url: str
    access_log: Path | None = None


class Collector:
    def __init__(self, pipeline: MetricsPipeline, *, timeout: float = 2.0, backfill: int = 0) -> None:
        """``backfill``: bytes of each access log's recent history to read when first tailing it,
        so percentiles are there at once (the Metrics screen and ``tirui top`` use 256 KiB)."""
        import httpx

        self.pipeline = pipeline
        self.timeout = timeout
        self.backfill = backfill
        self.client = httpx.AsyncClient()
        self.tails: dict[str, LogTail] = {}

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _one(self, src: ReplicaSource) -> tuple[Snapshot | None, str]:
        try:
            return await scrape(self.client, src.metrics_url, self.timeout), ""
        except ScrapeError as exc:
            return None, str(exc)

    def _read_tails(self, sources: list[ReplicaSource]) -> dict[str, list]:  # type: ignore[type-arg]
        out = {}
        for src in sources:
            if src.access_log is None:
                continue
            tail = self.tails.get(src.name)
            if tail is None or tail.path != src.access_log:
                tail = self.tails[src.name] = LogTail(src.access_log, backfill=self.backfill)
            out[src.name] = tail.entries()
        return out

    async def collect(self, sources: list[ReplicaSource], now: float | None = None) -> None:
        results = await asyncio.gather(*(self._one(s) for s in sources))
        entries = await asyncio.to_thread(self._read_tails, sources)
        inputs = {
            s.name: TickInput(snapshot=snap, error=err, entries=entries.get(s.name, []))
            for s, (snap, err) in zip(sources, results, strict=True)
        }
        self.pipeline.tick(now if now is not None else time.time(), inputs)
        for name in list(self.tails):
            if name not in inputs:
                del self.tails[name]
