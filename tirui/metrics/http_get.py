"""A lean keep-alive HTTP/1.1 GET for metrics scrapes over plain HTTP.

The collector scrapes every replica once a second; through httpx one scrape costs ~1.2 ms of CPU,
most of it the client's machinery, which at 10 endpoints is a third of the Metrics screen's budget.
This client keeps one connection per endpoint (TorchServe's metrics endpoint keeps connections
alive), sends a fixed request and reads a ``Content-Length`` or chunked body; anything else it
does not expect (HTTPS, a redirect) is for httpx. A stale keep-alive connection is retried once
on a fresh one.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

MAX_BODY = 64 * 2**20


class HttpGetError(Exception):
    """The endpoint did not give a usable answer; the message says what happened."""


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def close(self) -> None:
        self.writer.close()


class KeepAliveGetter:
    """``await get(url)`` → (status, body text); one connection per host:port, reused."""

    def __init__(self) -> None:
        self._conns: dict[tuple[str, int], _Conn] = {}

    @staticmethod
    def handles(url: str) -> bool:
        return url.startswith("http://")

    async def aclose(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()

    async def get(self, url: str, timeout: float) -> tuple[int, str]:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/plain\r\n\r\n".encode()
        for attempt in (0, 1):
            conn = self._conns.pop((host, port), None)
            reused = conn is not None
            try:
                if conn is None:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
                    conn = _Conn(reader, writer)
                status, body, keep = await asyncio.wait_for(self._exchange(conn, request), timeout)
            except (OSError, asyncio.IncompleteReadError, HttpGetError) as exc:
                if conn is not None:
                    conn.close()
                if reused and attempt == 0:
                    continue  # the server closed an idle connection: once more on a new one
                if isinstance(exc, HttpGetError):
                    raise
                raise HttpGetError(str(exc) or type(exc).__name__) from None
            except BaseException:
                if conn is not None:
                    conn.close()
                raise
            if keep:
                self._conns[(host, port)] = conn
            else:
                conn.close()
            return status, body
        raise HttpGetError("no answer")  # not reached

    @staticmethod
    async def _exchange(conn: _Conn, request: bytes) -> tuple[int, str, bool]:
        conn.writer.write(request)
        await conn.writer.drain()
        status_line = await conn.reader.readuntil(b"\r\n")
        try:
            version, code = status_line.split(None, 2)[:2]
            status = int(code)
        except ValueError:
            raise HttpGetError(f"not an HTTP answer: {status_line[:40]!r}") from None
        headers: dict[str, str] = {}
        while (line := await conn.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        keep = version == b"HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if status in (204, 304) or 100 <= status < 200:
            body = b""
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await conn.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                chunks.append(await conn.reader.readexactly(size))
                await conn.reader.readexactly(2)
            while await conn.reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailers
            body = b"".join(chunks)
        elif "content-length" in headers:
            length = int(headers["content-length"])
            if length > MAX_BODY:
                raise HttpGetError(f"answer of {length} bytes is too large for metrics")
            body = await conn.reader.readexactly(length)
        else:
            body, keep = await conn.reader.read(MAX_BODY), False
        return status, body.decode("utf-8", "replace"), keep
