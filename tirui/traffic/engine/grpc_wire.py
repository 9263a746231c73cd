"""What a gRPC call is on the wire, for the load engine: the request's header block and message,
the target's address, and the gRPC statuses of answers that carry none.

No HTTP/2 here (:mod:`tirui.traffic.engine.http2` carries it), so these are the parts a test can
hold against gRPC's own encoding without a connection.
"""

from __future__ import annotations

RETRY = "retry"
"""A call's status when the server refused its stream (GOAWAY past it, REFUSED_STREAM): the
server never saw it, so it runs again on a new connection."""

HTTP_TO_GRPC = {
    400: "INTERNAL",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "UNIMPLEMENTED",
    429: "UNAVAILABLE",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "UNAVAILABLE",
}
"""A status for an answer without ``grpc-status`` (a proxy's error page), as gRPC maps them."""
RST_TO_GRPC = {0x7: RETRY, 0x8: "CANCELLED", 0xB: "RESOURCE_EXHAUSTED", 0xC: "PERMISSION_DENIED"}


def _int(value: int, prefix: int, flags: int) -> bytes:
    """An HPACK integer with a ``prefix``-bit prefix, the first byte's other bits ``flags``."""
    top = (1 << prefix) - 1
    if value < top:
        return bytes((flags | value,))
    out, value = bytearray((flags | top,)), value - top
    while value >= 128:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def header_block(path: str, authority: str, tls: bool, headers: dict[str, str], timeout: float) -> bytes:
    """A gRPC request's HPACK block: literals without indexing, good for every stream."""
    block = bytearray(b"\x83" + (b"\x87" if tls else b"\x86"))  # :method POST, :scheme (static)
    fields = [
        (":path", path),
        (":authority", authority),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        ("grpc-timeout", f"{max(1, int(timeout * 1000))}m"),
    ]
    lower = {k.lower() for k in headers}
    fields += [(k.lower(), v) for k, v in headers.items()]
    if "user-agent" not in lower:
        fields.append(("user-agent", "tirui-bench"))
    for name, value in fields:
        raw_name, raw_value = name.encode("latin-1"), value.encode("latin-1")
        block += b"\x00" + _int(len(raw_name), 7, 0) + raw_name + _int(len(raw_value), 7, 0) + raw_value
    return bytes(block)


def grpc_message(payload: bytes) -> bytes:
    """One length-prefixed gRPC message, uncompressed."""
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


def grpc_address(target: str, tls: bool) -> tuple[str, int]:
    """``(host, port)`` of a gRPC target: ``host:port``, ``[v6]:port``, ``dns:///host:port``;
    the port defaults to 443 (TLS) or 80."""
    rest = target.strip()
    for scheme in ("dns:///", "dns:"):
        if rest.startswith(scheme):
            rest = rest[len(scheme) :]
            break
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
        if tail and not tail.startswith(":"):
            raise ValueError(f"not a gRPC target (host:port): {target!r}")
    else:
        host, sep, port = rest.rpartition(":")
        if not sep:
            host, port = rest, ""
    if not host or "/" in host or " " in host or (port and not port.isdigit()):
        raise ValueError(f"not a gRPC target (host:port): {target!r}")
    number = int(port) if port else (443 if tls else 80)
    if not 0 < number < 65536:
        raise ValueError(f"not a port: {port!r}")
    return host, number
