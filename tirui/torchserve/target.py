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

    def redacted(self) -> str:
        return f"{self.name} ({self.http.inference_url}, gRPC {self.grpc.inference_target})"
