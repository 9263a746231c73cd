"""One collection round: scrape every replica's metrics endpoint and read its access-log tail.

Scrapes run concurrently on the event loop (httpx async); file reads go to a thread. A replica
that fails contributes a gap and a note, never an exception.

Load on the Kubernetes API server stays bounded whatever the replica count: sources that go through
it (``api_bound``, the pod proxy) are scraped at most ``api_budget`` per round, in turn, so with
100 pods and the default 10 each pod is scraped every 10 s (its counters' rates then span 10 s; its
access log still counts every request each round). :attr:`Collector.sampling` says so for the UI.
With a Prometheus server named in the profile, one query per round serves every pod instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tirui.metrics.accesslog import AccessEntry, LogSource, LogTail
from tirui.metrics.http_get import KeepAliveGetter
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
    api_bound: bool = False
    """The scrape is a request to the Kubernetes API server (counts against the budget)."""


class Collector:
    def __init__(
        self, pipeline: MetricsPipeline, *, timeout: float = 2.0, backfill: int = 0, api_budget: int = 10
    ) -> None:
        """``backfill``: bytes of each access log's recent history to read when first tailing it,
        so percentiles are there at once (the Metrics screen and ``tirui top`` use 256 KiB).
        ``api_budget``: API-server scrapes per round (one round a second)."""
        import httpx

        self.api_budget = max(1, api_budget)
        self._turn = 0
        self.sampling = ""
        """Empty, or how the API-server budget samples the pods, in words."""
        self.pipeline = pipeline
        self.timeout = timeout
        self.backfill = backfill
        self.client = httpx.AsyncClient()
        self.getter = KeepAliveGetter()
        self.tails: dict[str, LogSource] = {}

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.getter.aclose()
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
            return await scrape(self.client, src.metrics_url, self.timeout, self.getter), ""
        except TimeoutError:
            return None, f"{src.name}: no answer within {self.timeout:.0f}s"
        except ScrapeError as exc:
            return None, str(exc)

    def _read_tails(self, sources: list[ReplicaSource]) -> dict[str, list[AccessEntry]]:
        out: dict[str, list[AccessEntry]] = {}
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

    def _this_round(self, sources: list[ReplicaSource]) -> list[ReplicaSource]:
        """The sources to scrape now: all direct ones, and the next ``api_budget`` API-bound ones."""
        bound = [s for s in sources if s.api_bound]
        if len(bound) <= self.api_budget:
            self.sampling = ""
            return sources
        start = self._turn % len(bound)
        chosen = {s.name for s in (bound + bound)[start : start + self.api_budget]}
        self._turn = start + self.api_budget
        every = -(-len(bound) // self.api_budget)
        self.sampling = (
            f"sampling: metrics of {self.api_budget} of {len(bound)} pods a second, each every {every} s "
            f"(at most {self.api_budget} API-server requests/s); logs count every request"
        )
        return [s for s in sources if not s.api_bound or s.name in chosen]

    async def collect(self, sources: list[ReplicaSource], now: float | None = None) -> None:
        scraped = self._this_round(sources)
        answers = await asyncio.gather(*(self._one(s) for s in scraped))
        results = {s.name: answer for s, answer in zip(scraped, answers, strict=True)}
        entries = await asyncio.to_thread(self._read_tails, sources)
        inputs = {}
        for s in sources:
            snap, err = results.get(s.name, (None, ""))
            inputs[s.name] = TickInput(snap, err, entries.get(s.name, []), sampled=s.name in results)
        self.pipeline.tick(now if now is not None else time.time(), inputs)
        for name in list(self.tails):
            if name not in inputs:
                self.tails.pop(name).close()
