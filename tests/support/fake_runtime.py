"""An in-memory runtime for screen tests where a real one adds nothing (what a dialog asks, what
the table shows, how a failure reads). It keeps the whole :class:`~tirui.cluster.runtime.Runtime`
contract (``tests/contract`` checks its signatures against the protocol like the real ones) and
records each call; ``fail_next`` makes the next call of one method raise what a runtime raises.

Tests of what really happens to a deployment use the real runtimes (``tests/integration``).
"""

from __future__ import annotations

import builtins
import time
from dataclasses import dataclass, field, replace
from typing import Any

from tirui.canary.feed import SideFeed
from tirui.canary.state import CanaryStatus
from tirui.cluster.runtime import DEPLOY, ApplyResult, DeploymentStatus, DeployOptions, ReplicaStatus
from tirui.cluster.spec import DeploymentSpec
from tirui.config import Profile, local_profile
from tirui.core.errors import DeploymentNotFound, RuntimeFailure
from tirui.metrics.collector import ReplicaSource
from tirui.secrets import TokenStore


@dataclass
class FakeLogs:
    kept: list[str] = field(default_factory=list)
    appended: int = 0

    def lines(self) -> list[str]:
        return list(self.kept)

    def since(self, seen: int) -> tuple[list[str], int]:
        return self.kept[seen:], len(self.kept)

    def close(self) -> None:
        pass


def status(name: str, **kw: Any) -> DeploymentStatus:
    """A Ready one-replica deployment called ``name`` (fields overridden by ``kw``)."""
    base = DeploymentStatus(
        name=name,
        model=name,
        source=f"eos://models/{name}.mar",
        desired=1,
        ready=1,
        restarts=0,
        status="Ready",
        endpoint=f"http://{name}.example:8080",
        created=time.time(),
        replicas=[ReplicaStatus(f"{name}-0", True, "Ready", ready_workers=1, workers=1)],
        image="fake",
    )
    return replace(base, **kw)


class FakeRuntime:
    """Deployments in a dict. ``scale_unit`` and the traits are a cluster's (no stop, nothing
    ends with tirui), so the screens take their Kubernetes wording."""

    scale_unit = "replica"
    scale_label = "Replicas"
    config_title = "YAML"
    stops_on_exit = False
    delete_note = "It is removed from the fake."

    def __init__(self, *rows: DeploymentStatus, profile: Profile | None = None) -> None:
        self.profile = profile or local_profile()
        self.tokens: TokenStore | None = None
        self.rows = {r.name: r for r in rows}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.failures: dict[str, RuntimeFailure] = {}
        self.started: builtins.list[str] = []
        """What :meth:`quitting_stops` names (set ``stops_on_exit`` too, as a local runtime has)."""

    def fail_next(self, method: str, failure: RuntimeFailure) -> None:
        self.failures[method] = failure

    def _call(self, method: str, *args: Any) -> None:
        self.calls.append((method, args))
        failure = self.failures.pop(method, None)
        if failure is not None:
            raise failure

    def _row(self, name: str) -> DeploymentStatus:
        if name not in self.rows:
            raise DeploymentNotFound(f"no fake deployment named {name!r}")
        return self.rows[name]

    # -- the contract -------------------------------------------------------------------------
    def list(self) -> builtins.list[DeploymentStatus]:
        self._call("list")
        return [self.rows[n] for n in sorted(self.rows)]

    def get(self, name: str) -> DeploymentStatus:
        self._call("get", name)
        return self._row(name)

    def deploy(self, spec: DeploymentSpec, how: DeployOptions = DEPLOY) -> ApplyResult:
        self._call("deploy", spec, how)
        if not how.dry_run:
            self.rows[spec.name] = status(spec.name, source=spec.source, desired=spec.replicas)
        return ApplyResult([f"Fake/{spec.name}"], dry_run=how.dry_run, status=self.rows.get(spec.name))

    def rollback(self, name: str) -> ApplyResult:
        self._call("rollback", name)
        row = self._row(name)
        row.version, row.previous = row.previous, row.version
        return ApplyResult([f"Fake/{name}"], status=row)

    def scale(self, name: str, count: int) -> None:
        self._call("scale", name, count)
        self._row(name).desired = count

    def restart(self, name: str) -> None:
        self._call("restart", name)
        self._row(name).restarts += 1

    def delete(self, name: str) -> None:
        self._call("delete", name)
        self._row(name)
        del self.rows[name]

    def logs(self, name: str, lines: int = 200) -> builtins.list[str]:
        self._call("logs", name, lines)
        return [f"[{name}-0] fake log line"]

    def follow_logs(self, name: str) -> FakeLogs:
        self._call("follow_logs", name)
        return FakeLogs([f"[{name}-0] fake log line"], 1)

    def events(self, name: str) -> builtins.list[tuple[float, str]]:
        self._call("events", name)
        return []

    def config_text(self, name: str) -> str:
        self._call("config_text", name)
        return f"kind: Fake\nname: {name}\n"

    def metrics_sources(self, name: str) -> builtins.list[ReplicaSource]:
        self._call("metrics_sources", name)
        return []

    def target(self, name: str) -> None:
        self._call("target", name)
        return None

    def canary_start(self, name: str, source: str, weight: int, policy: str = "") -> CanaryStatus:
        self._call("canary_start", name, source, weight, policy)
        canary = CanaryStatus(source, weight, time.time(), policy=policy)
        self._row(name).canary = canary
        return canary

    def canary_status(self, name: str) -> CanaryStatus | None:
        return self._row(name).canary

    def canary_weight(self, name: str, weight: int) -> None:
        self._call("canary_weight", name, weight)
        canary = self._row(name).canary
        if canary is None:
            raise RuntimeFailure(f"{name} has no canary")
        canary.weight = weight

    def canary_promote(self, name: str) -> None:
        self._call("canary_promote", name)
        self._row(name).canary = None

    def canary_abort(self, name: str) -> None:
        self._call("canary_abort", name)
        self._row(name).canary = None

    def canary_record(self, name: str, text: str, *, warning: bool = False) -> None:
        self._call("canary_record", name, text)

    def canary_feed(self, name: str) -> SideFeed:
        raise RuntimeFailure("the fake runtime has no traffic to analyse")

    def quitting_stops(self) -> builtins.list[str]:
        return builtins.list(self.started) if self.stops_on_exit else []

    def shutdown(self, *, keep_running: bool = True) -> None:
        self._call("shutdown", keep_running)

    # -- what the tests read --------------------------------------------------------------------
    def called(self, method: str) -> builtins.list[tuple[Any, ...]]:
        """The arguments of each call of ``method`` so far."""
        return [args for m, args in self.calls if m == method]
