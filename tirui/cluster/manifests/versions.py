"""Which API version each kind is rendered in, for the cluster at hand.

tirui renders every object in the newest version it knows (:data:`NEWEST`). A cluster may serve
an older one only: v1.20 serves ``autoscaling/v2beta2`` and not ``autoscaling/v2``,
``policy/v1beta1`` and not ``policy/v1``, ``batch/v1beta1`` CronJobs and not ``batch/v1``. A
:class:`ApiVersions` says which version to write each kind in; it comes from the server's
discovery (:mod:`tirui.cluster.kube.discovery`) or, without a cluster, from a Kubernetes minor
version (:meth:`ApiVersions.for_minor`, ``tirui deploy --render --kube-version 1.20``).
:func:`for_cluster` then rewrites the objects: the older versions used here have the same fields
as the newer ones for everything tirui writes, except the fields in :data:`ONLY_NEWER`, which are
refused with the cluster version they need. docs/kubernetes.md has the table.

Pure: no client, no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tirui.cluster.spec import SpecError
from tirui.core.errors import RuntimeFailure

OLDEST_MINOR = 20
"""The oldest Kubernetes minor version (1.x) tirui supports."""


@dataclass(frozen=True)
class Candidate:
    api_version: str
    since: int
    """The first Kubernetes minor version (1.x) that serves it."""


KINDS: dict[str, tuple[str, tuple[Candidate, ...]]] = {
    # kind: (resource plural, candidates newest first)
    "Secret": ("secrets", (Candidate("v1", 0),)),
    "ConfigMap": ("configmaps", (Candidate("v1", 0),)),
    "Service": ("services", (Candidate("v1", 0),)),
    "ServiceAccount": ("serviceaccounts", (Candidate("v1", 0),)),
    "PersistentVolumeClaim": ("persistentvolumeclaims", (Candidate("v1", 0),)),
    "Pod": ("pods", (Candidate("v1", 0),)),
    "Deployment": ("deployments", (Candidate("apps/v1", 9),)),
    "Ingress": ("ingresses", (Candidate("networking.k8s.io/v1", 19),)),
    "Role": ("roles", (Candidate("rbac.authorization.k8s.io/v1", 8),)),
    "RoleBinding": ("rolebindings", (Candidate("rbac.authorization.k8s.io/v1", 8),)),
    "HorizontalPodAutoscaler": (
        "horizontalpodautoscalers",
        (Candidate("autoscaling/v2", 23), Candidate("autoscaling/v2beta2", 12)),
    ),
    "PodDisruptionBudget": (
        "poddisruptionbudgets",
        (Candidate("policy/v1", 21), Candidate("policy/v1beta1", 5)),
    ),
    "CronJob": ("cronjobs", (Candidate("batch/v1", 21), Candidate("batch/v1beta1", 8))),
    "EndpointSlice": (
        "endpointslices",
        (Candidate("discovery.k8s.io/v1", 21), Candidate("discovery.k8s.io/v1beta1", 17)),
    ),
}
"""Every kind tirui writes or reads, with the versions it can write it in."""

NEWEST = {kind: candidates[0].api_version for kind, (_, candidates) in KINDS.items()}

ONLY_NEWER: dict[tuple[str, str], tuple[tuple[tuple[str, ...], int], ...]] = {
    ("CronJob", "batch/v1beta1"): ((("spec", "timeZone"), 24),),
    ("PodDisruptionBudget", "policy/v1beta1"): ((("spec", "unhealthyPodEvictionPolicy"), 26),),
}
"""Fields an older version lacks (path, first minor that has them): refused, not dropped."""


def plural(kind: str) -> str:
    return KINDS[kind][0]


class UnsupportedByCluster(RuntimeFailure, ValueError):
    """The cluster serves no version of a kind tirui can write, or lacks a field the spec uses."""


@dataclass(frozen=True)
class ApiVersions:
    """The API version to write each kind in; ``where`` names the cluster in messages."""

    chosen: Mapping[str, str]
    where: str = "the newest Kubernetes"

    def of(self, kind: str) -> str:
        if kind in self.chosen:
            return self.chosen[kind]
        if kind not in KINDS:
            return NEWEST.get(kind, "")
        oldest = KINDS[kind][1][-1]
        raise UnsupportedByCluster(
            f"{self.where} serves no {kind} version tirui knows "
            f"({', '.join(c.api_version for c in KINDS[kind][1])}; Kubernetes 1.{oldest.since} or newer "
            "serves one)"
        )

    @classmethod
    def newest(cls) -> ApiVersions:
        return cls(dict(NEWEST))

    @classmethod
    def for_minor(cls, minor: int) -> ApiVersions:
        """What Kubernetes 1.``minor`` serves."""
        if minor < OLDEST_MINOR:
            raise UnsupportedByCluster(
                f"Kubernetes 1.{minor} is older than tirui supports (1.{OLDEST_MINOR} or newer)"
            )
        chosen = {}
        for kind, (_, candidates) in KINDS.items():
            served = next((c for c in candidates if c.since <= minor), None)
            if served is not None:
                chosen[kind] = served.api_version
        return cls(chosen, f"Kubernetes 1.{minor}")

    @classmethod
    def from_served(cls, served: Callable[[str, str], bool], where: str = "the cluster") -> ApiVersions:
        """From discovery: ``served(api_version, plural)`` says whether the server has it."""
        chosen = {}
        for kind, (name, candidates) in KINDS.items():
            first = next((c for c in candidates if served(c.api_version, name)), None)
            if first is not None:
                chosen[kind] = first.api_version
        return cls(chosen, where)


def parse_kube_version(text: str) -> int:
    """``1.20``, ``v1.20.2``, ``1.29+`` → the minor version; one-line error otherwise."""
    raw = text.strip().lstrip("v").rstrip("+")
    parts = raw.split(".")
    if len(parts) < 2 or parts[0] != "1" or not parts[1].isdigit():
        raise SpecError(
            {"kube_version": f"{text!r} is not a Kubernetes version: expected 1.MINOR, e.g. 1.20"}
        )
    return int(parts[1])


def _get(obj: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = obj
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def for_cluster(objects: Iterable[dict[str, Any]], versions: ApiVersions) -> list[dict[str, Any]]:
    """``objects`` (rendered in :data:`NEWEST`) in the versions of ``versions``; copies, the input
    stays as it was."""
    out = []
    for obj in objects:
        kind = obj.get("kind", "")
        target = versions.of(kind) if kind in KINDS else obj.get("apiVersion", "")
        if target == obj.get("apiVersion"):
            out.append(obj)
            continue
        for path, since in ONLY_NEWER.get((kind, target), ()):
            if _get(obj, path) is not None:
                raise UnsupportedByCluster(
                    f"{kind} {'.'.join(path)} needs Kubernetes 1.{since} or newer ({versions.where} "
                    f"serves {target})"
                )
        moved = copy.deepcopy(obj)
        moved["apiVersion"] = target
        out.append(moved)
    return out
