"""What a request goes to: one TorchServe's HTTP and gRPC endpoints with their tokens. A leaf
module (it imports only the two clients), so runtimes and the request side share it without
import cycles."""

from __future__ import annotations

from dataclasses import dataclass

from tirui.torchserve.grpc import GrpcEndpoint
from tirui.torchserve.http import Endpoint


def takes_canary(weight: int) -> bool:
    """Whether one request goes to the canary: ``weight`` % of calls do."""
    import random

    return weight > 0 and random.random() * 100 < weight


def versioned_path(path: str, version: str) -> str:
    """``/predictions/<model>`` or ``/explanations/<model>`` (a URL ending so, query kept) with
    ``/<version>`` appended; "" for any other path (one naming a version already, management)."""
    head, sep, query = path.partition("?")
    parts = head.split("://", 1)[-1].strip("/").split("/")
    if "://" in path:
        parts = parts[1:]  # the host
    if not version or len(parts) != 2 or parts[0] not in ("predictions", "explanations"):
        return ""
    return f"{head.rstrip('/')}/{version}{sep}{query}"


class TargetError(Exception):
    """The target cannot be resolved; the message says why and what to type instead."""


@dataclass(frozen=True)
class Target:
    """Everything needed to reach one TorchServe over HTTP and gRPC."""

    name: str
    http: Endpoint
    grpc: GrpcEndpoint
    token_source: str = ""
    """Where the token came from (for display; never the token itself)."""
    canary_version: str = ""
    canary_weight: int = 0
    """Locally, a canary version runs beside the stable one and tirui's own clients send this
    percentage of their requests to it (on Kubernetes the Ingress splits; these stay empty)."""

    def pick_version(self, explicit: str = "") -> str:
        """The model version one request should name: ``explicit`` if given, else the canary's
        version for ``canary_weight`` % of calls, else "" (the default, stable version)."""
        if explicit or not self.canary_version:
            return explicit
        return self.canary_version if takes_canary(self.canary_weight) else ""

    def route_path(self, path: str) -> str:
        """``/predictions/<model>`` (or ``/explanations/<model>``) with the version
        :meth:`pick_version` picks; any other path (one naming a version, management) as is."""
        if not versioned_path(path, self.canary_version):
            return path
        return versioned_path(path, self.pick_version()) or path

    def redacted(self) -> str:
        return f"{self.name} ({self.http.inference_url}, gRPC {self.grpc.inference_target})"
