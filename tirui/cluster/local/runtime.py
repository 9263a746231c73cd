"""The local runtime: each deployment is one TorchServe process group on loopback ports.

Lifecycle, like a pod's: Starting (process up, no READY worker yet) → Ready (a worker is READY
per the management API; ``/ping`` is not readiness, docs/torchserve.md) → on process death Restarting
with exponential backoff (restart count and last exit reason kept) → back to Starting. A model
that never gets a READY worker within ``startup_timeout`` is Failed (its process group is stopped,
the reason comes from TorchServe's log); workers that stay down after having been Ready for
``startup_timeout`` get the process restarted. Scale = TorchServe workers.

A supervisor thread does the polling while a TUI (or a test) holds the runtime; the CLI uses it
without the thread (``supervise=False``) and leaves deployments running.

The runtime is a face over collaborators sharing one :class:`~tirui.cluster.local.fleet.LocalFleet`
(the lock, the deployments, the management-API client, the supervisor lease):
:class:`~tirui.cluster.local.versions.LocalVersions` (updates in place, rollbacks),
:class:`~tirui.cluster.local.canary.LocalCanaries`, :class:`~tirui.cluster.local.supervise.Supervisor`
(restarts and probes) and :class:`~tirui.cluster.local.supervise.LocalKeys`; processes start and
stop in :mod:`~tirui.cluster.local.process`, archives arrive by :mod:`~tirui.cluster.local.archive`.
"""

from __future__ import annotations

import builtins
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tirui.cluster.local.archive import check_archive, fetch_archive
from tirui.cluster.local.canary import LocalCanaries
from tirui.cluster.local.canary_file import canary_of
from tirui.cluster.local.dep import LocalDep, tail
from tirui.cluster.local.fleet import RUNNING, LocalFleet
from tirui.cluster.local.process import kill_process, start_process
from tirui.cluster.local.state import LocalState
from tirui.cluster.local.supervise import LocalKeys, Supervisor
from tirui.cluster.local.versions import LocalVersions
from tirui.cluster.runtime import (
    DEPLOY,
    ApplyResult,
    CanaryDelegation,
    DeploymentStatus,
    DeployOptions,
    ReplicaStatus,
)
from tirui.cluster.spec import DeploymentSpec
from tirui.config import local_profile
from tirui.core.errors import RuntimeFailure
from tirui.torchserve.server import Ports, ServerKeys, stop_group

if TYPE_CHECKING:
    from tirui.cluster.local.logs import LocalLogs
    from tirui.config import Profile
    from tirui.metrics.collector import ReplicaSource
    from tirui.secrets import TokenStore
    from tirui.storage.base import ObjectStore
    from tirui.torchserve.target import Target


