"""Container probes and lifecycle hooks as the kubelet runs them: ``exec`` inside the container,
``httpGet`` and ``tcpSocket`` dialled at the pod IP from the node (the host), with the probe's
``timeoutSeconds``; the thresholds and periods are applied by :mod:`tests.support.kubelet`."""

from __future__ import annotations

import http.client
import socket
from typing import Any

from tests.support.containers import ContainerProcess


def _port(container: dict[str, Any], port: Any) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for p in container.get("ports", []):
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"no container port named {port!r}")


def run_handler(
    handler: dict[str, Any], run: ContainerProcess, container: dict[str, Any], pod_ip: str, timeout: float
) -> tuple[bool, str]:
    """One probe (or hook) attempt: (succeeded, what it said)."""
    if "exec" in handler:
        code, out = run.exec(handler["exec"]["command"], timeout)
        return code == 0, out.strip()[-500:] or f"exit code {code}"
    if "httpGet" in handler:
        h = handler["httpGet"]
        port = _port(container, h["port"])
        try:
            conn = http.client.HTTPConnection(h.get("host") or pod_ip, port, timeout=timeout)
            headers = {x["name"]: x["value"] for x in h.get("httpHeaders", [])}
            conn.request("GET", h.get("path", "/"), headers={"User-Agent": "kube-probe/1.29", **headers})
            status = conn.getresponse().status
            conn.close()
        except OSError as e:
            return False, f'Get "http://{pod_ip}:{port}{h.get("path", "/")}": {e}'
        return 200 <= status < 400, f"HTTP probe failed with statuscode: {status}"
    if "tcpSocket" in handler:
        port = _port(container, handler["tcpSocket"]["port"])
        try:
            socket.create_connection((pod_ip, port), timeout=timeout).close()
        except OSError as e:
            return False, f"dial tcp {pod_ip}:{port}: {e}"
        return True, ""
    raise ValueError(f"unsupported handler {handler}")
