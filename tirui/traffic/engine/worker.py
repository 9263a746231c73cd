"""One load-engine worker process: ``python -m tirui.traffic.engine.worker``.

It talks JSON lines with the parent (:mod:`tirui.traffic.engine.pool`): on stdin its share of the
run (the first line; it holds the token, which is why it is not on the command line), then
``{"go": true}``, ``{"canary": [version, weight]}`` or ``{"stop": true}``; stdin closing (the
parent gone, however it ended) stops it too. On stdout ``{"ready": true}`` once it can start,
then one report per interval with what completed in it (counts, statuses, bytes and a log-bucket
histogram of latencies: :class:`tirui.metrics.quantiles.LogHistogram`), and ``{"done": true}``.

Closed loop (no rate): each of its connections sends the next request when the last one is
answered. Open loop (a rate): request *k* is due at ``start + k / rate`` whether or not earlier
ones returned, and its latency counts from that due time, so a stalled server shows in the
percentiles instead of silently slowing the sender (coordinated omission, as wrk2 corrects it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import random
import ssl
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from tirui.metrics.quantiles import LogHistogram
from tirui.traffic.engine.schema import Job, Report

Send = Callable[[bool], Awaitable[tuple[str, bool, int, float]]]
"""One request (to the canary or not) → (status, ok, bytes received, first chunk s or -1)."""
Close = Callable[[], Awaitable[None]]


JOB_LIMIT = 2**31 - 1
"""The longest job line read (64 KiB, asyncio's default, refused any body past ~48 KB)."""

STOP_GRACE = 2.0
"""Seconds a stopped run waits for the requests in flight (then they count as ``cancelled``)."""


class Recorder:
    """What completed since the last report."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.ok = 0
        self.bytes = 0
        self.max = 0.0
        self.statuses: Counter[str] = Counter()
        self.hist = LogHistogram()
        self.first = LogHistogram()

    def add(self, status: str, ok: bool, size: int, latency: float, first: float) -> None:
        self.n += 1
        self.ok += ok
        self.bytes += size
        self.statuses[status] += 1
        self.hist.add(latency)
        if latency > self.max:
            self.max = latency
        if first >= 0:
            self.first.add(first)

    def abandon(self, n: int) -> None:
        """Requests in flight when the run was stopped that did not finish in the grace."""
        if n:
            self.n += n
            self.statuses["cancelled"] += n

    def report(self) -> Report:
        doc: Report = {
            "n": self.n,
            "ok": self.ok,
            "b": self.bytes,
            "mx": self.max,
            "st": dict(self.statuses),
            "h": self.hist.to_json(),
            "f": self.first.to_json(),
        }
        self.reset()
        return doc


def _tls_context(verify: bool | str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    if verify is False:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def _http_sender(job: Job) -> tuple[Send, Close]:
    from tirui.traffic.engine.http1 import Http1Connection, address, build_request

    body = base64.b64decode(job["body"])
    plain = build_request(job["method"], job["url"], job["headers"], body)
    canary = plain
    if job["canary_url"]:
        canary = build_request(job["method"], job["canary_url"], job["headers"], body)
    host, port, tls = address(job["url"])
    context = _tls_context(job.get("verify", True)) if tls else None
    timeout = float(job["timeout"])
    idle: list[Http1Connection] = []
    opened: list[Http1Connection] = []

    async def send(to_canary: bool) -> tuple[str, bool, int, float]:
        conn = idle.pop() if idle else None
        try:
            if conn is None or conn.closed:
                conn = await asyncio.wait_for(Http1Connection.open(host, port, context), timeout)
                opened.append(conn)
            status, size = await conn.send(canary if to_canary else plain, timeout)
        except TimeoutError:
            return "timeout", False, 0, -1.0
        except OSError:  # refused, reset, unreachable, name not found
            return "connection", False, 0, -1.0
        except Exception as exc:  # the response did not parse
            return type(exc).__name__, False, 0, -1.0
        if not conn.closed:
            idle.append(conn)
        return str(status), status < 400, size, -1.0

    async def close() -> None:
        for conn in opened:
            conn.close()

    return send, close


SERVICE = "/org.pytorch.serve.grpc.inference.InferenceAPIsService/"


def _grpc_sender(job: Job) -> tuple[Send, Close]:
    """gRPC on the lean HTTP/2 client: one connection, the run's calls as its streams."""
    from tirui.torchserve.protos import inference_pb2
    from tirui.traffic.engine.grpc_wire import RETRY, grpc_address, grpc_message, header_block
    from tirui.traffic.engine.http2 import Http2Connection

    tls = bool(job.get("tls"))
    host, port = grpc_address(job["url"], tls)
    context = None
    if tls:
        context = _tls_context(job.get("verify", True))
        context.set_alpn_protocols(["h2"])
    timeout, stream = float(job["timeout"]), bool(job.get("stream"))
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    method = "StreamPredictions" if stream else "Predictions"
    block = header_block(SERVICE + method, authority, tls, job["headers"], timeout)
    body = base64.b64decode(job["body"])
    plain = grpc_message(
        inference_pb2.PredictionsRequest(model_name=job["model"], input={"data": body}).SerializeToString()
    )
    canary = grpc_message(
        inference_pb2.PredictionsRequest(
            model_name=job["model"], model_version=job["canary_version"], input={"data": body}
        ).SerializeToString()
    )
    current: Http2Connection | None = None
    opening: asyncio.Future[Http2Connection] | None = None
    opened: list[Http2Connection] = []

    async def connection() -> Http2Connection:
        """The open connection, or one new one that every caller waiting meanwhile shares."""
        nonlocal current, opening
        if current is None or current.closed or current.draining:
            if opening is None or opening.done():
                dial = Http2Connection.open(host, port, context)
                opening = asyncio.ensure_future(asyncio.wait_for(dial, timeout))
            conn = await asyncio.shield(opening)
            if current is not conn:
                current = conn
                opened[:] = [c for c in opened if not c.closed]  # nginx: a new one every 1,000 calls
                opened.append(conn)
        return current

    async def send(to_canary: bool) -> tuple[str, bool, int, float]:
        message = canary if to_canary and job["canary_version"] else plain
        for _ in range(3):  # a stream the server refused (GOAWAY) runs again on a new connection
            try:
                conn = await connection()
            except TimeoutError:
                return "DEADLINE_EXCEEDED", False, 0, -1.0
            except OSError:  # refused, reset, TLS refused, no HTTP/2
                return "UNAVAILABLE", False, 0, -1.0
            status, size, first = await conn.call(block, message, timeout)
            if status != RETRY:
                return status, status == "OK", size, first if stream else -1.0
        return "UNAVAILABLE", False, 0, -1.0

    async def close() -> None:
        if opening is not None and not opening.done():
            opening.cancel()
        for conn in opened:
            conn.close()

    return send, close


class Worker:
    """One process's share of the run."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.rec = Recorder()
        self.stop = asyncio.Event()
        self.in_flight = 0
        self.canary = (job.get("canary_version", ""), int(job.get("canary_weight", 0)))
        maker = _grpc_sender if job["protocol"] == "grpc" else _http_sender
        self.send, self.close = maker(job)

    def _to_canary(self) -> bool:
        version, weight = self.canary
        return bool(version) and weight > 0 and random.random() * 100 < weight

    async def run(self) -> None:
        job = self.job
        start = time.perf_counter()
        duration = job["duration"]
        deadline = start + duration if duration else float("inf")
        limit = job.get("requests")
        rate = job.get("rate")
        phase = float(job.get("phase", 0.0))
        issued = itertools.count()

        async def connection() -> None:
            while not self.stop.is_set():
                k = next(issued)
                if limit is not None and k >= limit:
                    return
                if rate:
                    due = start + phase + k / rate
                    if due >= deadline:
                        return
                    wait = due - time.perf_counter()
                    if wait > 0:
                        await asyncio.sleep(wait)
                        if self.stop.is_set():
                            return
                    t0 = due  # latency from the schedule, not from when a connection was free
                else:
                    t0 = time.perf_counter()
                    if t0 >= deadline:
                        return
                self.in_flight += 1
                status, ok, size, first = await self.send(self._to_canary())
                self.in_flight -= 1
                self.rec.add(status, ok, size, time.perf_counter() - t0, first)

        tasks = [asyncio.ensure_future(connection()) for _ in range(int(job["concurrency"]))]
        stopper = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            while not stopper.done() and not all(t.done() for t in tasks):
                await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            if not all(t.done() for t in tasks):  # stopped: what is in flight may still answer
                await asyncio.wait(tasks, timeout=min(float(job["timeout"]), STOP_GRACE))
        finally:
            for t in [*tasks, stopper]:
                t.cancel()
            await asyncio.gather(*tasks, stopper, return_exceptions=True)
            self.rec.abandon(self.in_flight)
            self.in_flight = 0
            await self.close()


def _write(doc: Report | dict[str, object]) -> None:
    sys.stdout.write(json.dumps(doc, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def _main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=JOB_LIMIT)  # the job line holds the whole request body
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    job: Job = json.loads(await reader.readline())
    worker = Worker(job)
    _write({"ready": True, "pid": os.getpid()})
    go = await reader.readline()
    if not go or not json.loads(go).get("go"):
        _write({"done": True})
        return

    async def control() -> None:
        while line := await reader.readline():
            doc = json.loads(line)
            if "canary" in doc:
                worker.canary = (str(doc["canary"][0]), int(doc["canary"][1]))
            if doc.get("stop"):
                break
        worker.stop.set()  # asked, or stdin closed: the parent is gone

    async def reports() -> None:
        while True:
            await asyncio.sleep(float(job.get("every", 0.25)))
            _write(worker.rec.report())

    tasks = [asyncio.ensure_future(control()), asyncio.ensure_future(reports())]
    try:
        await worker.run()
    finally:
        for t in tasks:
            t.cancel()
        _write(worker.rec.report())
        _write({"done": True})


def main() -> None:
    try:  # uvloop when installed (the engine runs about twice as fast on it)
        import uvloop

        run: Callable[[Any], Any] = uvloop.run
    except ImportError:
        run = asyncio.run
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        run(_main())


if __name__ == "__main__":
    main()
