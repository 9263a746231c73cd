"""A lean keep-alive HTTP/1.1 client for the load engine: one request at a time per connection.

The request bytes are built once per target and written as they are; the response is parsed only
as far as a load test needs (status, where the body ends: ``Content-Length``, chunked, or the
connection closing, and ``Connection: close``). No header objects, no body objects: this is what
lets one event loop keep up with ``hey`` (``benchmarks/engine_vs_hey.py``), where a general client
spends most of its time on what a load test throws away.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import cast
from urllib.parse import urlsplit


class ProtocolError(ValueError):
    """The server's answer is not HTTP/1.x as this client reads it."""


def build_request(method: str, url: str, headers: dict[str, str], body: bytes) -> bytes:
    """The whole request as bytes (``Host`` and ``Content-Length`` added; keep-alive)."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method.upper()} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    lower = {k.lower() for k in headers}
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "content-length")]
    if body or method.upper() in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    if "user-agent" not in lower:
        lines.append("User-Agent: tirui-bench")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def address(url: str) -> tuple[str, int, bool]:
    """``(host, port, tls)`` of an http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    tls = parts.scheme == "https"
    return parts.hostname, parts.port or (443 if tls else 80), tls


class Http1Connection(asyncio.Protocol):
    """One connection; :meth:`send` returns a future of ``(status, body bytes)``."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buf = bytearray()
        self._fut: asyncio.Future[tuple[int, int]] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._reset()

    def _reset(self) -> None:
        self._status = 0
        self._body_at = -1  # where the body starts in _buf; -1 while the head is incomplete
        self._length: int | None = None
        self._chunked = False
        self._close_after = False
        self._chunk_at = 0  # chunked: next chunk-size line, relative to _body_at
        self._chunk_bytes = 0

    @classmethod
    async def open(cls, host: str, port: int, tls: ssl.SSLContext | None) -> Http1Connection:
        loop = asyncio.get_running_loop()
        name = host if tls else None
        _, conn = await loop.create_connection(cls, host, port, ssl=tls, server_hostname=name)
        return conn

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if self._fut is not None:
            try:
                self._parse()
            except (ValueError, IndexError) as exc:
                self._fail(ProtocolError(str(exc) or "unreadable response"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._fut is None:
            return
        if self._body_at >= 0 and self._length is None and not self._chunked:
            self._finish(len(self._buf) - self._body_at)  # the body ran until the close
        else:
            self._fail(ConnectionResetError("the server closed the connection"))

    # -- requests ----------------------------------------------------------------------------
    def send(self, data: bytes, timeout: float) -> asyncio.Future[tuple[int, int]]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[tuple[int, int]] = loop.create_future()
        if self.closed or self.transport is None:
            fut.set_exception(ConnectionResetError("the connection is closed"))
            return fut
        self._fut = fut
        self._timer = loop.call_later(timeout, self._expire)
        self.transport.write(data)
        return fut

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _expire(self) -> None:
        self._fail(TimeoutError("no answer in time"))
        self.close()

    def _fail(self, exc: Exception) -> None:
        fut, self._fut = self._fut, None
        if self._timer is not None:
            self._timer.cancel()
        if fut is not None and not fut.done():
            fut.set_exception(exc)
        self.close()

    def _finish(self, size: int) -> None:
        fut, self._fut = self._fut, None
        if self._timer is not None:
            self._timer.cancel()
        status = self._status
        if self._close_after:
            self.close()
        self._reset()
        if fut is not None and not fut.done():
            fut.set_result((status, size))

    def _parse(self) -> None:
        buf = self._buf
        if self._body_at < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1."):
                raise ProtocolError("not an HTTP/1.x response")
            self._status = int(buf[9:12])
            for line in bytes(buf[:end]).lower().split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name == b"content-length":
                    self._length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value:
                    self._chunked = True
                elif name == b"connection" and b"close" in value:
                    self._close_after = True
            if buf[5:8] == b"1.0" and b"keep-alive" not in bytes(buf[:end]).lower():
                self._close_after = True
            self._body_at = end + 4
            if self._status in (204, 304) or 100 <= self._status < 200:
                self._length = 0
        if self._length is not None:
            if len(buf) - self._body_at >= self._length:
                del buf[: self._body_at + self._length]
                self._finish(self._length)
        elif self._chunked:
            self._parse_chunks()

    def _parse_chunks(self) -> None:
        buf, base = self._buf, self._body_at
        while True:
            at = base + self._chunk_at
            eol = buf.find(b"\r\n", at)
            if eol < 0:
                return
            size = int(bytes(buf[at:eol]).split(b";")[0], 16)
            if size == 0:
                end = buf.find(b"\r\n\r\n", at)  # the last chunk, trailers (if any), blank line
                if end < 0:
                    return
                del buf[: end + 4]
                self._finish(self._chunk_bytes)
                return
            if len(buf) < eol + 2 + size + 2:
                return
            self._chunk_bytes += size
            self._chunk_at = eol + 2 + size + 2 - base
