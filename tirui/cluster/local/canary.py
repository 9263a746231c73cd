"""Canaries on the local runtime: both versions in one TorchServe.

The canary archive is registered as another version of the served model (not the default), so
``/predictions/<model>`` still reaches the stable version and ``/predictions/<model>/<version>``
the canary. TorchServe itself cannot split traffic by weight, so locally **tirui's own clients
split it** (the Playground, ``tirui bench``, ``tirui predict`` and the load test send that share of
their requests to the canary's version); other clients keep reaching the stable version.
Promotion makes the canary the default and retires the old version after it drains (as an
update does); an abort drains and unregisters the canary. A TorchServe restart
(it starts with the serving archive only) pauses the canary (no traffic) until the stable
version is Ready again, then loads it again at its weight; events say so.

The canary lives in its own file, ``canary.json`` beside ``state.json``: written only by the
canary operations, read fresh by every tirui (the analysis in ``tirui canary`` moves the weight
that a ``tirui bench`` in another terminal follows).
"""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tirui.canary.state import CanaryStatus
from tirui.cluster.local.canary_file import canary_of, canary_text, write_canary
from tirui.cluster.spec import DeploymentSpec
from tirui.core.errors import RuntimeFailure

if TYPE_CHECKING:
    from tirui.canary.feed import SideFeed
    from tirui.cluster.local.dep import LocalDep
    from tirui.cluster.local.fleet import LocalFleet
    from tirui.cluster.local.versions import LocalVersions
    from tirui.config import Profile
    from tirui.secrets import TokenStore

LOCAL_SPLIT = "tirui's own clients (Playground, bench, predict); other clients reach the stable version"


