"""Canaries on Kubernetes (a collaborator of :class:`~tirui.cluster.kube.runtime.KubeRuntime`).

Start: the archive is checked (HEAD, model version), then the canary's objects
(:mod:`~tirui.cluster.manifests.canary`) are applied like any deploy (server-side apply, field
manager ``tirui``). Weight: the canary Ingresses are re-applied with the new ``canary-weight``.
Promote: the stable Deployment gets the canary's archive (a rolling update, maxUnavailable 0; its
previous spec is kept for ``tirui rollback``); the canary keeps its share until the stable
rollout is complete, then its objects are deleted. Abort: the canary's objects are deleted
(ingress-nginx sends everything to the stable Service again; the canary pods' preStop hooks drain
what they were serving). Decisions go into the namespace's events (``core/v1`` Events on the
stable Deployment, reported by ``tirui``), where ``kubectl describe`` and ``tirui events`` see them.
"""

from __future__ import annotations

import builtins
import datetime as dt
import functools
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tirui.canary.state import CANARY_SUFFIX, CanaryStatus
from tirui.cluster.kube.errors import KubeError, explain
from tirui.cluster.kube.status import canary_status_of
from tirui.cluster.kube.versions import stored
from tirui.cluster.manifests.canary import build_canary, canary_spec, canary_state, served_model

if TYPE_CHECKING:
    from tirui.canary.feed import SideFeed
    from tirui.cluster.kube.api import KubeApi
    from tirui.cluster.kube.apply import KubeWrites
    from tirui.cluster.kube.deploys import KubeDeploys
    from tirui.cluster.kube.ops import KubeOperations
    from tirui.cluster.kube.reads import KubeReads
    from tirui.config import Profile

Obj = dict[str, Any]


def event_reason(text: str) -> str:
    """``CanaryStep``, ``CanaryPassed``, ``CanaryCheckFailed``, ``CanaryRolledBack``,
    ``CanaryPromoted`` (from the analysis' sentence), else ``Canary``."""
    for start, reason in (
        ("canary step", "CanaryStep"),
        ("canary passed", "CanaryPassed"),
        ("canary check failed", "CanaryCheckFailed"),
        ("canary rolled back", "CanaryRolledBack"),
        ("canary promoted", "CanaryPromoted"),
        ("canary aborted", "CanaryAborted"),
        ("canary started", "CanaryStarted"),
        ("canary weight", "CanaryWeight"),
    ):
        if text.lower().startswith(start):
            return reason
    return "Canary"


