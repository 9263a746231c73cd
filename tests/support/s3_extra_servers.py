"""Two small real HTTP servers for storage error paths moto cannot produce.

- a store that answers every request with ``503 SlowDown`` (what S3 sends when throttling);
- an HTTPS endpoint with a self-signed certificate (TLS verification must fail).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


class _SlowDown(http.server.BaseHTTPRequestHandler):
    hits = 0

    def _answer(self) -> None:
        type(self).hits += 1
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(SLOWDOWN)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(SLOWDOWN)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _serve(server: http.server.HTTPServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def slowdown_server() -> Iterator[tuple[str, type[_SlowDown]]]:
    handler = type("SlowDownHandler", (_SlowDown,), {"hits": 0})
    with _serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)) as port:
        yield f"http://127.0.0.1:{port}", handler


@contextmanager
def self_signed_https(tmp: Path) -> Iterator[str]:
    from tests.support.pki import server_context

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowDown)
    ctx = server_context(tmp)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with _serve(server) as port:
        yield f"https://127.0.0.1:{port}"


class _SlowProxy(http.server.BaseHTTPRequestHandler):
    """Forwards every request to ``upstream`` after ``delay`` seconds (a slow link to a real store)."""

    upstream = ""
    delay = 0.0
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        import http.client
        import time
        from urllib.parse import urlsplit

        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        time.sleep(self.delay)
        target = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        conn.request(self.command, self.path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        self.send_response(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def slow_proxy(upstream: str, delay: float) -> Iterator[str]:
    """A real HTTP proxy in front of ``upstream`` that holds each request for ``delay`` seconds."""
    handler = type("SlowProxyHandler", (_SlowProxy,), {"upstream": upstream, "delay": delay})
    with _serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)) as port:
        yield f"http://127.0.0.1:{port}"
