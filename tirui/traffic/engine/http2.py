"""A lean HTTP/2 client for the load engine's gRPC calls: many streams on one connection.

What a gRPC load test needs from HTTP/2 and nothing more: the request's header block is
HPACK-encoded once per target (literal fields, no dynamic table, so the same bytes serve every
stream) and its message framed once; a call writes one HEADERS and the DATA frames and waits for
the trailers' ``grpc-status``. The answer's header blocks are decoded (HPACK's state is the
connection's, so every block is, even for a stream already given up), the DATA bytes counted and
the time of the first one kept (time to first chunk of a stream). Flow control: this side opens
its windows wide at the start (and tops them up past 1 GiB), and sends no more than the server's
windows allow, waiting for its WINDOW_UPDATEs. SETTINGS and PING are acknowledged; a GOAWAY lets
the streams it covers finish, and the streams it did not take are run again on a new connection
(the server never saw them: gRPC's transparent retry). No compression, no push, no priorities.

A general client (``grpc.aio``) spends as much CPU per call as a Python gRPC server spends
answering it; on a machine whose cores the server shares, that is throughput taken from the
server (``benchmarks/engine_grpc.py``).
"""

from __future__ import annotations

import asyncio
import ssl
import struct
import time
from collections import deque
from typing import cast

from tirui.metrics.accesslog import GRPC_CODES
from tirui.traffic.engine.grpc_wire import HTTP_TO_GRPC, RETRY, RST_TO_GRPC
from tirui.traffic.engine.hpack_read import BlockReader

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PUSH_PROMISE = 0x0, 0x1, 0x3, 0x4, 0x5
PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0x6, 0x7, 0x8, 0x9
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
MAX_WINDOW = 2**31 - 1
MAX_FRAME = 16384
"""The largest frame the server may send: this side never raises SETTINGS_MAX_FRAME_SIZE."""
TOP_UP = 2**30
"""Received bytes after which a window is opened again (it started at :data:`MAX_WINDOW`)."""
CANCEL = 0x8
REFUSED_STREAM = 0x7

Result = tuple[str, int, float]
"""A call's ``(gRPC status name, DATA bytes received, seconds to the first DATA or -1)``."""


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">IBI", len(payload) << 8 | kind, flags, stream) + payload


class _Stream:
    __slots__ = (
        "block", "data", "deadline", "first", "fut", "message", "recv", "size", "start", "status", "timer",
        "window",
    )  # fmt: skip

    def __init__(self, fut: asyncio.Future[Result], block: bytes, data: bytes, window: int) -> None:
        self.fut, self.data, self.window = fut, memoryview(data), window
        self.block, self.message = block, data  # to send it again if the server refuses it
        self.deadline = 0.0
        self.status = ""  # grpc-status name once known; the HTTP status mapped until then
        self.size = 0
        self.first = -1.0
        self.start = time.perf_counter()
        self.timer: asyncio.TimerHandle | None = None
        self.recv = 0


