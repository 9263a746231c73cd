"""The runtime contract shared by the local TorchServe runtime and the Kubernetes runtime."""

from __future__ import annotations

import builtins
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tirui.cluster.spec import DeploymentSpec
    from tirui.storage.base import ObjectStore
    from tirui.targets import Target


class RuntimeError_(Exception):
    """A runtime operation failed; the message is a complete sentence for the user."""


class DeploymentNotFound(RuntimeError_):
    pass


class DeploymentExists(RuntimeError_):
    pass


@dataclass
class ReplicaStatus:
    """One replica (a pod, or a local TorchServe process)."""

    name: str
    ready: bool
    phase: str
    restarts: int = 0
    reason: str = ""
    ready_workers: int = 0
    workers: int = 0


@dataclass
class DeploymentStatus:
    """One row of the Deployments table."""

    name: str
    model: str
    source: str
    desired: int
    ready: int
    restarts: int
    status: str
    """Starting, Ready, NotReady, Restarting, Failed or Stopped."""
    reason: str = ""
    endpoint: str = ""
    created: float = 0.0
    replicas: list[ReplicaStatus] = field(default_factory=list)
    image: str = ""
    gpus: int = 0
    autoscale: str = ""
    """The autoscaler in words (range, metric, target, current value); "" without one."""
    autoscale_problem: str = ""
    """Why the autoscaler cannot act, with the fix ("" when healthy or absent)."""

    @property
    def age(self) -> str:
        seconds = max(0, int(time.time() - self.created)) if self.created else 0
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if seconds >= size:
                return f"{seconds // size}{unit}"
        return f"{seconds}s"


class Runtime(Protocol):
    """What the Deployments screen and the CLI need from where models run. Calls may block."""

    def list(self) -> list[DeploymentStatus]: ...

    def get(self, name: str) -> DeploymentStatus: ...

    def deploy(self, spec: DeploymentSpec, store: ObjectStore | None) -> DeploymentStatus: ...

    def scale(self, name: str, count: int) -> None: ...

    def restart(self, name: str) -> None: ...

    def delete(self, name: str) -> None: ...

    def logs(self, name: str, lines: int = 200) -> builtins.list[str]: ...

    def target(self, name: str) -> Target | None: ...