class LocalCanaries:
    """The canary half of :class:`~tirui.cluster.local.runtime.LocalRuntime`."""

    def __init__(
        self, fleet: LocalFleet, versions: LocalVersions, profile: Profile, tokens: TokenStore | None
    ) -> None:
        """``profile`` and ``tokens``: the object store canary archives come from."""
        self.fleet = fleet
        self.versions = versions
        self.profile = profile
        self.tokens = tokens

    def canary_start(self, name: str, source: str, weight: int, policy: str = "") -> CanaryStatus:
        """Load ``source`` beside the serving version with ``weight`` % of tirui's traffic."""
        from tirui.cluster.local.update import register

        with self.fleet.lock:
            dep = self.fleet.dep(name)
            if canary_of(dep.folder):
                raise RuntimeFailure(
                    f"{name} already has a canary ({canary_text(canary_of(dep.folder))}): promote or "
                    "abort it first"
                )
            swap = self.fleet.swap(dep)
            revision = dep.state.revision + 1
        if swap is None or dep.state.phase != "Ready":
            raise RuntimeFailure(f"{name} is not serving ({dep.state.phase}): a canary needs it Ready")
        store = None
        if "://" in source:
            from tirui.storage.factory import open_store

            store = open_store(self.profile, self.tokens)
        mar, etag, version = self.versions.fetch_revision(DeploymentSpec(name, source), store, dep, revision)
        try:
            register(self.fleet.http, swap, mar.name, version)
        except BaseException:
            mar.unlink(missing_ok=True)
            raise
        with self.fleet.lock:
            s = dep.state
            s.revision = revision
            canary = {
                "source": source,
                "mar_file": str(mar),
                "etag": etag,
                "model_version": version,
                "weight": weight,
                "started": time.time(),
                "policy": policy,
            }
            write_canary(dep.folder, canary)
            dep.event(f"Canary started: {canary_text(canary)} at {weight}% (split by {LOCAL_SPLIT})")
            s.save(dep.folder)
        status = self.canary_status(name)
        assert status is not None
        return status

    def canary_status(self, name: str) -> CanaryStatus | None:
        with self.fleet.lock:
            c = canary_of(self.fleet.dep(name).folder)
            if not c:
                return None
            return CanaryStatus(
                canary_text(c),
                int(c.get("paused_weight", c.get("weight", 0))),
                float(c.get("started", 0.0)),
                model_version=str(c.get("model_version", "")),
                ready=not c.get("restoring"),
                split=LOCAL_SPLIT,
                policy=str(c.get("policy", "")),
            )

    def _canary(self, name: str) -> tuple[LocalDep, dict[str, Any]]:
        dep = self.fleet.dep(name)
        canary = canary_of(dep.folder)
        if not canary:
            raise RuntimeFailure(f"{name} has no canary")
        return dep, canary

    def resume(self, dep: LocalDep) -> None:
        """Called when the deployment is Ready: load a paused canary again (in a thread, outside
        the lock: registering takes seconds)."""
        canary = canary_of(dep.folder)
        if not canary.get("restoring") or dep.restoring_canary:
            return
        dep.restoring_canary = True
        threading.Thread(
            target=self._restore, args=(dep, canary), name=f"tirui-canary-{dep.state.name}", daemon=True
        ).start()

    def _restore(self, dep: LocalDep, canary: dict[str, Any]) -> None:
        from tirui.cluster.local.update import is_ready, register, retire

        version = str(canary["model_version"])
        try:
            with self.fleet.lock:
                swap = self.fleet.swap(dep)
            if swap is None:
                return  # not running after all: the next Ready tries again
            if not is_ready(self.fleet.http, swap, version):  # another tirui may have loaded it already
                register(self.fleet.http, swap, Path(canary["mar_file"]).name, version)
            with self.fleet.lock:
                now = canary_of(dep.folder)
                if now.get("restoring") and now.get("model_version") == version:
                    weight = int(now.get("paused_weight", 0))
                    resumed = {k: v for k, v in now.items() if k not in ("restoring", "paused_weight")}
                    write_canary(dep.folder, {**resumed, "weight": weight})
                    dep.event(f"Canary {canary_text(now)} loaded again at {weight}%")
                    return
            retire(self.fleet.http, swap, version, drain=False)  # aborted meanwhile: unload it again
        except RuntimeFailure as exc:
            with self.fleet.lock:
                write_canary(dep.folder, {})
                dep.event(
                    f"Warning: canary {canary_text(canary)} ended: it could not be loaded again ({exc})"
                )
            with contextlib.suppress(OSError):
                Path(canary["mar_file"]).unlink()
        finally:
            dep.restoring_canary = False

    def canary_weight(self, name: str, weight: int) -> None:
        with self.fleet.lock:
            dep, canary = self._canary(name)
            key = "paused_weight" if canary.get("restoring") else "weight"  # paused: for after
            write_canary(dep.folder, {**canary, key: weight})
            dep.event(
                f"Canary weight set to {weight}%" + (" (once it is loaded again)" if key != "weight" else "")
            )

    def canary_promote(self, name: str) -> None:
        """The canary becomes the default version; the old one drains and is unregistered."""
        from tirui.cluster.local.update import make_default, retire

        with self.fleet.lock:
            dep, c = self._canary(name)
            swap, old = self.fleet.swap(dep), dep.state.model_version
        if swap is None:
            raise RuntimeFailure(f"{name} is not running: the canary cannot be promoted")
        make_default(self.fleet.http, swap, c["model_version"])
        new = {k: str(c[k]) for k in ("source", "mar_file", "etag", "model_version")}
        with self.fleet.lock:
            write_canary(dep.folder, {})
            spec = self.versions.spec_as_is(dep, new["source"])
            self.versions.switched(dep, spec, new, dep.state.revision, running=True)
        try:
            retire(self.fleet.http, swap, old)
        except RuntimeFailure as exc:
            raise RuntimeFailure(f"{name}: the canary serves now, but {exc}") from None

    def canary_abort(self, name: str) -> None:
        """Send it no more traffic, let it drain, unregister it; the stable version never stopped."""
        from tirui.cluster.local.update import retire

        with self.fleet.lock:
            dep, c = self._canary(name)
            write_canary(dep.folder, {**c, "weight": 0})
            swap = self.fleet.swap(dep)
        if swap is not None:
            retire(self.fleet.http, swap, str(c["model_version"]))
        with self.fleet.lock:
            write_canary(dep.folder, {})
            dep.event(f"Canary {canary_text(c)} removed: stable serves all traffic")
        Path(c["mar_file"]).unlink(missing_ok=True)

    def canary_record(self, name: str, text: str, *, warning: bool = False) -> None:
        with self.fleet.lock:
            self.fleet.dep(name).event(("Warning: " if warning else "") + text)

    def canary_feed(self, name: str) -> SideFeed:
        from tirui.canary.feed import VersionSplitFeed
        from tirui.metrics.accesslog import LogTail

        with self.fleet.lock:
            dep, c = self._canary(name)
        return VersionSplitFeed(LogTail(dep.workdir / "logs" / "access_log.log"), str(c["model_version"]))
