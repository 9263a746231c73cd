"""Real network plumbing for the Kubernetes tests: a TCP proxy in front of kmock that can drop
every connection (an API server restart, a NAT timeout), and pod-log streams in the API server's
format (RFC 3339 timestamps) fed from a real file."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any


class CuttableProxy:
    """Forwards loopback TCP to ``upstream_port``; :meth:`cut` aborts every open connection and
    ``blocked`` refuses new ones (the client sees connection resets)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.blocked = False
        self.port = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.base_events.Server | None = None

    async def __aenter__(self) -> CuttableProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.blocked:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        for w in self._writers:
            w.transport.abort()
        self._writers.clear()


def k8s_stamp(at: dt.datetime | None = None) -> str:
    """A pod-log timestamp as the kubelet writes it (UTC, nanoseconds)."""
    at = at or dt.datetime.now(dt.UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def tail_as_pod_log(path: Path) -> Callable[[Any], AsyncIterator[bytes]]:
    """A kmock payload: ``GET .../pods/P/log?follow=true`` answered by following ``path`` from its
    current end, each line stamped like the kubelet does."""

    async def stream(request: Any) -> AsyncIterator[bytes]:
        offset = path.stat().st_size
        partial = b""
        while True:
            with path.open("rb") as f:
                f.seek(offset)
                data = f.read()
            offset += len(data)
            *lines, partial = (partial + data).split(b"\n")
            for line in lines:
                yield f"{k8s_stamp()} ".encode() + line + b"\n"
            await asyncio.sleep(0.05)

    return stream