class LocalRuntime(CanaryDelegation):
    """Deploy ``.mar`` archives as local TorchServe processes; thread-safe.
    :class:`~tirui.cluster.runtime.Runtime` with the Stoppable capability."""

    scale_unit = "worker"
    scale_label = "TorchServe workers"
    config_title = "Config"
    stops_on_exit = True
    delete_note = "Its processes stop and its files are removed."

    def __init__(
        self,
        root: Path,
        *,
        tokens: TokenStore | None = None,
        profile: Profile | None = None,
        startup_timeout: float = 120.0,
        backoff_max: float = 30.0,
        supervise: bool = True,
        poll: float = 0.25,
        probe_period: float = 5.0,
        temp_root: Path | None = None,
    ) -> None:
        """``profile``: the one deploys read archives from (``eos://`` sources) and tokens are
        kept under; ``supervise``: run the supervisor thread (the app; a CLI command does not);
        ``temp_root``: where each deployment's short TEMP dir goes (worker sockets, unpacked
        models). The timings are the :class:`~tirui.cluster.local.supervise.Supervisor`'s."""
        self.root = root
        self.tokens = tokens
        self.profile = profile or local_profile()
        self.temp_root = temp_root
        self.fleet = LocalFleet(root, startup_timeout=startup_timeout)
        self.versions = LocalVersions(self.fleet, self.get)
        self.canaries = LocalCanaries(self.fleet, self.versions, self.profile, tokens)
        CanaryDelegation.__init__(self, self.canaries)
        self.keys = LocalKeys(self.profile, tokens)
        self.supervisor = Supervisor(
            self.fleet,
            self.canaries,
            self.keys,
            poll=poll,
            probe_period=probe_period,
            backoff_max=backoff_max,
        )
        self.lease = self.fleet.lease
        self.started_here: set[str] = set()
        """What this runtime's user deployed or restarted: all that quitting may stop."""
        self.fleet.adopt()
        if supervise:
            self.supervisor.start()

    def tick(self) -> None:
        """One supervision round now (what the supervisor thread does every ``poll``)."""
        self.supervisor.tick()

    # -- queries -----------------------------------------------------------------------------
    def list(self) -> list[DeploymentStatus]:
        with self.fleet.lock:
            self.fleet.discover()
            return [self._status(d) for d in sorted(self.fleet.deps.values(), key=lambda d: d.state.name)]

    def get(self, name: str) -> DeploymentStatus:
        with self.fleet.lock:
            return self._status(self.fleet.dep(name))

    def _status(self, dep: LocalDep) -> DeploymentStatus:
        dep.state.refresh(dep.folder)  # what another tirui (a deploy, a scale) wrote since
        s = dep.state
        if not self.supervisor.supervising() and s.phase in RUNNING:
            self.supervisor.probe(dep)  # another tirui (or none) supervises it: look now
        running = s.phase in RUNNING
        replica = ReplicaStatus(
            name=f"{s.name}-0 (pgid {s.pgid})" if s.pgid else f"{s.name}-0",
            ready=s.phase == "Ready",
            phase=s.phase,
            restarts=s.restarts,
            reason=s.reason or s.last_exit,
            ready_workers=dep.ready_workers,
            workers=dep.workers_seen,
        )
        return DeploymentStatus(
            name=s.name,
            model=s.model,
            source=s.source,
            desired=s.workers,
            ready=dep.ready_workers if running else 0,
            restarts=s.restarts,
            status=s.phase,
            reason=s.reason or (f"last exit: {s.last_exit}" if s.last_exit else ""),
            endpoint=f"http://127.0.0.1:{s.ports['inference']}",
            created=s.created,
            replicas=[replica],
            image="local torchserve",
            version=s.version_text,
            model_version=s.model_version,
            previous=s.previous_text,
            canary=self.canaries.canary_status(s.name),
            settings=dict(dep.described),
            protocol=s.protocol,
        )

    def target(self, name: str) -> Target | None:
        from tirui.torchserve.grpc import GrpcEndpoint
        from tirui.torchserve.http import Endpoint
        from tirui.torchserve.target import Target

        with self.fleet.lock:
            dep = self.fleet.deps.get(name)
            if dep is None:
                return None
            p = dep.state.port_set
            canary = canary_of(dep.folder)
        keys = ServerKeys.read(dep.workdir)
        inf, mgmt = (keys.inference, keys.management) if keys else (None, None)
        return Target(
            name=name,
            http=Endpoint(f"http://127.0.0.1:{p.inference}", f"http://127.0.0.1:{p.management}", inf, mgmt),
            grpc=GrpcEndpoint(f"127.0.0.1:{p.grpc_inference}", f"127.0.0.1:{p.grpc_management}", inf, mgmt),
            token_source=f"TorchServe key_file.json of {name}",
            canary_version=str(canary.get("model_version", "")),
            canary_weight=int(canary.get("weight", 0)),
        )

    def events(self, name: str) -> builtins.list[tuple[float, str]]:
        """What happened to the deployment in this tirui session (like pod events)."""
        with self.fleet.lock:
            return list(self.fleet.dep(name).events)

    def config_text(self, name: str) -> str:
        """The rendered config.properties and state (the local analogue of the YAML view)."""
        dep = self.fleet.dep(name)
        try:
            config = (dep.workdir / "config.properties").read_text()
        except OSError:
            config = "(not started)"
        state = (dep.folder / "state.json").read_text() if (dep.folder / "state.json").exists() else ""
        return f"# {dep.workdir / 'config.properties'}\n{config}\n# {dep.folder / 'state.json'}\n{state}"

    def metrics_sources(self, name: str) -> builtins.list[ReplicaSource]:
        """The metrics endpoint and access log of each replica (one process locally)."""
        from tirui.metrics.collector import ReplicaSource

        with self.fleet.lock:
            dep = self.fleet.dep(name)
            if dep.state.phase not in RUNNING:
                return []
            port = dep.state.ports["metrics"]
        return [ReplicaSource(f"{name}-0", f"http://127.0.0.1:{port}/metrics", self.access_log(name))]

    def access_log(self, name: str) -> Path:
        return self.fleet.dep(name).workdir / "logs" / "access_log.log"

    def follow_logs(self, name: str) -> LocalLogs:
        """A follower of the deployment's TorchServe logs (reads when asked; nothing to stop)."""
        from tirui.cluster.local.logs import LocalLogs

        return LocalLogs(self.fleet.dep(name).workdir / "logs")

    def logs(self, name: str, lines: int = 200) -> builtins.list[str]:
        dep = self.fleet.dep(name)
        out: list[str] = []
        for file in ("ts_log.log", "model_log.log"):
            out += [f"[{file}] {line}" for line in tail(dep.workdir / "logs" / file, lines)]
        return out[-lines:]

    # -- deploy ------------------------------------------------------------------------------
    def deploy(self, spec: DeploymentSpec, how: DeployOptions = DEPLOY) -> ApplyResult:
        """:meth:`deploy_from` the profile's object store; a dry run checks only the spec, nothing
        is started (``force``/``prune_disk`` concern Kubernetes objects and mean nothing here)."""
        from tirui.storage.base import StorageError
        from tirui.storage.factory import open_store

        try:
            store = open_store(self.profile, self.tokens) if "://" in spec.source else None
            if how.dry_run:
                return check_archive(spec, store)
            status = self.deploy_from(spec, store)
        except StorageError as exc:
            raise RuntimeFailure(str(exc)) from None
        warnings = [w for w in (spec.archive_overrides(),) if w]
        if status.status == "Stopped":  # a stopped deployment takes the archive for its next start
            warnings.append(
                f"{spec.name} is stopped: it serves this archive once restarted (r, tirui restart)"
            )
        return ApplyResult([f"TorchServe/{spec.name}"], warnings=warnings, status=status)

    def deploy_from(self, spec: DeploymentSpec, store: ObjectStore | None = None) -> DeploymentStatus:
        """Download the archive and start TorchServe; returns at once (status Starting). An
        existing deployment is updated in place instead (:meth:`update`)."""
        spec.validate()
        with self.fleet.lock:
            if spec.name in self.fleet.deps:
                return self.versions.update(spec, store)
        folder = self.root / spec.name
        try:
            mar, model, etag, version = fetch_archive(spec, store, folder)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise RuntimeFailure(
                f"cannot put {spec.source} into the model store: {exc.strerror or exc}"
            ) from None
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        state = LocalState(
            name=spec.name,
            source=spec.source,
            model=model,
            mar_file=str(mar),
            ports=Ports.free().__dict__,
            tmp_dir=tempfile.mkdtemp(prefix="tirui-ts-", dir=self.temp_root),
            protocol=spec.protocol,
            etag=etag,
            created=time.time(),
            env=dict(spec.env),
            model_version=version,
        )
        state.settings = spec.settings()
        dep = LocalDep(state, folder)
        with self.fleet.lock:
            self.fleet.deps[spec.name] = dep
            start_process(dep)
            self.started_here.add(spec.name)
            return self._status(dep)

    # -- operations --------------------------------------------------------------------------
    def scale(self, name: str, count: int) -> None:
        """Set the TorchServe worker count (synchronously)."""
        from tirui.limits import WORKERS

        if problem := WORKERS.problem(count):
            raise RuntimeFailure(f"{name}: {problem}")
        with self.fleet.lock:
            dep = self.fleet.dep(name)
            keys = ServerKeys.read(dep.workdir)
            port = dep.state.ports["management"]
            model = dep.state.model
        if keys is None:
            raise RuntimeFailure(f"{name} is not running (no TorchServe keys yet)")
        try:
            r = self.fleet.http.put(
                f"http://127.0.0.1:{port}/models/{model}",
                params={"min_worker": count, "max_worker": count, "synchronous": "true"},
                headers={"Authorization": f"Bearer {keys.management}"},
                timeout=120,
            )
        except httpx.HTTPError as exc:
            raise RuntimeFailure(f"{name}: cannot reach TorchServe's management API ({exc})") from None
        if r.status_code >= 300:
            raise RuntimeFailure(f"{name}: scaling failed ({r.status_code}): {r.text.strip()[:200]}")
        with self.fleet.lock:
            dep.state.workers = count
            dep.next_probe = 0.0  # the new worker count shows at the next round
            dep.event(f"Scaled to {count} worker(s)")
            dep.state.save(dep.folder)

    def restart(self, name: str) -> None:
        dep = self._stop_outside_lock(name)
        with self.fleet.lock:
            dep.state.restarts += 1
            dep.state.last_exit = "restarted by the user"
            dep.event("Restart requested")
            start_process(dep)
            self.started_here.add(name)

    def stop(self, name: str) -> None:
        dep = self._stop_outside_lock(name)
        with self.fleet.lock:
            dep.state.phase, dep.state.reason = "Stopped", "stopped by the user"
            dep.event("Stopped by the user")
            dep.state.save(dep.folder)

    def delete(self, name: str) -> None:
        """Stop the process group and remove everything of the deployment."""
        dep = self._stop_outside_lock(name)
        with self.fleet.lock:
            self.fleet.deps.pop(name, None)
        self.keys.forget(name)
        shutil.rmtree(dep.state.tmp_dir, ignore_errors=True)
        shutil.rmtree(dep.folder, ignore_errors=True)

    def _stop_outside_lock(self, name: str) -> LocalDep:
        """Stop ``name``'s processes without holding the lock (a TorchServe can take many seconds
        to stop), so listing and the other deployments go on meanwhile."""
        with self.fleet.lock:
            dep = self.fleet.dep(name)
            pgid, proc = dep.state.pgid, dep.proc
            dep.stopping = True
            dep.proc, dep.state.pgid, dep.ready_workers = None, 0, 0
        try:
            if pgid:
                stop_group(pgid, proc=proc)
        finally:
            with self.fleet.lock:
                dep.stopping = False
        return dep

    def quitting_stops(self) -> builtins.list[str]:
        """The running deployments this runtime started (deployed or restarted by its user):
        what ``shutdown(keep_running=False)`` stops. One created or started by another tirui,
        or adopted from an earlier one, keeps running."""
        with self.fleet.lock:
            return sorted(
                name
                for name, dep in self.fleet.deps.items()
                if name in self.started_here and dep.state.pgid and dep.state.phase in RUNNING
            )

    def shutdown(self, *, keep_running: bool = True) -> None:
        """Stop the supervisor; ``keep_running=False`` (the app quitting without "keep them")
        stops what :meth:`quitting_stops` names too."""
        self.supervisor.stop()
        if not keep_running:
            with self.fleet.lock:
                for dep in self.fleet.deps.values():
                    dep.state.refresh(dep.folder)
                    if dep.state.name in self.started_here and dep.state.pgid:
                        kill_process(dep)
                        dep.state.phase, dep.state.reason = "Stopped", "stopped when tirui exited"
                        dep.event("Stopped when the tirui that started it exited")
                        dep.state.save(dep.folder)
        self.fleet.close()

    # -- versions (the canary calls: CanaryDelegation) -----------------------------------------
    def update(self, spec: DeploymentSpec, store: ObjectStore | None = None) -> DeploymentStatus:
        """Serve ``spec``'s archive in the running TorchServe without a restart."""
        return self.versions.update(spec, store)

    def rollback(self, name: str) -> ApplyResult:
        return self.versions.rollback(name)
