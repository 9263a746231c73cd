"""The kmock Kubernetes API emulator as tests use it: declared resources, a kubeconfig for it,
and a ``k8s`` profile pointing there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import kmock

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
