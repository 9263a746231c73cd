"""A small HTTP/1.1 server on 127.0.0.1 for the load engine's tests, in a thread of its own.

It counts every request it reads, and answers by path:

- ``/ok`` (and anything not below): 200 with a fixed body, keep-alive;
- ``/status/NNN``: that status;
- ``/chunked``: 200 with a chunked body of the same bytes;
- ``/close``: 200, then ``Connection: close`` and the connection closes;
- ``/slow``: answers after ``slow_seconds``;
- ``/garbage``: bytes that are not HTTP.

``stall_after(n, seconds)`` makes the server hold every response for ``seconds`` once its ``n``-th
request arrives (a stop-the-world pause), which is what an open-loop load test must see in its
percentiles and a closed loop hides.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

BODY = b"[10.5, -10.5]"


class HttpTarget:
    def __init__(self, slow_seconds: float = 5.0) -> None:
        self.slow_seconds = slow_seconds
        self.count = 0
        self.connections = 0
        self.port = 0
        self._stall_at: int | None = None
        self._stall_for = 0.0
        self._stalled_until = 0.0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stall_after(self, n: int, seconds: float) -> None:
        def arm() -> None:
            self._stall_at, self._stall_for = n, seconds

        self._loop.call_soon_threadsafe(arm)

    def __enter__(self) -> HttpTarget:
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                self.count += 1
                path = head.split(b" ", 2)[1].decode()
                loop = asyncio.get_running_loop()
                if self._stall_at is not None and self.count >= self._stall_at:
                    self._stalled_until = loop.time() + self._stall_for
                    self._stall_at = None
                if loop.time() < self._stalled_until:
                    await asyncio.sleep(self._stalled_until - loop.time())
                if not await self._answer(path, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _answer(self, path: str, writer: asyncio.StreamWriter) -> bool:
        """Write the response; False when the connection is to close."""
        status, extra, body = 200, b"", BODY
        if path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
        elif path == "/slow":
            await asyncio.sleep(self.slow_seconds)
        elif path == "/garbage":
            writer.write(b"this is not HTTP\r\n\r\n")
            await writer.drain()
            return False
        elif path == "/close":
            extra = b"Connection: close\r\n"
        if path == "/chunked":
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"%x\r\n%s\r\n" % (5, body[:5])
                + b"%x\r\n%s\r\n" % (len(body) - 5, body[5:])
                + b"0\r\n\r\n"
            )
        else:
            writer.write(
                b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n%s" % (status, len(body), extra, body)
            )
        await writer.drain()
        return not extra
