"""The writing side of the Kubernetes runtime: server-side apply (field manager ``tirui``) with
conflicts named, the replica handover to an autoscaler, ownership preflight and pruning.

A collaborator of :class:`tirui.cluster.kube.runtime.KubeRuntime` over one namespace's
:class:`~tirui.cluster.kube.api.KubeApi`.
"""

from __future__ import annotations

import builtins
from typing import Any

from tirui.cluster.kube.api import KubeApi
from tirui.cluster.kube.errors import KubeConflict, KubeError, conflicts_in, explain
from tirui.cluster.manifests.objects import DEPLOYMENT_LABEL, MANAGED_BY
from tirui.cluster.manifests.versions import for_cluster

Obj = dict[str, Any]


def owns_replicas(obj: dict[str, Any], manager: str) -> bool:
    """Whether ``manager`` applied ``spec.replicas`` of ``obj`` (from its managedFields)."""
    for entry in obj.get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") != manager or entry.get("operation") != "Apply" or entry.get("subresource"):
            continue
        if "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {}):
            return True
    return False


FIELD_MANAGER = "tirui"
HANDOVER_MANAGER = "tirui-handover"
"""Holds ``spec.replicas`` while an autoscaler takes it over from tirui (see :meth:`_handover`)."""
OWN_REPLICA_MANAGERS = {"kube-controller-manager", HANDOVER_MANAGER}
"""Who may own ``spec.replicas`` on tirui's behalf: tirui's own HPA (run by the controller
manager) and the handover. Their ownership is taken back without asking."""
KINDS_BY_DELETE_ORDER = (
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Ingress",
    "Service",
    "Deployment",
    "PersistentVolumeClaim",
    "ConfigMap",
    "Secret",
)


class KubeWrites:
    """Server-side apply, preflight and prune in one namespace."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api

    # -- apply -------------------------------------------------------------------------------
    def apply(
        self, objects: builtins.list[Obj], *, dry_run: bool = False, force: bool = False
    ) -> builtins.list[str]:
        """Server-side apply each object (field manager ``tirui``); refuses to touch objects
        tirui does not manage, and stops at the first failure saying what was applied before."""
        done: builtins.list[str] = []
        for obj in for_cluster(objects, self.api.versions()):
            ref = f"{obj['kind']}/{obj['metadata']['name']}"
            try:
                existing = self.api.get(obj["kind"], obj["metadata"]["name"])
                if existing is not None and existing["metadata"].get("labels", {}).get(MANAGED_BY) != "tirui":
                    raise KubeError(
                        f"{ref} already exists in {self.api.namespace} and is not managed by tirui: "
                        "refusing to overwrite it"
                    )
                if existing is not None and existing["metadata"].get("deletionTimestamp"):
                    raise KubeError(
                        f"{ref} is being deleted (a pod still uses it, or a finalizer holds it): "
                        "deploy again once it is gone"
                    )
                if obj["kind"] == "Deployment" and existing is not None and "replicas" not in obj["spec"]:
                    self._handover(existing, dry_run)
                self._apply_one(obj, dry_run=dry_run, force=force)
            except KubeConflict as exc:
                if done and not dry_run:
                    raise KubeConflict(exc.conflicts) from None
                raise KubeConflict(exc.conflicts, dry_run) from None
            except KubeError as exc:
                raise self._partial(done, str(exc), dry_run) from None
            except Exception as exc:
                raise self._partial(done, str(explain(exc, f"applying {ref}")), dry_run) from None
            done.append(ref)
        return done

    def _apply_one(self, obj: Obj, *, dry_run: bool, force: bool, manager: str = FIELD_MANAGER) -> None:
        ref = f"{obj['kind']}/{obj['metadata']['name']}"
        extra = {"dry_run": "All"} if dry_run else {}
        try:
            self.api.kinds[obj["kind"]].patch(
                obj["metadata"]["name"],
                self.api.namespace,
                obj,
                field_manager=manager,
                force=force,
                _content_type="application/apply-patch+yaml",
                **extra,
            )
        except Exception as exc:
            conflicts = conflicts_in(exc, ref)
            if not conflicts:
                raise
            if all(c.field == ".spec.replicas" and c.manager in OWN_REPLICA_MANAGERS for c in conflicts):
                # the replica count tirui's own autoscaler (or its handover) set: take it back
                self._apply_one(obj, dry_run=dry_run, force=True, manager=manager)
                return
            raise KubeConflict(conflicts, dry_run) from None

    def _handover(self, live: Obj, dry_run: bool) -> None:
        """Before tirui stops setting ``spec.replicas`` (an autoscaler takes over), a second
        manager applies the current count, so dropping the field does not reset it to 1."""
        if not owns_replicas(live, FIELD_MANAGER):
            return
        meta = live["metadata"]
        partial = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": meta["name"], "namespace": self.api.namespace},
            "spec": {"replicas": int(live.get("spec", {}).get("replicas", 1))},
        }
        self._apply_one(partial, dry_run=dry_run, force=True, manager=HANDOVER_MANAGER)

    @staticmethod
    def _partial(done: builtins.list[str], message: str, dry_run: bool) -> KubeError:
        if dry_run or not done:
            return KubeError(
                message + (" (dry run: nothing was changed)" if dry_run else " (nothing was applied)")
            )
        return KubeError(f"{message}. Already applied: {', '.join(done)}; `tirui delete` removes them.")

    def preflight(self, objects: builtins.list[Obj]) -> None:
        """Before any write: every object either does not exist or is tirui's. Names all others."""
        foreign = []
        for obj in objects:
            kind, name = obj["kind"], obj["metadata"]["name"]
            existing = self.api.get(kind, name)
            if existing is not None and existing["metadata"].get("labels", {}).get(MANAGED_BY) != "tirui":
                foreign.append(f"{kind}/{name}")
        if foreign:
            raise KubeError(
                f"{', '.join(foreign)} already exist(s) in {self.api.namespace} and is not managed by tirui: "
                "refusing to overwrite; pick another name or remove them (nothing was changed)"
            )

    def prune(
        self, name: str, keep: builtins.list[Obj], *, dry_run: bool = False, prune_disk: bool = False
    ) -> tuple[builtins.list[str], builtins.list[str]]:
        """Delete ``name``'s tirui objects that are not in ``keep``; returns (pruned, kept). A
        PersistentVolumeClaim holds the cached model: it goes only with ``prune_disk``."""
        wanted = {(o["kind"], o["metadata"]["name"]) for o in keep}
        selector = {MANAGED_BY: "tirui", DEPLOYMENT_LABEL: name}
        pruned: builtins.list[str] = []
        kept: builtins.list[str] = []
        extra = {"dry_run": "All"} if dry_run else {}
        for kind in KINDS_BY_DELETE_ORDER:
            for obj in self.api.list(kind, selector):
                obj_name = obj["metadata"]["name"]
                if (kind, obj_name) in wanted:
                    continue
                if kind == "PersistentVolumeClaim" and not prune_disk:
                    kept.append(f"{kind}/{obj_name}")
                    continue
                try:
                    self.api.kinds[kind].delete(obj_name, self.api.namespace, **extra)
                except Exception as exc:
                    raise explain(
                        exc, f"removing {kind}/{obj_name}, which the new spec no longer has"
                    ) from None
                pruned.append(f"{kind}/{obj_name}")
        return pruned, kept
