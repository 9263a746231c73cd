"""A stand-in for kube-proxy for one Service port: listens on 127.0.0.1 and sends each new
connection to one of the Service's *ready* endpoints, round robin, as read from the
EndpointSlices the real controller-manager keeps (a terminating pod leaves them at once, while its
own drain still serves what it was sent). Connection-level balancing, as kube-proxy's iptables mode
does; no session affinity, no topology hints."""

from __future__ import annotations

import itertools
import json
import socket
import threading
from contextlib import suppress
from typing import Any

from tests.support.containers import stamp
from tests.support.sandbox import _relay
from tirui.cluster.kube.api import Kind
from tirui.cluster.kube.discovery import Discovery


class ServiceProxy:
    def __init__(self, api: Any, namespace: str, service: str, port_name: str) -> None:
        self.api, self.namespace, self.service, self.port_name = api, namespace, service, port_name
        self.endpoints: list[tuple[str, int]] = []
        self.connections: dict[str, int] = {}
        self.log: list[str] = []
        """Connections sent to each endpoint IP."""
        self._turn = itertools.count()
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(256)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._watch, daemon=True).start()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _watch(self) -> None:
        # EndpointSlices in the version the server serves (discovery.k8s.io/v1 from 1.21,
        # v1beta1 before): the fields read here are the same in both
        slices = Kind(self.api, "EndpointSlice", Discovery(self.api), 10.0)
        while not self._stop.is_set():
            with suppress(Exception):
                raw = slices.list(
                    self.namespace,
                    label_selector=f"kubernetes.io/service-name={self.service}",
                    _preload_content=False,
                )
                found = []
                for s in json.loads(raw.data)["items"]:
                    ports = s.get("ports") or []
                    port = next((p["port"] for p in ports if p.get("name") == self.port_name), None)
                    for ep in s.get("endpoints") or []:
                        if port and (ep.get("conditions") or {}).get("ready"):
                            found += [(a, port) for a in ep["addresses"]]
                if sorted(found) != self.endpoints:
                    self.log.append(f"{stamp()} endpoints {sorted(found)}")
                self.endpoints = sorted(found)
            self._stop.wait(0.1)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            endpoints = self.endpoints
            if not endpoints:
                conn.close()  # no ready endpoint: refused, as kube-proxy rejects it
                continue
            ip, port = endpoints[next(self._turn) % len(endpoints)]
            try:
                upstream = socket.create_connection((ip, port), timeout=5)
            except OSError as e:
                self.log.append(f"{stamp()} {ip}:{port}: {e}")
                conn.close()
                continue
            upstream.settimeout(None)
            self.connections[ip] = self.connections.get(ip, 0) + 1
            threading.Thread(target=_relay, args=(conn, upstream), daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        with suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
