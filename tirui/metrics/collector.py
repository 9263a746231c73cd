"""One collection round: scrape every replica's metrics endpoint and read its access-log tail.

Scrapes run concurrently on the event loop (httpx async); file reads go to a thread. A replica
that fails contributes a gap and a note, never an exception.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tirui.metrics.accesslog import LogSource, LogTail
from tirui.metrics.scrape import ScrapeError, Snapshot, scrape
from tirui.metrics.series import MetricsPipeline, TickInput


@dataclass(frozen=True)
class ReplicaSource:
    """Where one replica's numbers come from.

    Locally: ``metrics_url`` (HTTP GET) and the ``access_log`` file. On Kubernetes: ``fetch`` (a
    blocking call through the API server's pod proxy or to Prometheus, run in a thread; raises
    ScrapeError) and ``open_log`` (starts following the pod's log; the collector closes it when
    the pod goes away).
    """

    name: str
    metrics_url: str
    access_log: Path | None = None
    fetch: Callable[[], Snapshot] | None = None
    open_log: Callable[[], LogSource] | None = None


class Collector:
    def __init__(self, pipeline: MetricsPipeline, *, timeout: float = 2.0, backfill: int = 0) -> None:
        """``backfill``: bytes of each access log's recent history to read when first tailing it,
        so percentiles are there at once (the Metrics screen and ``tirui top`` use 256 KiB)."""
        import httpx

        self.pipeline = pipeline
        self.timeout = timeout
        self.backfill = backfill
        self.client = httpx.AsyncClient()
        self.tails: dict[str, LogSource] = {}

    async def aclose(self) -> None:
        await self.client.aclose()
        for tail in self.tails.values():
            tail.close()

    def reset(self, pipeline: MetricsPipeline) -> None:
        """Feed another pipeline (another deployment): stop following the old replicas' logs."""
        self.pipeline = pipeline
        for tail in self.tails.values():
            tail.close()
        self.tails.clear()

    async def _one(self, src: ReplicaSource) -> tuple[Snapshot | None, str]:
        try:
            if src.fetch is not None:
                snap = await asyncio.wait_for(asyncio.to_thread(src.fetch), self.timeout + 1)
                return snap, ""
            return await scrape(self.client, src.metrics_url, self.timeout), ""
        except TimeoutError:
            return None, f"{src.name}: no answer within {self.timeout:.0f}s"
        except ScrapeError as exc:
            return None, str(exc)

    def _read_tails(self, sources: list[ReplicaSource]) -> dict[str, list]:  # type: ignore[type-arg]
        out = {}
        for src in sources:
            tail = self.tails.get(src.name)
            if src.access_log is not None:
                if not isinstance(tail, LogTail) or tail.path != src.access_log:
                    tail = self.tails[src.name] = LogTail(src.access_log, backfill=self.backfill)
            elif src.open_log is not None:
                if tail is None:
                    tail = self.tails[src.name] = src.open_log()
            else:
                continue
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
                self.tails.pop(name).close()