class Http2Connection(asyncio.Protocol):
    """One connection; :meth:`call` returns a future of a :data:`Result`."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.draining = False  # GOAWAY received or stream ids spent: no new calls
        self._settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        """Done when the server's first frame, its SETTINGS, has come (its stream limit known)."""
        self._streams: dict[int, _Stream] = {}
        self._next_id = 1
        self._window = 65535  # the connection's send window (the server's to open)
        self._initial = 65535  # the server's initial stream window
        self._max_frame = 16384
        self._max_streams = MAX_WINDOW
        self._blocked: deque[int] = deque()  # streams with DATA waiting for a window
        self._waiting: deque[tuple[bytes, bytes, float, asyncio.Future[Result]]] = deque()
        self._headers = BlockReader()
        self._buf = bytearray()
        self._fragment: tuple[int, int, bytearray] | None = None  # (stream, flags, block) to CONTINUATION
        self._recv = 0
        self._out: list[bytes] = []
        self._write_due = False

    @classmethod
    async def open(cls, host: str, port: int, tls: ssl.SSLContext | None) -> Http2Connection:
        loop = asyncio.get_running_loop()
        name = host if tls else None
        transport, conn = await loop.create_connection(cls, host, port, ssl=tls, server_hostname=name)
        if tls is not None:
            chosen = transport.get_extra_info("ssl_object").selected_alpn_protocol()
            if chosen != "h2":
                conn.close()
                raise ConnectionError(f"the server did not agree to HTTP/2 (ALPN {chosen!r})")
        await conn._settled  # streams opened before the server's limits are known may be refused
        return conn

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        settings = struct.pack(">HIHIHI", 0x2, 0, 0x4, MAX_WINDOW, 0x6, 1 << 20)  # no push, windows
        self.transport.write(
            PREFACE
            + frame(SETTINGS, 0, 0, settings)
            + frame(WINDOW_UPDATE, 0, 0, (MAX_WINDOW - 65535).to_bytes(4, "big"))
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self._settled.done():
            self._settled.set_exception(ConnectionResetError("the server closed before its SETTINGS"))
        for sid in list(self._streams):
            self._finish(sid, "UNAVAILABLE")
        self._release_waiting()

    def _release_waiting(self) -> None:
        """Calls still waiting for a stream go to another connection."""
        while self._waiting:
            fut = self._waiting.popleft()[3]
            if not fut.done():
                fut.set_result((RETRY, 0, -1.0))

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        pos, end = 0, len(buf)
        try:
            while end - pos >= 9:
                head, flags, sid = struct.unpack_from(">IBI", buf, pos)
                length = head >> 8
                if length > MAX_FRAME:  # also what an HTTP/1.x answer's first bytes read as
                    raise ValueError(f"a {length}-byte frame (at most {MAX_FRAME} were allowed)")
                if not self._settled.done():
                    if head & 0xFF != SETTINGS:
                        raise ValueError("the server did not start with SETTINGS")
                    self._settled.set_result(None)
                if end - pos < 9 + length:
                    break
                payload = bytes(buf[pos + 9 : pos + 9 + length])
                pos += 9 + length
                self._on_frame(head & 0xFF, flags, sid & MAX_WINDOW, payload)
        except (ValueError, IndexError, struct.error):  # HpackError is a ValueError
            self._broken()  # not HTTP/2 as this side reads it
            return
        del buf[:pos]

    # -- calls -------------------------------------------------------------------------------
    def call(self, block: bytes, message: bytes, timeout: float) -> asyncio.Future[Result]:
        fut: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        if self.closed or self.draining:
            fut.set_result((RETRY, 0, -1.0))
        elif len(self._streams) >= self._max_streams:
            self._waiting.append((block, message, timeout, fut))
        else:
            self._start(block, message, timeout, fut)
        return fut

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _start(self, block: bytes, message: bytes, timeout: float, fut: asyncio.Future[Result]) -> None:
        assert self.transport is not None
        sid = self._next_id
        self._next_id += 2
        if self._next_id > MAX_WINDOW:
            self.draining = True
            self._release_waiting()
        stream = _Stream(fut, block, message, self._initial)
        loop = asyncio.get_running_loop()
        stream.deadline = loop.time() + timeout
        stream.timer = loop.call_later(timeout, self._expire, sid)
        self._streams[sid] = stream
        fits = len(block) <= self._max_frame
        out = [frame(HEADERS, END_HEADERS, sid, block)] if fits else self._split(sid, block)
        self._take(sid, stream, out)
        if stream.data:
            self._blocked.append(sid)
        self._send(*out)

    def _split(self, sid: int, block: bytes) -> list[bytes]:
        size = self._max_frame
        parts = [block[i : i + size] for i in range(0, len(block), size)]
        out = [frame(HEADERS, 0, sid, parts[0])]
        out += [frame(CONTINUATION, 0, sid, p) for p in parts[1:-1]]
        return [*out, frame(CONTINUATION, END_HEADERS, sid, parts[-1])]

    def _take(self, sid: int, stream: _Stream, out: list[bytes]) -> None:
        """Append as much of the stream's DATA as the windows allow (END_STREAM on the last)."""
        while stream.data:
            n = min(len(stream.data), self._window, stream.window, self._max_frame)
            if n <= 0:
                return
            chunk, stream.data = stream.data[:n], stream.data[n:]
            self._window -= n
            stream.window -= n
            out.append(frame(DATA, 0 if stream.data else END_STREAM, sid, bytes(chunk)))

    def _flush(self) -> None:
        out: list[bytes] = []
        for _ in range(len(self._blocked)):
            sid = self._blocked.popleft()
            stream = self._streams.get(sid)
            if stream is None:
                continue
            self._take(sid, stream, out)
            if stream.data:
                self._blocked.append(sid)
        if out:
            self._send(*out)

    def _send(self, *frames: bytes) -> None:
        """Queue frames; what the calls of one turn of the event loop queue leaves in one write."""
        self._out.extend(frames)
        if not self._write_due:
            self._write_due = True
            asyncio.get_running_loop().call_soon(self._write_out)

    def _write_out(self) -> None:
        self._write_due = False
        if self._out and self.transport is not None and not self.closed:
            self.transport.write(b"".join(self._out))
        self._out.clear()

    def _expire(self, sid: int) -> None:
        if sid in self._streams:
            self._send(frame(RST_STREAM, 0, sid, CANCEL.to_bytes(4, "big")))
        self._finish(sid, "DEADLINE_EXCEEDED")

    def _finish(self, sid: int, status: str) -> None:
        stream = self._streams.pop(sid, None)
        if stream is None:
            return
        if stream.timer is not None:
            stream.timer.cancel()
        if not stream.fut.done():
            stream.fut.set_result((status, stream.size, stream.first))
        self._start_waiting()
        if self.draining and not self._streams:
            self.close()

    def _requeue(self, sid: int) -> bool:
        """A stream the server refused unseen (REFUSED_STREAM) while this side kept to its limit:
        the server still counts a stream that just ended (gRPC C-core does, for a moment). The
        call waits for the next stream to end, on this connection, within its deadline, instead
        of spending one of its retries at once on the same refusal."""
        stream = self._streams.get(sid)
        loop = asyncio.get_running_loop()
        if stream is None or stream.first >= 0 or self.draining or stream.deadline <= loop.time():
            return False
        del self._streams[sid]
        if stream.timer is not None:
            stream.timer.cancel()
        self._waiting.appendleft((stream.block, stream.message, stream.deadline - loop.time(), stream.fut))
        if not self._streams:  # no stream to end: try again shortly
            loop.call_later(0.01, self._start_waiting)
        return True

    def _start_waiting(self) -> None:
        while self._waiting and len(self._streams) < self._max_streams and not self.draining:
            block, message, timeout, fut = self._waiting.popleft()
            self._start(block, message, timeout, fut)

    def _broken(self) -> None:
        if not self._settled.done():  # an HTTP/1.x server, say: gRPC calls that UNAVAILABLE
            self._settled.set_exception(ConnectionError("the server does not speak HTTP/2"))
        for sid in list(self._streams):
            self._finish(sid, "INTERNAL")
        self.close()

    # -- frames ------------------------------------------------------------------------------
    def _on_frame(self, kind: int, flags: int, sid: int, payload: bytes) -> None:
        if self._fragment is not None and kind != CONTINUATION:
            raise ValueError("a header block was interrupted")
        if kind == DATA:
            self._on_data(flags, sid, payload)
        elif kind == HEADERS:
            if flags & PADDED:
                payload = payload[1 : len(payload) - payload[0]]
            if flags & PRIORITY:
                payload = payload[5:]
            self._on_block(flags, sid, bytearray(payload))
        elif kind == CONTINUATION:
            if self._fragment is None or self._fragment[0] != sid:
                raise ValueError("CONTINUATION out of place")
            _, first_flags, block = self._fragment
            block += payload
            self._fragment = None
            self._on_block(first_flags | (flags & END_HEADERS), sid, block)
        elif kind == SETTINGS:
            if not flags & ACK:
                self._on_settings(payload)
        elif kind == WINDOW_UPDATE:
            grow = int.from_bytes(payload[:4], "big") & MAX_WINDOW
            if sid == 0:
                self._window += grow
            elif sid in self._streams:
                self._streams[sid].window += grow
            self._flush()
        elif kind == PING:
            if not flags & ACK:
                self._send(frame(PING, ACK, 0, payload))
        elif kind == RST_STREAM:
            code = int.from_bytes(payload[:4], "big")
            if not (code == REFUSED_STREAM and self._requeue(sid)):
                self._finish(sid, RST_TO_GRPC.get(code, "INTERNAL"))
        elif kind == GOAWAY:
            self._on_goaway(int.from_bytes(payload[:4], "big") & MAX_WINDOW)
        elif kind == PUSH_PROMISE:
            raise ValueError("a push promise after push was turned off")

    def _on_data(self, flags: int, sid: int, payload: bytes) -> None:
        size = len(payload)
        if flags & PADDED:
            payload = payload[1 : size - payload[0]]
        self._recv += size
        out: list[bytes] = []
        if self._recv >= TOP_UP:
            out.append(frame(WINDOW_UPDATE, 0, 0, self._recv.to_bytes(4, "big")))
            self._recv = 0
        stream = self._streams.get(sid)
        if stream is not None:
            if stream.first < 0:
                stream.first = time.perf_counter() - stream.start
            stream.size += len(payload)
            stream.recv += size
            if stream.recv >= TOP_UP:
                out.append(frame(WINDOW_UPDATE, 0, sid, stream.recv.to_bytes(4, "big")))
                stream.recv = 0
        if out:
            self._send(*out)
        if flags & END_STREAM and stream is not None:
            self._finish(sid, stream.status or "UNKNOWN")  # ended without trailers

    def _on_block(self, flags: int, sid: int, block: bytearray) -> None:
        if not flags & END_HEADERS:
            self._fragment = (sid, flags, block)
            return
        fields = self._headers.read(bytes(block))  # always: HPACK's table is the connection's
        stream = self._streams.get(sid)
        if stream is None:
            return
        for name, value in fields:
            if name == b"grpc-status":
                code = int(value)
                stream.status = GRPC_CODES[code] if 0 <= code < len(GRPC_CODES) else "UNKNOWN"
            elif name == b":status" and value != b"200" and not stream.status:
                stream.status = HTTP_TO_GRPC.get(int(value), "UNKNOWN")
        if flags & END_STREAM:
            self._finish(sid, stream.status or "UNKNOWN")

    def _on_settings(self, payload: bytes) -> None:
        for at in range(0, len(payload) - 5, 6):
            key, value = struct.unpack_from(">HI", payload, at)
            if key == 0x3:
                self._max_streams = value
            elif key == 0x4:
                for stream in self._streams.values():
                    stream.window += value - self._initial
                self._initial = value
            elif key == 0x5:
                self._max_frame = value
        self._send(frame(SETTINGS, ACK, 0))
        self._flush()

    def _on_goaway(self, last: int) -> None:
        self.draining = True
        self._release_waiting()
        for sid in [s for s in self._streams if s > last]:
            self._finish(sid, RETRY)
        if not self._streams:
            self.close()
