"""The kmock Kubernetes API emulator as tests use it: declared resources, a kubeconfig for it,
and a ``k8s`` profile pointing there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import kmock

from tirui.cluster.kube.runtime import KubeRuntime
from tirui.cluster.manifests.objects import DEPLOYMENT_LABEL, MANAGED_BY
from tirui.locations import profiles_file

RESOURCES = [
    "v1/secrets",
    "v1/configmaps",
    "v1/services",
    "v1/pods",
    "v1/events",
    "v1/persistentvolumeclaims",
    "apps/v1/deployments",
    "networking.k8s.io/v1/ingresses",
    "autoscaling/v2/horizontalpodautoscalers",
    "policy/v1/poddisruptionbudgets",
]
NAMESPACE = "ml"


@asynccontextmanager
async def emulated_cluster() -> AsyncIterator[kmock.KubernetesEmulator]:
    """A stateful API server on loopback, serving on the running event loop (call the blocking
    kubernetes client from threads)."""
    km = kmock.KubernetesEmulator()
    for r in RESOURCES:
        km.resources[r] = {}
    async with kmock.Server(km):
        yield km


def write_k8s_profile(home: Path, km: kmock.KubernetesEmulator) -> Path:
    """A kubeconfig with context ``km`` for the emulator and a ``k8s`` profile using it."""
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: km\n"
        f"clusters: [{{name: km, cluster: {{server: '{str(km.url).rstrip('/')}'}}}}]\n"
        f"contexts: [{{name: km, context: {{cluster: km, user: u, namespace: {NAMESPACE}}}}}]\n"
        "users: [{name: u, user: {token: x}}]\n"
    )
    profiles_file().parent.mkdir(parents=True, exist_ok=True)
    profiles_file().write_text(
        f'[profiles.k8s.kubernetes]\nkubeconfig = "{kubeconfig}"\ncontext = "km"\nnamespace = "{NAMESPACE}"\n'
    )
    return kubeconfig


RUNNING = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}


def pod(
    name: str, dep: str = "resnet", *, rv: str = "", status: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A pod of tirui deployment ``dep`` as the kubelet would report it (Running and Ready unless
    ``status`` says otherwise): tests write these to play the controller."""
    meta: dict[str, Any] = {
        "name": name,
        "namespace": NAMESPACE,
        "labels": {MANAGED_BY: "tirui", DEPLOYMENT_LABEL: dep},
    }
    if rv:
        meta["resourceVersion"] = rv
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": "torchserve", "image": "i"}]},
        "status": status or RUNNING,
    }


def runtime_at(url: str, **kw: Any) -> KubeRuntime:
    """A runtime talking to the API server at ``url`` (no client retries: failures show at once)."""
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = url
    cfg.retries = False
    from tirui.config import Profile

    return KubeRuntime(client.ApiClient(cfg), NAMESPACE, profile=Profile(name="k8s"), **kw)


def seed(rt: KubeRuntime, spec: Any) -> None:
    """Put ``spec``'s objects into kmock with plain creates: kmock cannot create by server-side
    apply (a PATCH of a missing object is a 404 there), and these tests only need the objects to
    exist, as a cluster would hold them after ``tirui deploy``."""
    from kubernetes import client

    from tirui.cluster.manifests.build import build

    calls = {
        "Secret": client.CoreV1Api(rt.api).create_namespaced_secret,
        "ConfigMap": client.CoreV1Api(rt.api).create_namespaced_config_map,
        "PersistentVolumeClaim": client.CoreV1Api(rt.api).create_namespaced_persistent_volume_claim,
        "Service": client.CoreV1Api(rt.api).create_namespaced_service,
        "Deployment": client.AppsV1Api(rt.api).create_namespaced_deployment,
        "Ingress": client.NetworkingV1Api(rt.api).create_namespaced_ingress,
        "HorizontalPodAutoscaler": client.AutoscalingV2Api(
            rt.api
        ).create_namespaced_horizontal_pod_autoscaler,
        "PodDisruptionBudget": client.PolicyV1Api(rt.api).create_namespaced_pod_disruption_budget,
    }
    for obj in build(spec, namespace=rt.namespace, show_secrets=True):
        calls[obj["kind"]](rt.namespace, obj)
