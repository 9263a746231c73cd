"""Updates and rollbacks of local deployments (a collaborator of
:class:`~tirui.cluster.local.runtime.LocalRuntime`): the TorchServe side is
:mod:`tirui.cluster.local.update`, the bookkeeping (serving, previous, archives kept on disk) is
here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tirui.cluster.local.archive import fetch_archive
from tirui.cluster.local.canary_file import canary_of
from tirui.cluster.local.dep import LocalDep
from tirui.cluster.local.fleet import LocalFleet
from tirui.cluster.local.process import start_process
from tirui.cluster.runtime import ApplyResult, DeploymentStatus
from tirui.cluster.spec import DeploymentSpec, model_name_of
from tirui.core.errors import RuntimeFailure
from tirui.storage.base import ObjectStore


class LocalVersions:
    """What each deployment serves, served before, and the switches between them."""

    def __init__(self, fleet: LocalFleet, status: Callable[[str], DeploymentStatus]) -> None:
        """``status``: the deployment's status after a switch (the runtime's ``get``)."""
        self.fleet = fleet
        self.status = status

    def update(self, spec: DeploymentSpec, store: ObjectStore | None = None) -> DeploymentStatus:
        """Serve ``spec``'s archive in the running TorchServe without a restart (the version swap
        of :mod:`~tirui.cluster.local.update`); a deployment that is not running gets the new
        archive and starts with it. The archive before is kept for :meth:`rollback`."""
        with self.fleet.lock:
            dep = self.fleet.dep(spec.name)
            revision = dep.state.revision + 1
            serving = dep.state.protocol
        if spec.protocol != serving:  # before anything is fetched: nothing half-done
            raise RuntimeFailure(
                f"{spec.name} serves the {serving} protocol, TorchServe's server-wide "
                f"service_envelope: an update in place cannot change it; delete {spec.name} and "
                f"deploy it again with --protocol {spec.protocol}"
            )
        mar, etag, version = self.fetch_revision(spec, store, dep, revision)
        new = {"source": spec.source, "mar_file": str(mar), "etag": etag, "model_version": version}
        try:
            self._switch(dep, spec, new, revision)
        except BaseException:
            mar.unlink(missing_ok=True)
            raise
        return self.status(spec.name)

    def fetch_revision(
        self, spec: DeploymentSpec, store: ObjectStore | None, dep: LocalDep, revision: int
    ) -> tuple[Path, str, str]:
        """``spec``'s archive into the model store as ``<model>.r<revision>.mar`` (beside the one
        serving; the name from :func:`model_name_of`); (path, ETag, model version)."""
        stem = model_name_of(spec.source, spec.model_name)
        mar, _, etag, version = fetch_archive(spec, store, dep.folder, f"{stem}.r{revision}.mar")
        return mar, etag, version

    def rollback(self, name: str) -> ApplyResult:
        """Serve the previous archive again (kept on disk, so a changed object store is no matter)."""
        with self.fleet.lock:
            dep = self.fleet.dep(name)
            previous, revision = dict(dep.state.previous), dep.state.revision + 1
        if not previous or not Path(previous["mar_file"]).is_file():
            raise RuntimeFailure(f"{name} has no previous version to return to")
        self._switch(dep, self.spec_as_is(dep, previous["source"]), previous, revision)
        return ApplyResult([f"TorchServe/{name}"], status=self.status(name))

    @staticmethod
    def spec_as_is(dep: LocalDep, source: str) -> DeploymentSpec:
        """``source`` with the deployment's current workers and batching."""
        s = dep.state
        return DeploymentSpec(s.name, source, protocol=s.protocol).with_settings(s.settings)

    def _switch(self, dep: LocalDep, spec: DeploymentSpec, new: dict[str, str], revision: int) -> None:
        from tirui.cluster.local.update import swap_in

        swap = self.fleet.swap(dep, spec)
        if swap is not None:
            swap_in(self.fleet.http, swap, Path(new["mar_file"]).name, new["model_version"])
        self.switched(dep, spec, new, revision, running=swap is not None)

    def switched(
        self, dep: LocalDep, spec: DeploymentSpec, new: dict[str, str], revision: int, *, running: bool
    ) -> None:
        """Book a switch to ``new`` (the archive before becomes the previous one)."""
        with self.fleet.lock:
            s = dep.state
            old = {
                "source": s.source,
                "mar_file": s.mar_file,
                "etag": s.etag,
                "model_version": s.model_version,
            }
            s.previous = old
            s.source, s.mar_file, s.etag = new["source"], new["mar_file"], new["etag"]
            s.model_version, s.revision = new["model_version"], revision
            s.settings = spec.settings()
            dep.next_probe = 0.0  # describe the new version at the next round
            how = "in place, no restart" if running else "for its next start"
            dep.event(f"Now serving {s.version_text} ({how}); previous: {s.previous_text}")
            s.save(dep.folder)
            self._prune_archives(dep)
            if not running and s.phase in ("Failed", "Restarting"):
                start_process(dep)

    @staticmethod
    def _prune_archives(dep: LocalDep) -> None:
        """Keep the serving archive and the previous one; older ones are no use to a rollback."""
        keep = {
            Path(dep.state.mar_file).name,
            Path(dep.state.previous.get("mar_file", "")).name,
            Path(canary_of(dep.folder).get("mar_file", "")).name,
        }
        for path in Path(dep.state.mar_file).parent.glob("*.mar"):
            if path.name not in keep:
                path.unlink(missing_ok=True)
