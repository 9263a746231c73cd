"""The kubelet's HTTPS endpoint, for the one thing the API server asks a kubelet for in these
tests: container logs (``GET /containerLogs/NS/POD/CONTAINER``, which the API server calls for
``kubectl logs`` and tirui's log follower). The Node gets an address of its own (a network
namespace, as a pod does, see :mod:`tests.support.sandbox`) and ``daemonEndpoints`` naming the
port; the API server dials it with TLS and, as configured here (no ``--kubelet-certificate-
authority``), does not verify the certificate, which is self-signed.

Served: ``follow``, ``timestamps``, ``tailLines``, ``sinceSeconds``, ``previous``, ``limitBytes``.
Not served: exec, attach, port-forward, metrics, stats.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

from kubernetes import client

from tests.support.pki import server_context
from tests.support.sandbox import PodNetwork, listen_in

if TYPE_CHECKING:
    from tests.support.kubelet import PodRunner

PORT = 10250


def _since(line_stamp: str) -> float:
    return dt.datetime.fromisoformat(line_stamp[:26] + "+00:00").timestamp()


class KubeletEndpoint:
    """Serves ``runner``'s container logs at the Node's address; :meth:`register` writes that
    address into the Node's status."""

    def __init__(self, runner: PodRunner) -> None:
        self.runner = runner
        self.net = PodNetwork()
        ctx = server_context(runner.root / "kubelet-pki", self.net.pod_ip)
        sock = listen_in(self.net.netns, PORT, self.net.pod_ip)
        self.server = ThreadingHTTPServer((self.net.pod_ip, PORT), _Handler, bind_and_activate=False)
        self.server.socket.close()
        self.server.socket = ctx.wrap_socket(sock, server_side=True)
        self.server.runner = runner  # type: ignore[attr-defined]
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def register(self, api: Any, node: str) -> None:
        client.CoreV1Api(api).patch_node_status(
            node,
            {
                "status": {
                    "addresses": [{"type": "InternalIP", "address": self.net.pod_ip}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": PORT}},
                }
            },
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.net.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "containerLogs":
            self.send_error(404, "the pod runner serves container logs only")
            return
        _, ns, pod, container = parts
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        runner: PodRunner = self.server.runner  # type: ignore[attr-defined]
        try:
            sink = runner.container(ns, pod, container).sink
        except (KeyError, StopIteration):
            self.send_error(404, f"container {container} of {ns}/{pod} is not on this node")
            return
        previous = q.get("previous") == "true"
        stamps = q.get("timestamps") == "true"
        run_index, lines = sink.snapshot(previous)
        if "sinceSeconds" in q:
            cut = time.time() - float(q["sinceSeconds"])
            lines = [(at, text) for at, text in lines if _since(at) >= cut]
        if "tailLines" in q:
            lines = lines[-int(q["tailLines"]) :] if int(q["tailLines"]) else []
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        budget = int(q["limitBytes"]) if "limitBytes" in q else -1
        sent = len(lines)

        def write(batch: list[tuple[str, str]]) -> bool:
            nonlocal budget
            data = "".join(f"{at} {text}\n" if stamps else f"{text}\n" for at, text in batch).encode()
            if budget >= 0:  # limitBytes: stop once it is used up
                data = data[:budget]
                budget -= len(data)
            if data:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            return budget != 0

        try:
            more = write(lines)
            while more and q.get("follow") == "true" and not previous:
                sink.wait(1.0)
                index, now = sink.snapshot(False)
                if index != run_index:  # the container restarted: a follow ends, as the kubelet's
                    break
                more = write(now[sent:])
                sent = len(now)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the API server closed the stream
            pass
