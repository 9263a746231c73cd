"""The parent side of the load engine: start the worker processes, share the run out, merge.

The parent (the TUI's event loop, or ``tirui bench``) only reads JSON lines and adds counts, so
neither the screen's redraws nor its keys share a loop with the requests being timed. The workers
start together (each says ready, then all get ``go``); their processes end with the run, on
cancel (``stop``, then a kill if one does not end), and with the parent (stdin closes).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tirui.metrics.quantiles import LogHistogram
from tirui.traffic.engine.schema import Job, Report

if TYPE_CHECKING:
    from tirui.traffic.engine.load import LoadResult, LoadSpec

WORKER_MODULE = "tirui.traffic.engine.worker"


class EngineError(Exception):
    """A worker process could not start or ended without its result."""


def shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` whole shares that add up exactly (the first get one more)."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def worker_count(spec: LoadSpec) -> int:
    wanted = spec.workers or os.cpu_count() or 1
    limit = min(spec.concurrency, spec.requests) if spec.requests is not None else spec.concurrency
    return max(1, min(wanted, limit))


def jobs(spec: LoadSpec, every: float) -> list[Job]:
    """Each worker's share: connections and requests split exactly, and its part of the schedule."""
    n = worker_count(spec)
    conns = shares(spec.concurrency, n)
    counts = shares(spec.requests, n) if spec.requests is not None else [None] * n
    headers = dict(spec.headers)
    if spec.token and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = f"Bearer {spec.token}"
    return [
        Job(
            protocol=spec.protocol,
            url=spec.url,
            canary_url=spec.canary_url() if spec.protocol == "http" else "",
            method=spec.method,
            headers=headers,
            body=base64.b64encode(spec.body).decode(),
            model=spec.model,
            duration=spec.duration,
            timeout=spec.timeout,
            tls=spec.tls,
            verify=spec.verify,
            stream=spec.stream,
            canary_version=spec.canary_version,
            canary_weight=spec.canary_weight,
            every=every,
            # Open loop: the run's schedule (request k due at k / rate) dealt round-robin, so
            # worker i sends requests i, i + n, i + 2n, ... at rate / n from a phase of i / rate.
            concurrency=c,
            requests=r,
            rate=spec.rate / n if spec.rate else None,
            phase=i / spec.rate if spec.rate else 0.0,
        )
        for i, (c, r) in enumerate(zip(conns, counts, strict=True))
    ]


class Pool:
    """The worker processes of one run."""

    def __init__(self) -> None:
        self.procs: list[asyncio.subprocess.Process] = []
        self.errors: list[bytes] = []

    async def start(self, work: list[Job]) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for job in work:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                WORKER_MODULE,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
            self.procs.append(proc)
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(job).encode() + b"\n")
        for proc in self.procs:
            assert proc.stdout is not None
            line = await proc.stdout.readline()
            if not line or not json.loads(line).get("ready"):
                raise EngineError(f"a load worker did not start: {await self._stderr(proc)}")

    async def _stderr(self, proc: asyncio.subprocess.Process) -> str:
        assert proc.stderr is not None
        with contextlib.suppress(Exception):
            data = await asyncio.wait_for(proc.stderr.read(), 5)
            lines = data.decode("utf-8", "replace").strip().splitlines()
            return lines[-1] if lines else "no output"
        return "no output"

    def tell(self, doc: dict[str, Any]) -> None:
        line = json.dumps(doc).encode() + b"\n"
        for proc in self.procs:
            if proc.stdin is not None and proc.returncode is None:
                with contextlib.suppress(Exception):
                    proc.stdin.write(line)

    async def end(self) -> None:
        """Every process gone: asked to stop, then killed after a grace."""
        self.tell({"stop": True})
        for proc in self.procs:
            if proc.stdin is not None:
                with contextlib.suppress(Exception):
                    proc.stdin.close()
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except (TimeoutError, asyncio.CancelledError):
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await asyncio.shield(proc.wait())

    def kill_now(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()


def merge(result: LoadResult, doc: Report, second: int) -> None:
    """Add one worker report to the result and to the timeline's second."""
    n = int(doc["n"])
    result.count += n
    result.ok += int(doc["ok"])
    result.bytes_received += int(doc["b"])
    result.max_latency = max(result.max_latency, float(doc["mx"]))
    result.statuses.update(doc["st"])
    latencies = LogHistogram.from_json(doc["h"]).counts
    result.hist.merge(latencies)
    if doc["f"]:
        result.first_chunk.merge(LogHistogram.from_json(doc["f"]).counts)
    if n:
        result.seconds.setdefault(second, LogHistogram()).merge(latencies)
        result.second_errors[second] = result.second_errors.get(second, 0) + n - int(doc["ok"])


async def run_pool(
    spec: LoadSpec,
    result: LoadResult,
    *,
    every: float,
    progress: Callable[[LoadResult], None] | None,
    cancel: asyncio.Event,
) -> None:
    """Run ``spec`` in worker processes, merging into ``result`` as reports arrive."""
    pool = Pool()
    result.workers = worker_count(spec)
    try:
        await pool.start(jobs(spec, every))
        pool.tell({"go": True})
        start = time.perf_counter()
        result.started = time.time()

        async def read(proc: asyncio.subprocess.Process) -> None:
            assert proc.stdout is not None
            while line := await proc.stdout.readline():
                doc = json.loads(line)
                if doc.get("done"):
                    return
                merge(result, doc, int(time.perf_counter() - start))
            raise EngineError(f"a load worker ended early: {await pool._stderr(proc)}")

        readers: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*(read(p) for p in pool.procs)))
        stopping: asyncio.Future[Any] = asyncio.ensure_future(cancel.wait())
        followed = time.perf_counter()
        try:
            while not readers.done():
                await asyncio.wait([readers, stopping], timeout=every, return_when=asyncio.FIRST_COMPLETED)
                if stopping.done() and not readers.done():
                    pool.tell({"stop": True})
                    await asyncio.wait([readers], timeout=10)
                    break
                if spec.canary_source is not None and time.perf_counter() - followed >= 1.0:
                    followed = time.perf_counter()
                    with contextlib.suppress(Exception):  # the split stays; the load goes on
                        spec.canary_version, spec.canary_weight = await asyncio.to_thread(spec.canary_source)
                        pool.tell({"canary": [spec.canary_version, spec.canary_weight]})
                result.elapsed = time.perf_counter() - start
                if progress is not None and not readers.done():
                    progress(result)
            if readers.done():
                readers.result()  # a worker's failure is the run's
        finally:
            stopping.cancel()
            if not readers.done():
                readers.cancel()
            result.elapsed = time.perf_counter() - start
    except BaseException:
        pool.kill_now()
        raise
    finally:
        await pool.end()
