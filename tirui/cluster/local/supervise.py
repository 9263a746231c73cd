"""Supervision of local deployments (a mixin of :class:`~tirui.cluster.local.runtime.LocalRuntime`): the
thread that probes each TorchServe for READY workers, restarts dead ones with back-off, fails
models that never get ready, and copies TorchServe's fresh keys into the token store."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING

import httpx

from tirui.cluster.local.dep import failure_reason
from tirui.torchserve.server import ServerKeys, group_alive
from tirui.torchserve.settings import described_settings

if TYPE_CHECKING:
    from tirui.cluster.local.dep import LocalDep
    from tirui.cluster.local.lease import SupervisorLease
    from tirui.config import Profile
    from tirui.secrets import TokenStore


class Supervision:
    _lock: threading.RLock
    _http: httpx.Client
    _deps: dict[str, LocalDep]
    _stop: threading.Event
    poll: float
    probe_period: float
    backoff_max: float
    startup_timeout: float
    profile: Profile
    tokens: TokenStore | None
    lease: SupervisorLease

    if TYPE_CHECKING:

        def _discover(self) -> None: ...

        def _start(self, dep: LocalDep) -> None: ...

        def _kill(self, dep: LocalDep) -> None: ...

        def _resume_canary(self, dep: LocalDep) -> None: ...

    def _supervise(self) -> None:
        while not self._stop.wait(self.poll):
            with contextlib.suppress(Exception):
                self.tick()

    def tick(self) -> None:
        """One supervision round over every deployment, by the one runtime on the folder that
        holds the supervisor lease (another tirui on the same data dir only reads)."""
        if not self.lease.held():
            return
        with self._lock:
            self._discover()
            deps = list(self._deps.values())
        for dep in deps:
            with self._lock:
                if dep.state.name in self._deps:
                    self._check(dep)

    def _alive(self, dep: LocalDep) -> bool:
        if dep.proc is not None:
            return dep.proc.poll() is None
        return bool(dep.state.pgid) and group_alive(dep.state.pgid)

    def _check(self, dep: LocalDep) -> None:
        if dep.stopping:
            return
        if dep.state.refresh(dep.folder) and dep.proc is not None and dep.proc.pid != dep.state.pgid:
            dep.proc = None  # another tirui started it again: its process group is the one to watch
        s = dep.state
        now = time.monotonic()
        if s.phase == "Restarting":
            if now >= dep.next_restart:
                self._start(dep)
            return
        if s.phase not in ("Starting", "Ready", "NotReady"):
            return
        if not self._alive(dep):
            code = dep.proc.returncode if dep.proc is not None else None
            reason = failure_reason(dep.workdir)
            self._kill(dep)
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
        self._probe(dep)
        if s.phase == "Ready":
            return
        if now - dep.down_since > self.startup_timeout:
            reason = failure_reason(dep.workdir) or "no READY worker"
            if not s.ever_ready:
                self._kill(dep)
                s.phase = "Failed"
                s.reason = f"the model never got a READY worker in {self.startup_timeout:.0f}s: {reason}"
                dep.event(f"Failed: {s.reason}")
                s.save(dep.folder)
            else:
                self._kill(dep)
                s.restarts += 1
                s.last_exit = f"workers stayed down for {self.startup_timeout:.0f}s: {reason}"
                dep.event(f"Restarting: {s.last_exit}")
                self._start(dep)

    def _probe(self, dep: LocalDep) -> None:
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
                self._remember_keys(s.name, keys)
        try:
            r = self._http.get(
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
            self._resume_canary(dep)

    # -- keys --------------------------------------------------------------------------------
    def _remember_keys(self, name: str, keys: ServerKeys) -> None:
        from tirui.secrets import SecretStoreError, TokenRef

        store = self.tokens
        if store is None or not store.available or store.read_only:
            return
        with contextlib.suppress(SecretStoreError):
            store.set(TokenRef(self.profile.name, f"local/{name}", "inference"), keys.inference)
            store.set(TokenRef(self.profile.name, f"local/{name}", "management"), keys.management)

    def _forget_keys(self, name: str) -> None:
        from tirui.secrets import SecretStoreError, TokenRef

        store = self.tokens
        if store is None or not store.available or store.read_only:
            return
        for kind in ("inference", "management"):
            with contextlib.suppress(SecretStoreError):
                store.delete(TokenRef(self.profile.name, f"local/{name}", kind))
