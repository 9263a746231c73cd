"""Operations on an existing Kubernetes deployment (a collaborator of
:class:`~tirui.cluster.kube.runtime.KubeRuntime`): scale, autoscale, restart, rollback and delete each
re-apply the Deployment from the spec stored on it (``tirui.dev/spec``) with one field changed,
so one field manager keeps owning every field tirui sets."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tirui.canary.state import CANARY_SUFFIX
from tirui.cluster.kube.api import KubeApi
from tirui.cluster.kube.apply import KubeWrites
from tirui.cluster.kube.deploys import KubeDeploys
from tirui.cluster.kube.errors import KubeError
from tirui.cluster.kube.reads import KubeReads
from tirui.cluster.kube.versions import carry_history, rollback_spec, stored_with_extras
from tirui.cluster.manifests.build import build
from tirui.cluster.runtime import ApplyResult
from tirui.cluster.spec import DeploymentSpec

Obj = dict[str, Any]


class KubeOperations:
    """Scale, autoscale, restart, rollback and delete of the deployments in one namespace."""

    def __init__(self, api: KubeApi, writes: KubeWrites, reads: KubeReads, deploys: KubeDeploys) -> None:
        self.api = api
        self.writes = writes
        self.reads = reads
        self.deploys = deploys

    def spec_of(self, name: str) -> tuple[Obj, DeploymentSpec, dict[str, str]]:
        """The Deployment of ``name``, the spec it was applied from and the stored extras."""
        dep = self.reads.managed(name)
        found = stored_with_extras(dep)
        if found is None:
            raise KubeError(
                f"{name} carries no tirui.dev/spec annotation (deployed by an older tirui): "
                "deploy it again once with `tirui deploy`, then this works"
            )
        return dep, *found

    def reapply(
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
            namespace=self.api.namespace,
            storage_endpoint=extra.get("storage_endpoint", ""),
            storage_region=extra.get("storage_region", "us-east-1"),
        )
        carry_history(objects, dep, spec)
        wanted = {"Deployment", "PodDisruptionBudget"} | ({"HorizontalPodAutoscaler"} if with_hpa else set())
        wanted |= {"ConfigMap"} if with_config else set()
        self.writes.apply([o for o in objects if o["kind"] in wanted])
        if not any(o["kind"] == "PodDisruptionBudget" for o in objects):  # fewer than 2 replicas now
            self.api.remove("PodDisruptionBudget", spec.name, "the disruption budget")

    def scale(self, name: str, count: int) -> None:
        from tirui.limits import REPLICAS

        if problem := REPLICAS.problem(count):
            raise KubeError(f"{name}: {problem}")
        dep, spec, extra = self.spec_of(name)
        if self.api.get("HorizontalPodAutoscaler", name) is not None:
            raise KubeError(
                f"{name} is autoscaled: change its range (tirui autoscale) or remove autoscaling first"
            )
        spec.replicas = count
        self.reapply(dep, spec, extra)

    def autoscale(
        self, name: str, min_replicas: int, max_replicas: int, metric: str = "cpu", target: str = "70"
    ) -> None:
        """Create or update the HPA; ``max_replicas == 0`` removes autoscaling (the replica
        count stays where the autoscaler left it)."""
        dep, spec, extra = self.spec_of(name)
        if max_replicas == 0:
            spec.min_replicas = spec.max_replicas = 0
            spec.replicas = int(dep.get("spec", {}).get("replicas") or 1)
            self.reapply(dep, spec, extra)
            self.api.remove("HorizontalPodAutoscaler", name, "the autoscaler")
            return
        spec.min_replicas, spec.max_replicas = min_replicas, max_replicas
        spec.autoscale_metric, spec.autoscale_target = metric, target
        problems = spec.kube_problems()
        if problems:
            raise KubeError("; ".join(problems.values()))
        self.reapply(dep, spec, extra, with_hpa=True)

    def restart(self, name: str) -> None:
        """A rollout restart: a new pod-template stamp, applied like any other change."""
        dep, spec, extra = self.spec_of(name)
        spec.restarted_at = dt.datetime.now(dt.UTC).isoformat()
        self.reapply(dep, spec, extra, with_hpa=spec.autoscaling)

    def rollback(self, name: str) -> ApplyResult:
        """Re-deploy the previous archive (a rolling update like any other) with today's scale.
        Refused when the object at the previous key has changed since: its bytes are gone."""
        dep, _, _ = self.spec_of(name)
        try:
            spec = rollback_spec(dep, name)
        except ValueError as exc:
            raise KubeError(str(exc)) from None
        etag = spec.etag
        self.deploys.check_source(spec)
        if etag and spec.etag != etag:
            raise KubeError(
                f"{spec.source} has changed since {name} served it (ETag {etag} → {spec.etag}): the "
                "previous version is no longer in the store (nothing was changed)"
            )
        return self.deploys.deploy(spec)

    def delete(self, name: str) -> None:
        """Delete every object carrying both tirui labels for ``name``; nothing else."""
        self.reads.managed(name)
        self.writes.prune(name + CANARY_SUFFIX, [], prune_disk=True)
        self.writes.prune(name, [], prune_disk=True)