class KubeCanaries:
    """The canary half of the Kubernetes runtime."""

    rollout_timeout: float = 600.0
    """How long a promotion waits for the stable rollout before it leaves the canary in place."""

    def __init__(
        self,
        api: KubeApi,
        writes: KubeWrites,
        reads: KubeReads,
        ops: KubeOperations,
        deploys: KubeDeploys,
        profile: Profile,
    ) -> None:
        self.api = api
        self.writes = writes
        self.reads = reads
        self.ops = ops
        self.deploys = deploys
        self.profile = profile

    # -- state -------------------------------------------------------------------------------
    def _canary_dep(self, name: str) -> Obj | None:
        return self.api.get("Deployment", name + CANARY_SUFFIX)

    def canary_status(self, name: str) -> CanaryStatus | None:
        return canary_status_of(self._canary_dep(name))

    def _canary_objects(self, name: str, weight: int) -> builtins.list[Obj]:
        dep = self._canary_dep(name)
        spec = stored(dep)
        if dep is None or spec is None:
            raise KubeError(f"{name} has no canary")
        _, stable, extra = self.ops.spec_of(name)
        state = canary_state(dep)
        return build_canary(
            stable,
            spec,
            weight,
            namespace=self.api.namespace,
            storage_endpoint=extra.get("storage_endpoint", ""),
            storage_region=extra.get("storage_region", "us-east-1"),
            policy=str(state.get("policy", "")),
            started=float(state.get("started", 0.0)),
        )

    # -- operations --------------------------------------------------------------------------
    def canary_start(self, name: str, source: str, weight: int, policy: str = "") -> CanaryStatus:
        _, stable, _ = self.ops.spec_of(name)
        if not stable.tls_host:
            raise KubeError(
                f"{name} has no Ingress (deploy it with --tls-host): on Kubernetes an ingress-nginx "
                "canary Ingress splits the traffic"
            )
        if self._canary_dep(name) is not None:
            raise KubeError(f"{name} already has a canary: promote or abort it first")
        spec = canary_spec(stable, source)
        self.deploys.check_source(spec)
        if (spec.source, spec.etag) == (stable.source, stable.etag):
            raise KubeError(f"{source} is the archive {name} serves already (same ETag)")
        objects = build_canary(
            stable,
            spec,
            weight,
            namespace=self.api.namespace,
            storage_endpoint=self.profile.storage.endpoint_url,
            storage_region=self.profile.storage.region,
            policy=policy,
        )
        self.writes.preflight(objects)
        self.writes.apply(objects, dry_run=True)
        self.writes.apply(objects)
        self.canary_record(name, f"canary started: {spec.version_text} at {weight}%")
        status = self.canary_status(name)
        if status is None:
            raise KubeError(f"{name}: the canary Deployment is not there after it was applied")
        return status

    def canary_weight(self, name: str, weight: int) -> None:
        self.writes.apply(
            [o for o in self._canary_objects(name, weight) if o["kind"] in ("Ingress", "Deployment")]
        )

    def canary_abort(self, name: str) -> None:
        self.reads.managed(name)
        if self._canary_dep(name) is None:
            raise KubeError(f"{name} has no canary")
        self.writes.prune(name + CANARY_SUFFIX, [], prune_disk=True)

    def canary_promote(self, name: str) -> None:
        """The stable Deployment takes the canary's archive; the canary goes once that rolled out."""
        dep, stable, extra = self.ops.spec_of(name)
        canary = stored(self._canary_dep(name))
        if canary is None:
            raise KubeError(f"{name} has no canary")
        new = replace(
            stable,
            source=canary.source,
            etag=canary.etag,
            model_version=canary.model_version,
            model_name=served_model(stable),  # clients keep calling the same model
        )
        self.ops.reapply(dep, new, extra, with_hpa=new.autoscaling, with_config=True)
        self._await_rollout(name)
        self.writes.prune(name + CANARY_SUFFIX, [], prune_disk=True)

    def _await_rollout(self, name: str) -> None:
        deadline = time.monotonic() + self.rollout_timeout
        while not rolled_out(self.api.get("Deployment", name)):
            if time.monotonic() > deadline:
                raise KubeError(
                    f"{name}: the stable rollout to the canary's archive is not complete after "
                    f"{self.rollout_timeout:.0f}s; the canary keeps its share meanwhile: run "
                    f"`tirui canary {name} --promote` again once `tirui status {name}` says Ready"
                )
            time.sleep(1.0)

    def canary_record(self, name: str, text: str, *, warning: bool = False) -> None:
        """A ``core/v1`` Event on the stable Deployment, reported by ``tirui``."""
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{name}.", "namespace": self.api.namespace},
            "involvedObject": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": name,
                "namespace": self.api.namespace,
            },
            "reason": event_reason(text),
            "message": text[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": "tirui"},
            "reportingComponent": "tirui",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self.api.core.create_namespaced_event(self.api.namespace, event, _request_timeout=10.0)
        except Exception as exc:
            raise explain(exc, f"recording an event for {name}") from None

    def canary_feed(self, name: str) -> SideFeed:
        from tirui.canary.feed import PodGroupFeed

        def openers(deployment: str) -> dict[str, Any]:
            return {
                pod: functools.partial(self.reads.access_log, pod, 0)
                for pod in self.reads.pod_names(deployment, running=True)
            }

        return PodGroupFeed(
            functools.partial(openers, name), functools.partial(openers, name + CANARY_SUFFIX)
        )


def rolled_out(dep: Obj | None) -> bool:
    """As ``kubectl rollout status`` has it: the controller saw the newest spec and every replica
    is updated and available."""
    if dep is None:
        return False
    meta, spec, status = dep.get("metadata", {}), dep.get("spec", {}), dep.get("status", {})
    want = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    return (
        int(status.get("observedGeneration", 0)) >= int(meta.get("generation", 0))
        and int(status.get("updatedReplicas", 0)) >= want
        and int(status.get("availableReplicas", 0)) >= want
        and int(status.get("replicas", 0)) <= want
    )
