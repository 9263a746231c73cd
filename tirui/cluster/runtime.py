"""The runtime contract shared by the local TorchServe runtime and the Kubernetes runtime."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tirui.canary.control import CanaryControl

if TYPE_CHECKING:
    from tirui.canary.feed import SideFeed
    from tirui.canary.state import CanaryStatus
    from tirui.cluster.spec import DeploymentSpec
    from tirui.config import Profile
    from tirui.metrics.collector import ReplicaSource
    from tirui.secrets import TokenStore
    from tirui.torchserve.target import Target


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
    version: str = ""
    """What is serving: archive, model version, ETag ("" when unknown)."""
    model_version: str = ""
    previous: str = ""
    """The version before it, which ``tirui rollback`` returns to ("" when none)."""
    canary: CanaryStatus | None = None
    """A canary running beside it, with its share of the traffic."""
    protocol: str = "torchserve"
    """The request format it takes: torchserve, kserve (KServe v1) or kservev2."""
    settings: dict[str, int] = field(default_factory=dict)
    """What TorchServe describes for the serving model: batchSize, maxBatchDelay (ms),
    responseTimeout (s), minWorkers, maxWorkers ({} when tirui cannot ask it)."""

    @property
    def age(self) -> str:
        seconds = max(0, int(time.time() - self.created)) if self.created else 0
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if seconds >= size:
                return f"{seconds // size}{unit}"
        return f"{seconds}s"


@dataclass(frozen=True)
class DeployOptions:
    """How a deploy goes: ``dry_run`` checks everything and changes nothing; ``force`` takes over
    fields another field manager owns (Kubernetes); ``prune_disk`` lets a re-deploy without a disk
    delete the model disk."""

    dry_run: bool = False
    force: bool = False
    prune_disk: bool = False


DEPLOY = DeployOptions()
"""A plain deploy."""


@dataclass
class ApplyResult:
    """What one deploy did (or, dry, would do): objects applied, objects pruned because the new
    spec no longer has them, disks kept because removing them needs a confirmation, warnings
    about the cluster (e.g. no metrics API), and the deployment's status right after."""

    applied: list[str]
    pruned: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    status: DeploymentStatus | None = None

    def lines(self) -> list[str]:
        """The account of it, one sentence a line, for the CLI and the UI."""
        would = "would " if self.dry_run else ""
        prefix = "dry run: " if self.dry_run else ""
        out = [f"{prefix}{len(self.applied)} object(s) {would}apply: {', '.join(self.applied)}"]
        if self.pruned:
            out.append(f"{would}remove (no longer in the spec): {', '.join(self.pruned)}")
        for ref in self.kept:
            out.append(
                f"kept {ref}: it holds the cached model and the new spec has no disk; "
                "--prune-disk (or the form's confirmation) deletes it"
            )
        out += [f"warning: {w}" for w in self.warnings]
        return out


class LogFollower(Protocol):
    appended: int
    """How many lines were kept so far in all (``lines()`` holds the most recent of them)."""

    def lines(self) -> builtins.list[str]: ...

    def since(self, seen: int) -> tuple[builtins.list[str], int]: ...

    def close(self) -> None: ...


