"""Supervision of local deployments (a collaborator of
:class:`~tirui.cluster.local.runtime.LocalRuntime`): the thread that probes each TorchServe for
READY workers, restarts dead ones with back-off, fails models that never get ready, and copies
TorchServe's fresh keys into the token store."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING

import httpx

from tirui.cluster.local.dep import failure_reason, started_on_this_clock
from tirui.cluster.local.process import alive, kill_process, start_process
from tirui.crash_log import record
from tirui.torchserve.server import ServerKeys
from tirui.torchserve.settings import described_settings

if TYPE_CHECKING:
    from tirui.cluster.local.canary import LocalCanaries
    from tirui.cluster.local.dep import LocalDep
    from tirui.cluster.local.fleet import LocalFleet
    from tirui.config import Profile
    from tirui.secrets import TokenStore


class Supervisor:
    """The supervision thread of one runtime: it acts only while it holds the folder's lease."""

    def __init__(
        self,
        fleet: LocalFleet,
        canaries: LocalCanaries,
        keys: LocalKeys,
        *,
        poll: float,
        probe_period: float,
        backoff_max: float,
    ) -> None:
        """``poll``: seconds between rounds; ``probe_period``: between readiness checks of a
        started deployment (a kubelet's periodSeconds: each is a request in TorchServe's log);
        ``backoff_max``: the longest wait before a restart."""
        self.fleet = fleet
        self.canaries = canaries
        self.keys = keys
        self.poll = poll
        self.probe_period = probe_period
        self.backoff_max = backoff_max
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tirui-local-runtime", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def supervising(self) -> bool:
        """Whether this runtime's thread runs and holds the lease (else a status probes itself)."""
        return self._thread is not None and self.fleet.lease.held()

    def _run(self) -> None:
        last = ""
        while not self._stop.wait(self.poll):
            try:
                self.tick()
                last = ""
            except Exception as exc:  # a failed round must not end supervision: the next retries
                seen = f"{type(exc).__name__}: {exc}"
                if seen != last:  # in the crash log once per failure, not once per poll
                    last = seen
                    with contextlib.suppress(OSError):
                        record("the local runtime's supervisor", exc)

    def tick(self) -> None:
        """One supervision round over every deployment, by the one runtime on the folder that
        holds the supervisor lease (another tirui on the same data dir only reads)."""
        if not self.fleet.lease.held():
            return
        with self.fleet.lock:
            self.fleet.discover()
            deps = list(self.fleet.deps.values())
        for dep in deps:
            with self.fleet.lock:
                if dep.state.name in self.fleet.deps:
                    self._check(dep)

    def _check(self, dep: LocalDep) -> None:
        if dep.stopping:
            return
        dep.state.refresh(dep.folder)
        s = dep.state
        if s.pgid != dep.seen_pgid:  # another tirui started it (again): watch its process group,
            dep.seen_pgid = s.pgid  # from when that tirui started it
            if dep.proc is not None and dep.proc.pid != s.pgid:
                dep.proc = None
            dep.down_since = started_on_this_clock(s)
        now = time.monotonic()
        if s.phase == "Restarting":
            if now >= dep.next_restart:
                start_process(dep)
            return
        if s.phase not in ("Starting", "Ready", "NotReady"):
            return
        if not alive(dep):
            code = dep.proc.returncode if dep.proc is not None else None
            reason = failure_reason(dep.workdir)
            kill_process(dep)
            s.restarts += 1
            s.last_exit = (f"exit code {code}" if code is not None else "process ended") + (
                f": {reason}" if reason else ""
            )
            delay = min(self.backoff_max, 2.0 ** min(s.restarts - 1, 10))
            dep.next_restart = now + delay
            s.phase, s.reason = "Restarting", f"back-off {delay:.0f}s after {s.last_exit}"
            dep.event(f"Exited ({s.last_exit}); restarting in {delay:.0f}s")
            s.save(dep.folder)
            return
        if s.phase != "Starting" and now < dep.next_probe:
            return  # started: checked every probe_period (while starting, every poll)
        dep.next_probe = now + self.probe_period
        self.probe(dep)
        if s.phase == "Ready":
            return
        if now - dep.down_since > self.fleet.startup_timeout:
            reason = failure_reason(dep.workdir) or "no READY worker"
            if not s.ever_ready:
                kill_process(dep)
                s.phase = "Failed"
                s.reason = (
                    f"the model never got a READY worker in {self.fleet.startup_timeout:.0f}s: {reason}"
                )
                dep.event(f"Failed: {s.reason}")
                s.save(dep.folder)
            else:
                kill_process(dep)
                s.restarts += 1
                s.last_exit = f"workers stayed down for {self.fleet.startup_timeout:.0f}s: {reason}"
                dep.event(f"Restarting: {s.last_exit}")
                start_process(dep)

    def probe(self, dep: LocalDep) -> None:
        """Ask the management API for READY workers; copy fresh keys into the token store."""
        s = dep.state
        keys_file = dep.workdir / "key_file.json"
        keys = ServerKeys.read(dep.workdir)
        if keys is None:
            return
        with contextlib.suppress(OSError):
            mtime = keys_file.stat().st_mtime
            if mtime != dep.keys_mtime:
                dep.keys_mtime = mtime
                self.keys.remember(s.name, keys)
        try:
            r = self.fleet.http.get(
                f"http://127.0.0.1:{s.ports['management']}/models/{s.model}",
                headers={"Authorization": f"Bearer {keys.management}"},
            )
            described = r.json()[0] if r.status_code == 200 else {}
            workers = described.get("workers", [])
            dep.described = described_settings(described) or dep.described
        except (httpx.HTTPError, ValueError, IndexError, KeyError, AttributeError):
            workers = []
        dep.workers_seen = len(workers)
        dep.ready_workers = sum(1 for w in workers if w.get("status") == "READY")
        before = s.phase
        if dep.ready_workers:
            s.phase, s.reason, s.ever_ready = "Ready", "", True
            dep.down_since = time.monotonic()
        elif s.phase == "Ready":
            s.phase, s.reason = "NotReady", "no READY worker"
            dep.down_since = time.monotonic()
        if s.phase != before:
            dep.event(f"{s.phase}: {dep.ready_workers}/{dep.workers_seen} worker(s) READY")
            s.save(dep.folder)
        if s.phase == "Ready":
            self.canaries.resume(dep)


class LocalKeys:
    """TorchServe's keys of each deployment, copied into the token store (``local/<name>``) so
    ``tirui tokens`` and other clients find them; gone with the deployment."""

    def __init__(self, profile: Profile, tokens: TokenStore | None) -> None:
        self.profile = profile
        self.tokens = tokens

    def remember(self, name: str, keys: ServerKeys) -> None:
        from tirui.secrets import SecretStoreError, TokenRef

        store = self.tokens
        if store is None or not store.available or store.read_only:
            return
        with contextlib.suppress(SecretStoreError):
            store.set(TokenRef(self.profile.name, f"local/{name}", "inference"), keys.inference)
            store.set(TokenRef(self.profile.name, f"local/{name}", "management"), keys.management)

    def forget(self, name: str) -> None:
        from tirui.secrets import SecretStoreError, TokenRef

        store = self.tokens
        if store is None or not store.available or store.read_only:
            return
        for kind in ("inference", "management"):
            with contextlib.suppress(SecretStoreError):
                store.delete(TokenRef(self.profile.name, f"local/{name}", kind))
