"""The deployments of one local folder as a runtime holds them: one lock over the bookkeeping of
each (:class:`~tirui.cluster.local.dep.LocalDep`), the state files read back on open and on
every listing (another tirui on the same folder may have changed them), and the way to the
management API of a running TorchServe.

Every collaborator of :class:`~tirui.cluster.local.runtime.LocalRuntime` shares one fleet.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from tirui.cluster.local.dep import LocalDep
from tirui.cluster.local.lease import SupervisorLease
from tirui.cluster.local.state import LocalState
from tirui.cluster.local.update import Swap
from tirui.cluster.spec import DeploymentSpec
from tirui.core.errors import DeploymentNotFound
from tirui.torchserve.server import ServerKeys, group_alive

RUNNING = ("Starting", "Ready", "NotReady")
"""The phases in which a deployment has a TorchServe process (or should have one)."""


def orphaned(state: LocalState) -> bool:
    """Running by its state file, with no process behind it (died, or not started yet)."""
    return state.phase in RUNNING and not (state.pgid and group_alive(state.pgid))


class LocalFleet:
    """The deployments under ``root``; ``lock`` guards ``deps`` and every deployment's state."""

    def __init__(self, root: Path, *, startup_timeout: float) -> None:
        self.root = root
        self.startup_timeout = startup_timeout
        """How long a model may take to get a READY worker (and a version swap to load)."""
        self.lock = threading.RLock()
        self.deps: dict[str, LocalDep] = {}
        self.http = httpx.Client(timeout=3.0)
        self.lease = SupervisorLease(root)
        """Held by the one runtime on this folder that restarts, probes and stops deployments."""

    def dep(self, name: str) -> LocalDep:
        """The deployment called ``name`` (:class:`DeploymentNotFound` without one)."""
        dep = self.deps.get(name)
        if dep is None:
            raise DeploymentNotFound(f"no local deployment named {name!r}")
        return dep

    def adopt(self) -> None:
        """Load every state file; deployments whose processes still run are adopted, not restarted."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            state = LocalState.load(folder)
            if state is None:
                continue
            dep = LocalDep(state, folder)
            self.deps[state.name] = dep
            if orphaned(state):
                state.phase = "Restarting"
                state.last_exit = "exited while tirui was not running"
                dep.next_restart = time.monotonic()

    def discover(self) -> None:
        """What another tirui on this folder did since: deployments it created (once their
        process runs, or in a phase nobody restarts) and ones it deleted (the caller holds
        ``lock``)."""
        if not self.root.is_dir():
            return
        names = set()
        for folder in sorted(self.root.iterdir()):
            if folder.name in self.deps:
                names.add(folder.name)
                continue
            state = LocalState.load(folder)
            if state is None or state.name in self.deps:
                continue
            names.add(state.name)
            if orphaned(state):
                continue  # its creator is starting it: adopted once its process runs
            self.deps[state.name] = LocalDep(state, folder)
        for name, dep in list(self.deps.items()):
            if not dep.stopping and name not in names and LocalState.load(dep.folder) is None:
                del self.deps[name]  # deleted by the other tirui

    def swap(self, dep: LocalDep, spec: DeploymentSpec | None = None) -> Swap | None:
        """How to reach the running TorchServe's management API to change what it serves, with
        ``spec``'s workers and batching (the current ones without); None when it is not running."""
        s = dep.state
        keys = ServerKeys.read(dep.workdir)
        if not (s.phase in RUNNING and s.pgid and keys is not None):
            return None
        return Swap(
            f"http://127.0.0.1:{s.ports['management']}",
            keys.management,
            s.model,
            spec.settings() if spec else s.settings,
            timeout=self.startup_timeout,
            deployment=s.name,
        )

    def close(self) -> None:
        self.lease.release()
        self.http.close()