@runtime_checkable
class Runtime(CanaryControl, Protocol):
    """What the screens and the CLI need from where models run (local TorchServe processes or a
    Kubernetes namespace): what every runtime does. What only some do is a capability below
    (:class:`Autoscalable`, :class:`Stoppable`, :class:`Watchable`, :class:`Reachable`), tested
    with ``isinstance``; how they differ in words is a trait (``scale_label``, ``stops_on_exit``,
    ``config_title``, ``delete_note``), never a test of which runtime it is.

    A runtime is opened for one profile and one token store (:func:`tirui.cluster.open.open_runtime`)
    and keeps them: the object store a deploy reads from and the keyring its tokens go to.
    Every call may block: the UI runs them in threads. Failures are
    :class:`~tirui.core.errors.RuntimeFailure` (or a subclass) with a sentence for the user."""

    profile: Profile
    """The profile it was opened for."""
    tokens: TokenStore | None
    """Where deployment tokens and store credentials are kept (None: environment only)."""
    scale_unit: str
    """What ``scale`` counts, singular: ``worker`` (local TorchServe workers) or ``replica`` (pods)."""
    scale_label: str
    """The same for a form's label: "TorchServe workers" or "Replicas"."""
    config_title: str
    """What ``config_text`` shows: "Config" (TorchServe's config.properties) or "YAML" (objects)."""
    stops_on_exit: bool
    """Whether its deployments end with the tirui that supervises them (local processes) unless
    kept; a cluster's deployments never do."""
    delete_note: str
    """What a delete removes, for the confirmation."""

    def list(self) -> builtins.list[DeploymentStatus]: ...

    def get(self, name: str) -> DeploymentStatus: ...

    def deploy(self, spec: DeploymentSpec, how: DeployOptions = DEPLOY) -> ApplyResult:
        """Deploy or re-deploy ``spec`` from the profile's store (``how.dry_run``: only check it);
        the one deploy behind ``tirui deploy`` and the form."""
        ...

    def rollback(self, name: str) -> ApplyResult:
        """Deploy the version ``name`` served before its last change again."""
        ...

    def scale(self, name: str, count: int) -> None: ...

    def restart(self, name: str) -> None: ...

    def delete(self, name: str) -> None: ...

    def logs(self, name: str, lines: int = 200) -> builtins.list[str]: ...

    def follow_logs(self, name: str) -> LogFollower:
        """The logs as they grow (every replica's)."""
        ...

    def events(self, name: str) -> builtins.list[tuple[float, str]]: ...

    def config_text(self, name: str) -> str: ...

    def metrics_sources(self, name: str) -> builtins.list[ReplicaSource]: ...

    def target(self, name: str) -> Target | None: ...

    def canary_start(self, name: str, source: str, weight: int, policy: str = "") -> CanaryStatus:
        """Run ``source`` beside the serving version with ``weight`` % of the traffic (the
        analysis in :mod:`tirui.canary.analysis` drives the rest of the ``canary_*`` calls)."""
        ...

    def quitting_stops(self) -> builtins.list[str]:
        """The deployments ``shutdown(keep_running=False)`` would stop: the running ones this
        runtime's user started, where deployments end with their supervisor (``stops_on_exit``);
        what the app names when it asks before quitting."""
        ...

    def shutdown(self, *, keep_running: bool = True) -> None:
        """Release what the runtime holds (threads, connections). ``keep_running=False`` also
        stops what :meth:`quitting_stops` names."""
        ...


@runtime_checkable
class Autoscalable(Protocol):
    """Runtimes with an autoscaler (Kubernetes HPA)."""

    def autoscale(
        self, name: str, min_replicas: int, max_replicas: int, metric: str = "cpu", target: str = "70"
    ) -> None: ...

    def autoscale_warning(self, metric: str) -> str: ...


@runtime_checkable
class Stoppable(Protocol):
    """Runtimes whose deployments can be stopped and kept listed (local processes)."""

    def stop(self, name: str) -> None: ...


@runtime_checkable
class Watchable(Protocol):
    """Runtimes that push changes (Kubernetes watches) instead of being polled."""

    def watch(self, on_change: Callable[[], None]) -> None: ...

    def watch_problem(self) -> str: ...


@runtime_checkable
class Reachable(Protocol):
    """Runtimes behind a server that can go away (the Kubernetes API server)."""

    context: str
    last_contact: float
    contact_error: str

    def ping(self) -> None: ...


class CanarySide(CanaryControl, Protocol):
    """A runtime's canary collaborator: starting a canary and the :class:`CanaryControl` calls."""

    def canary_start(self, name: str, source: str, weight: int, policy: str = "") -> CanaryStatus: ...


class CanaryDelegation:
    """The canary calls of a runtime's face, each handed to its canary collaborator (what both
    faces would otherwise write out, call for call)."""

    def __init__(self, canaries: CanarySide) -> None:
        self._canary_side = canaries

    def canary_start(self, name: str, source: str, weight: int, policy: str = "") -> CanaryStatus:
        return self._canary_side.canary_start(name, source, weight, policy)

    def canary_status(self, name: str) -> CanaryStatus | None:
        return self._canary_side.canary_status(name)

    def canary_weight(self, name: str, weight: int) -> None:
        self._canary_side.canary_weight(name, weight)

    def canary_promote(self, name: str) -> None:
        self._canary_side.canary_promote(name)

    def canary_abort(self, name: str) -> None:
        self._canary_side.canary_abort(name)

    def canary_record(self, name: str, text: str, *, warning: bool = False) -> None:
        self._canary_side.canary_record(name, text, warning=warning)

    def canary_feed(self, name: str) -> SideFeed:
        return self._canary_side.canary_feed(name)
