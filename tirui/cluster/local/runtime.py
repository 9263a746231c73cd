"""The local runtime: each deployment is one TorchServe process group on loopback ports.

Lifecycle, like a pod's: Starting (process up, no READY worker yet) → Ready (a worker is READY
per the management API; ``/ping`` is not readiness, docs/torchserve.md) → on process death Restarting
with exponential backoff (restart count and last exit reason kept) → back to Starting. A model
that never gets a READY worker within ``startup_timeout`` is Failed (its process group is stopped,
the reason comes from TorchServe's log); workers that stay down after having been Ready for
``startup_timeout`` get the process restarted. Scale = TorchServe workers.

A supervisor thread does the polling while a TUI (or a test) holds the runtime; the CLI uses it
without the thread (``supervise=False``) and leaves deployments running.
"""

from __future__ import annotations

import builtins
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tirui.cluster.local.canary import LocalCanaries, canary_of
from tirui.cluster.local.dep import LocalDep, tail
from tirui.cluster.local.lease import SupervisorLease
from tirui.cluster.local.state import LocalState
from tirui.cluster.local.supervise import Supervision
from tirui.cluster.local.versions import LocalVersions
from tirui.cluster.runtime import (
    DEPLOY,
    ApplyResult,
    DeploymentNotFound,
    DeploymentStatus,
    DeployOptions,
    ReplicaStatus,
    RuntimeFailure,
)
from tirui.cluster.spec import DeploymentSpec
from tirui.config import local_profile
from tirui.torchserve.server import (
    Ports,
    ServerConfig,
    ServerError,
    ServerKeys,
    group_alive,
    start_server,
    stop_group,
)

if TYPE_CHECKING:
    from tirui.cluster.local.logs import LocalLogs
    from tirui.config import Profile
    from tirui.metrics.collector import ReplicaSource
    from tirui.secrets import TokenStore
    from tirui.storage.base import ObjectStore
    from tirui.torchserve.target import Target


def _orphaned(state: LocalState) -> bool:
    """Running by its state file, with no process behind it (died, or not started yet)."""
    return state.phase in ("Starting", "Ready", "NotReady") and not (state.pgid and group_alive(state.pgid))


