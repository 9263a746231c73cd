"""A minimal gRPC server for the gRPC engine benchmark: every call answered at once, like nginx's
``return 200`` in ``engine_vs_hey.py``, so what is measured is the client.

``python benchmarks/grpc_static_target.py PORT``: one process on uvloop, HTTP/2 without TLS. Each
stream that ends (END_STREAM on its DATA or HEADERS) is answered ``PredictionResponse(prediction=
b"[10.5, -10.5]")`` with ``grpc-status: 0``, whatever it asked (the request's headers are not
read; its HPACK table is not needed to answer). This side's three frames are encoded once with
literal header fields; only the stream id changes. Windows are opened wide at the start and
topped up, SETTINGS and PING acknowledged. It is a benchmark target, not a server: written from
RFC 7540/7541 and gRPC's wire format, and checked by both clients reading its answers.
"""

from __future__ import annotations

import asyncio
import struct
import sys
from typing import cast

from tirui.torchserve.protos import inference_pb2

MAX_WINDOW = 2**31 - 1
SETTINGS, HEADERS, DATA, PING, WINDOW_UPDATE, GOAWAY = 0x4, 0x1, 0x0, 0x6, 0x8, 0x7
END_STREAM, END_HEADERS, ACK, PADDED, PRIORITY = 0x1, 0x4, 0x1, 0x8, 0x20


def _literal(name: bytes, value: bytes) -> bytes:
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes((len(name),)) + name + bytes((len(value),)) + value


HEAD = b"\x88" + _literal(b"content-type", b"application/grpc")  # :status 200 (static index 8)
TRAILERS = _literal(b"grpc-status", b"0")
PAYLOAD = inference_pb2.PredictionResponse(prediction=b"[10.5, -10.5]").SerializeToString()
MESSAGE = b"\x00" + len(PAYLOAD).to_bytes(4, "big") + PAYLOAD


def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return struct.pack(">IBI", len(payload) << 8 | kind, flags, stream) + payload


# The answer with the stream id's four bytes left out at the three places they go.
_A = _frame(HEADERS, END_HEADERS, 0, HEAD)
_B = _frame(DATA, 0, 0, MESSAGE)
_C = _frame(HEADERS, END_HEADERS | END_STREAM, 0, TRAILERS)
PARTS = (_A[:5], _A[9:] + _B[:5], _B[9:] + _C[:5], _C[9:])


class Server(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.buf = bytearray()
        self.preface = False
        self.received = 0
        settings = struct.pack(">HIHI", 0x3, 1000, 0x4, MAX_WINDOW)
        opened = (MAX_WINDOW - 65535).to_bytes(4, "big")
        self.transport.write(_frame(SETTINGS, 0, 0, settings) + _frame(WINDOW_UPDATE, 0, 0, opened))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        if not self.preface:
            if len(buf) < 24:
                return
            pos, self.preface = 24, True
        out: list[bytes] = []
        end = len(buf)
        while end - pos >= 9:
            head, flags, sid = struct.unpack_from(">IBI", buf, pos)
            length, kind = head >> 8, head & 0xFF
            if end - pos < 9 + length:
                break
            if kind == DATA:
                self.received += length
            elif kind == SETTINGS and not flags & ACK:
                out.append(_frame(SETTINGS, ACK, 0, b""))
            elif kind == PING and not flags & ACK:
                out.append(_frame(PING, ACK, 0, bytes(buf[pos + 9 : pos + 17])))
            if kind in (DATA, HEADERS) and flags & END_STREAM:
                sid_bytes = (sid & MAX_WINDOW).to_bytes(4, "big")
                out.append(sid_bytes.join(PARTS))
            pos += 9 + length
        del buf[:pos]
        if self.received > 2**30:
            out.append(_frame(WINDOW_UPDATE, 0, 0, self.received.to_bytes(4, "big")))
            self.received = 0
        if out:
            self.transport.write(b"".join(out))


async def main(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Server, "127.0.0.1", port, backlog=1024)
    await server.serve_forever()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(int(sys.argv[1])))
