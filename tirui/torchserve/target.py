"""What a request goes to: one TorchServe's HTTP and gRPC endpoints with their tokens. A leaf
module (it imports only the two clients), so runtimes and the request side share it without
import cycles."""

from __future__ import annotations

from dataclasses import dataclass

from tirui.torchserve.grpc import GrpcEndpoint
from tirui.torchserve.http import Endpoint


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
        if explicit or not self.canary_version or self.canary_weight <= 0:
            return explicit
        import random

        return self.canary_version if random.random() * 100 < self.canary_weight else ""

    def route_path(self, path: str) -> str:
        """``/predictions/<model>`` (or ``/explanations/<model>``) with the version
        :meth:`pick_version` picks; any other path (one naming a version, management) as is."""
        head, sep, query = path.partition("?")
        parts = head.strip("/").split("/")
        if len(parts) != 2 or parts[0] not in ("predictions", "explanations"):
            return path
        version = self.pick_version()
        return f"{head.rstrip('/')}/{version}{sep}{query}" if version else path

    def redacted(self) -> str:
        return f"{self.name} ({self.http.inference_url}, gRPC {self.grpc.inference_target})"