class LocalRuntime(LocalCanaries, LocalVersions, Supervision):
    """Deploy ``.mar`` archives as local TorchServe processes; thread-safe."""

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
        self.root = root
        self.tokens = tokens
        self.profile = profile or local_profile()
        """The profile deploys read archives from (``eos://`` sources) and tokens are kept under."""
        self.startup_timeout = startup_timeout
        self.backoff_max = backoff_max
        self.poll = poll
        self.probe_period = probe_period
        """Seconds between readiness checks of a started deployment (a kubelet's periodSeconds):
        each is a request in TorchServe's log, and every ``poll`` would be 4 lines a second."""
        self.temp_root = temp_root
        """Where each deployment's short TEMP dir goes (worker sockets, unpacked models)."""
        self._lock = threading.RLock()
        self._deps: dict[str, LocalDep] = {}
        self._stop = threading.Event()
        self._http = httpx.Client(timeout=3.0)
        self.lease = SupervisorLease(root)
        """Held by the one runtime on this folder that restarts, probes and stops deployments."""
        self._adopt()
        self._thread: threading.Thread | None = None
        if supervise:
            self._thread = threading.Thread(target=self._supervise, name="tirui-local-runtime", daemon=True)
            self._thread.start()

    # -- state -------------------------------------------------------------------------------
    def _adopt(self) -> None:
        """Load every state file; deployments whose processes still run are adopted, not restarted."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            state = LocalState.load(folder)
            if state is None:
                continue
            dep = LocalDep(state, folder)
            self._deps[state.name] = dep
            if _orphaned(state):
                state.phase = "Restarting"
                state.last_exit = "exited while tirui was not running"
                dep.next_restart = time.monotonic()

    def _discover(self) -> None:
        """What another tirui on this folder did since: deployments it created (once their
        process runs, or in a phase nobody restarts) and ones it deleted (the caller holds
        ``_lock``)."""
        if not self.root.is_dir():
            return
        names = set()
        for folder in sorted(self.root.iterdir()):
            if folder.name in self._deps:
                names.add(folder.name)
                continue
            state = LocalState.load(folder)
            if state is None or state.name in self._deps:
                continue
            names.add(state.name)
            if _orphaned(state):
                continue  # its creator is starting it: adopted once its process runs
            self._deps[state.name] = LocalDep(state, folder)
        for name, dep in list(self._deps.items()):
            if not dep.stopping and name not in names and LocalState.load(dep.folder) is None:
                del self._deps[name]  # deleted by the other tirui

    def _supervising(self) -> bool:
        return self._thread is not None and self.lease.held()

    def _dep(self, name: str) -> LocalDep:
        dep = self._deps.get(name)
        if dep is None:
            raise DeploymentNotFound(f"no local deployment named {name!r}")
        return dep

    # -- queries -----------------------------------------------------------------------------
    def list(self) -> list[DeploymentStatus]:
        with self._lock:
            self._discover()
            return [self._status(d) for d in sorted(self._deps.values(), key=lambda d: d.state.name)]

    def get(self, name: str) -> DeploymentStatus:
        with self._lock:
            return self._status(self._dep(name))

    def _status(self, dep: LocalDep) -> DeploymentStatus:
        dep.state.refresh(dep.folder)  # what another tirui (a deploy, a scale) wrote since
        s = dep.state
        if not self._supervising() and s.phase in ("Starting", "Ready", "NotReady"):
            self._probe(dep)  # another tirui (or none) supervises it: look now
        running = s.phase in ("Starting", "Ready", "NotReady")
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
            canary=self.canary_status(s.name),
            settings=dict(dep.described),
            protocol=s.protocol,
        )

    def target(self, name: str) -> Target | None:
        from tirui.torchserve.grpc import GrpcEndpoint
        from tirui.torchserve.http import Endpoint
        from tirui.torchserve.target import Target

        with self._lock:
            dep = self._deps.get(name)
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
        with self._lock:
            return list(self._dep(name).events)

    def config_text(self, name: str) -> str:
        """The rendered config.properties and state (the local analogue of the YAML view)."""
        dep = self._dep(name)
        try:
            config = (dep.workdir / "config.properties").read_text()
        except OSError:
            config = "(not started)"
        state = (dep.folder / "state.json").read_text() if (dep.folder / "state.json").exists() else ""
        return f"# {dep.workdir / 'config.properties'}\n{config}\n# {dep.folder / 'state.json'}\n{state}"

    def metrics_sources(self, name: str) -> builtins.list[ReplicaSource]:
        """The metrics endpoint and access log of each replica (one process locally)."""
        from tirui.metrics.collector import ReplicaSource

        with self._lock:
            dep = self._dep(name)
            if dep.state.phase not in ("Starting", "Ready", "NotReady"):
                return []
            port = dep.state.ports["metrics"]
        return [ReplicaSource(f"{name}-0", f"http://127.0.0.1:{port}/metrics", self.access_log(name))]

    def access_log(self, name: str) -> Path:
        return self._dep(name).workdir / "logs" / "access_log.log"

    def follow_logs(self, name: str) -> LocalLogs:
        """A follower of the deployment's TorchServe logs (reads when asked; nothing to stop)."""
        from tirui.cluster.local.logs import LocalLogs

        return LocalLogs(self._dep(name).workdir / "logs")

    def logs(self, name: str, lines: int = 200) -> builtins.list[str]:
        dep = self._dep(name)
        out: list[str] = []
        for file in ("ts_log.log", "model_log.log"):
            out += [f"[{file}] {line}" for line in tail(dep.workdir / "logs" / file, lines)]
        return out[-lines:]

    # -- deploy ------------------------------------------------------------------------------
    def _fetch(
        self, spec: DeploymentSpec, store: ObjectStore | None, folder: Path, file_name: str = ""
    ) -> tuple[Path, str, str, str]:
        """Put the archive in the model store (as ``file_name`` when given); returns (path, model
        name, etag, model version). Skips a cached copy."""
        from tirui.storage.mar import read_manifest
        from tirui.storage.uri import is_remote, parse_uri

        models = folder / "model-store"
        models.mkdir(parents=True, exist_ok=True)
        etag = ""
        if is_remote(spec.source):
            if store is None:
                raise RuntimeFailure("no object store to download the model from")
            uri = parse_uri(spec.source)
            target = models / (file_name or Path(uri.key).name)
            etag = store.head(uri.bucket, uri.key).etag
            old = LocalState.load(folder)
            if not (target.exists() and old is not None and old.etag == etag):
                store.download(uri.bucket, uri.key, target, overwrite=True)
        else:
            src = Path(spec.source).expanduser()
            if not src.is_file():
                raise RuntimeFailure(f"{src} is not a file")
            target = models / (file_name or src.name)
            shutil.copyfile(src, target)
        size = target.stat().st_size
        with target.open("rb") as f:

            def read(start: int, end: int) -> bytes:
                f.seek(start)
                return f.read(end - start + 1)

            try:
                manifest = read_manifest(read, size)
            except Exception as exc:
                raise RuntimeFailure(f"{spec.source} is not a usable model archive: {exc}") from None
        model = spec.model_name or manifest.model_name or target.stem
        spec.archive_config = manifest.model_config
        return target, model, etag, manifest.model_version

    def deploy(self, spec: DeploymentSpec, how: DeployOptions = DEPLOY) -> ApplyResult:
        """:meth:`deploy_from` the profile's object store; a dry run checks only the spec, nothing
        is started (``force``/``prune_disk`` concern Kubernetes objects and mean nothing here)."""
        from tirui.storage.base import StorageError
        from tirui.storage.factory import open_store

        try:
            store = open_store(self.profile, self.tokens) if "://" in spec.source else None
            if how.dry_run:
                return self._checked(spec, store)
            status = self.deploy_from(spec, store)
        except StorageError as exc:
            raise RuntimeFailure(str(exc)) from None
        warnings = [w for w in (spec.archive_overrides(),) if w]
        if status.status == "Stopped":  # a stopped deployment takes the archive for its next start
            warnings.append(
                f"{spec.name} is stopped: it serves this archive once restarted (r, tirui restart)"
            )
        return ApplyResult([f"TorchServe/{spec.name}"], warnings=warnings, status=status)

    @staticmethod
    def _checked(spec: DeploymentSpec, store: ObjectStore | None) -> ApplyResult:
        """A dry run: the spec is valid and its archive is there (a HEAD, no download)."""
        from tirui.storage.base import StorageError
        from tirui.storage.uri import parse_uri

        spec.validate()
        if store is not None:
            uri = parse_uri(spec.source)
            try:
                store.head(uri.bucket, uri.key)
            except StorageError as exc:
                raise RuntimeFailure(f"model archive {spec.source}: {exc} (nothing was changed)") from None
        elif not Path(spec.source).expanduser().is_file():
            raise RuntimeFailure(f"model archive {spec.source}: not a file (nothing was changed)")
        return ApplyResult([f"TorchServe/{spec.name}"], dry_run=True)

    def deploy_from(self, spec: DeploymentSpec, store: ObjectStore | None = None) -> DeploymentStatus:
        """Download the archive and start TorchServe; returns at once (status Starting). An
        existing deployment is updated in place instead (:meth:`update`)."""
        spec.validate()
        with self._lock:
            if spec.name in self._deps:
                return self.update(spec, store)
        folder = self.root / spec.name
        try:
            mar, model, etag, version = self._fetch(spec, store, folder)
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
            workers=spec.workers,
            batch_size=spec.batch_size,
            max_batch_delay_ms=spec.max_batch_delay_ms,
            response_timeout_s=spec.request_timeout_s,
            protocol=spec.protocol,
            etag=etag,
            created=time.time(),
            env=dict(spec.env),
            model_version=version,
        )
        dep = LocalDep(state, folder)
        with self._lock:
            self._deps[spec.name] = dep
            self._start(dep)
            return self._status(dep)

    def _start(self, dep: LocalDep) -> None:
        s = dep.state
        self._pause_canary(dep)  # TorchServe starts with the serving archive only
        if s.port_set.taken():
            s.ports = Ports.free().__dict__
        mar = Path(s.mar_file)
        config = ServerConfig(
            s.port_set,
            mar.parent,
            [f"{s.model}={mar.name}"],
            workers=s.workers,
            batch_size=s.batch_size,
            max_batch_delay_ms=s.max_batch_delay_ms,
            response_timeout_s=s.response_timeout_s,
            model_version=s.model_version,
            enable_model_api=True,
            extra={"service_envelope": s.protocol}
            if s.protocol != "torchserve"
            else {},  # in-place updates register a second version beside the first
        )
        try:
            Path(s.tmp_dir).mkdir(parents=True, exist_ok=True)
            dep.proc = start_server(dep.workdir, config, tmp_dir=Path(s.tmp_dir), env=s.env)
        except (ServerError, OSError) as exc:
            s.phase, s.reason, s.pgid = "Failed", str(exc), 0
            dep.proc = None
            dep.event(f"Failed to start: {exc}")
            s.save(dep.folder)
            return
        s.pgid = dep.proc.pid
        s.phase, s.reason = "Starting", ""
        s.started = time.time()
        dep.down_since = time.monotonic()
        dep.ready_workers = dep.workers_seen = 0
        dep.event(
            f"Started TorchServe (pgid {s.pgid}, REST {s.ports['inference']}, "
            f"gRPC {s.ports['grpc_inference']})"
        )
        s.save(dep.folder)

    # -- operations --------------------------------------------------------------------------
    def scale(self, name: str, count: int) -> None:
        """Set the TorchServe worker count (synchronously)."""
        if count < 0:
            raise RuntimeFailure("workers must be 0 or more")
        with self._lock:
            dep = self._dep(name)
            keys = ServerKeys.read(dep.workdir)
            port = dep.state.ports["management"]
            model = dep.state.model
        if keys is None:
            raise RuntimeFailure(f"{name} is not running (no TorchServe keys yet)")
        try:
            r = self._http.put(
                f"http://127.0.0.1:{port}/models/{model}",
                params={"min_worker": count, "max_worker": count, "synchronous": "true"},
                headers={"Authorization": f"Bearer {keys.management}"},
                timeout=120,
            )
        except httpx.HTTPError as exc:
            raise RuntimeFailure(f"{name}: cannot reach TorchServe's management API ({exc})") from None
        if r.status_code >= 300:
            raise RuntimeFailure(f"{name}: scaling failed ({r.status_code}): {r.text.strip()[:200]}")
        with self._lock:
            dep.state.workers = count
            dep.next_probe = 0.0  # the new worker count shows at the next round
            dep.event(f"Scaled to {count} worker(s)")
            dep.state.save(dep.folder)

    def restart(self, name: str) -> None:
        dep = self._stop_outside_lock(name)
        with self._lock:
            dep.state.restarts += 1
            dep.state.last_exit = "restarted by the user"
            dep.event("Restart requested")
            self._start(dep)

    def stop(self, name: str) -> None:
        dep = self._stop_outside_lock(name)
        with self._lock:
            dep.state.phase, dep.state.reason = "Stopped", "stopped by the user"
            dep.event("Stopped by the user")
            dep.state.save(dep.folder)

    def delete(self, name: str) -> None:
        """Stop the process group and remove everything of the deployment."""
        dep = self._stop_outside_lock(name)
        with self._lock:
            self._deps.pop(name, None)
        self._forget_keys(name)
        shutil.rmtree(dep.state.tmp_dir, ignore_errors=True)
        shutil.rmtree(dep.folder, ignore_errors=True)

    def _stop_outside_lock(self, name: str) -> LocalDep:
        """Stop ``name``'s processes without holding the lock (a TorchServe can take many seconds
        to stop), so listing and the other deployments go on meanwhile."""
        with self._lock:
            dep = self._dep(name)
            pgid, proc = dep.state.pgid, dep.proc
            dep.stopping = True
            dep.proc, dep.state.pgid, dep.ready_workers = None, 0, 0
        try:
            if pgid:
                stop_group(pgid, proc=proc)
        finally:
            with self._lock:
                dep.stopping = False
        return dep

    def _kill(self, dep: LocalDep) -> None:
        if dep.state.pgid:
            stop_group(dep.state.pgid, proc=dep.proc)
        dep.proc = None
        dep.state.pgid = 0
        dep.ready_workers = 0

    def shutdown(self, *, keep_running: bool = True) -> None:
        """Stop the supervisor; ``keep_running=False`` (the app quitting without "keep them")
        stops every deployment too, unless another tirui supervises them (holds the lease)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if not keep_running and self.lease.held():
            with self._lock:
                for dep in self._deps.values():
                    if dep.state.pgid:
                        self._kill(dep)
                        dep.state.phase, dep.state.reason = "Stopped", "stopped when tirui exited"
                        dep.state.save(dep.folder)
        self.lease.release()
        self._http.close()
