"""Operations on an existing Kubernetes deployment (a mixin of
:class:`~tirui.cluster.kube.runtime.KubeRuntime`): scale, autoscale, restart, rollback and delete each
re-apply the Deployment from the spec stored on it (``tirui.dev/spec``) with one field changed,
so one field manager keeps owning every field tirui sets."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import TYPE_CHECKING, Any

from tirui.canary.state import CANARY_SUFFIX
from tirui.cluster.kube.errors import KubeError, explain
from tirui.cluster.kube.versions import carry_history, rollback_spec
from tirui.cluster.manifests.build import build
from tirui.cluster.manifests.objects import SPEC_ANNOTATION
from tirui.cluster.runtime import DEPLOY, ApplyResult, DeployOptions
from tirui.cluster.spec import DeploymentSpec, spec_from_json

Obj = dict[str, Any]


class KubeOperations:
    namespace: str
    kinds: dict[str, Any]

    if TYPE_CHECKING:

        def _get(self, kind: str, name: str) -> Obj | None: ...

        def _managed(self, name: str) -> Obj: ...

        def apply(
            self, objects: builtins.list[Obj], *, dry_run: bool = False, force: bool = False
        ) -> builtins.list[str]: ...

        def prune(
            self, name: str, keep: builtins.list[Obj], *, dry_run: bool = False, prune_disk: bool = False
        ) -> tuple[builtins.list[str], builtins.list[str]]: ...

        def check_source(self, spec: DeploymentSpec) -> None: ...

        def deploy(self, spec: DeploymentSpec, how: DeployOptions = DEPLOY) -> ApplyResult: ...

    @staticmethod
    def _stored_spec(dep: Obj | None) -> tuple[DeploymentSpec, dict[str, str]] | None:
        text = ((dep or {}).get("metadata", {}).get("annotations") or {}).get(SPEC_ANNOTATION)
        if not text:
            return None
        try:
            return spec_from_json(text)
        except (ValueError, TypeError):
            return None

    def _spec_of(self, name: str) -> tuple[Obj, DeploymentSpec, dict[str, str]]:
        dep = self._managed(name)
        stored = self._stored_spec(dep)
        if stored is None:
            raise KubeError(
                f"{name} carries no tirui.dev/spec annotation (deployed by an older tirui): "
                "deploy it again once with `tirui deploy`, then this works"
            )
        return dep, *stored

    def _reapply(
        self,
        dep: Obj,
        spec: DeploymentSpec,
        extra: dict[str, str],
        *,
        with_hpa: bool = False,
        with_config: bool = False,
    ) -> None:
        """Apply the Deployment (and its budget; the autoscaler and the TorchServe ConfigMap when
        asked: a new archive changes its ``load_models``) from ``spec`` and the stored extras."""
        objects = build(
            spec,
            namespace=self.namespace,
            storage_endpoint=extra.get("storage_endpoint", ""),
            storage_region=extra.get("storage_region", "us-east-1"),
        )
        carry_history(objects, dep, spec)
        wanted = {"Deployment", "PodDisruptionBudget"} | ({"HorizontalPodAutoscaler"} if with_hpa else set())
        wanted |= {"ConfigMap"} if with_config else set()
        self.apply([o for o in objects if o["kind"] in wanted])
        if not any(o["kind"] == "PodDisruptionBudget" for o in objects):  # fewer than 2 replicas now
            self._remove("PodDisruptionBudget", spec.name, "the disruption budget")

    def _remove(self, kind: str, name: str, what: str) -> None:
        if self._get(kind, name) is None:
            return
        try:
            self.kinds[kind].delete(name, self.namespace)
        except Exception as exc:
            raise explain(exc, f"removing {what} of {name}") from None

    def scale(self, name: str, count: int) -> None:
        if count < 0:
            raise KubeError("replicas must be 0 or more")
        dep, spec, extra = self._spec_of(name)
        if self._get("HorizontalPodAutoscaler", name) is not None:
            raise KubeError(
                f"{name} is autoscaled: change its range (tirui autoscale) or remove autoscaling first"
            )
        spec.replicas = count
        self._reapply(dep, spec, extra)

    def autoscale(
        self, name: str, min_replicas: int, max_replicas: int, metric: str = "cpu", target: str = "70"
    ) -> None:
        """Create or update the HPA; ``max_replicas == 0`` removes autoscaling (the replica
        count stays where the autoscaler left it)."""
        dep, spec, extra = self._spec_of(name)
        if max_replicas == 0:
            spec.min_replicas = spec.max_replicas = 0
            spec.replicas = int(dep.get("spec", {}).get("replicas") or 1)
            self._reapply(dep, spec, extra)
            self._remove("HorizontalPodAutoscaler", name, "the autoscaler")
            return
        spec.min_replicas, spec.max_replicas = min_replicas, max_replicas
        spec.autoscale_metric, spec.autoscale_target = metric, target
        problems = spec.kube_problems()
        if problems:
            raise KubeError("; ".join(problems.values()))
        self._reapply(dep, spec, extra, with_hpa=True)

    def restart(self, name: str) -> None:
        """A rollout restart: a new pod-template stamp, applied like any other change."""
        dep, spec, extra = self._spec_of(name)
        spec.restarted_at = dt.datetime.now(dt.UTC).isoformat()
        self._reapply(dep, spec, extra, with_hpa=spec.autoscaling)

    def rollback(self, name: str) -> ApplyResult:
        """Re-deploy the previous archive (a rolling update like any other) with today's scale.
        Refused when the object at the previous key has changed since: its bytes are gone."""
        dep, _, _ = self._spec_of(name)
        try:
            spec = rollback_spec(dep, name)
        except ValueError as exc:
            raise KubeError(str(exc)) from None
        etag = spec.etag
        self.check_source(spec)
        if etag and spec.etag != etag:
            raise KubeError(
                f"{spec.source} has changed since {name} served it (ETag {etag} → {spec.etag}): the "
                "previous version is no longer in the store (nothing was changed)"
            )
        return self.deploy(spec)

    def delete(self, name: str) -> None:
        """Delete every object carrying both tirui labels for ``name``; nothing else."""
        self._managed(name)
        self.prune(name + CANARY_SUFFIX, [], prune_disk=True)
        self.prune(name, [], prune_disk=True)
