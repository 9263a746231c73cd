"""Names, labels and constants every tirui-rendered Kubernetes object shares."""

from __future__ import annotations

from typing import Any

from tirui.cluster.manifests.proxy import ProxyPorts
from tirui.cluster.spec import DeploymentSpec

MANAGED_BY = "app.kubernetes.io/managed-by"
DEPLOYMENT_LABEL = "tirui.dev/deployment"
RESTARTED_AT = "tirui.dev/restartedAt"
SPEC_ANNOTATION = "tirui.dev/spec"
"""The spec a Deployment was applied from (no tokens): scale, autoscale and restart re-apply
the whole object from it, so one field manager keeps owning every field tirui sets."""
PREVIOUS_ANNOTATION = "tirui.dev/previous-spec"
"""The spec the Deployment ran before its archive last changed (``tirui rollback`` returns to it)."""
PROXY_IMAGE = "nginx:1.27-alpine"
FETCH_IMAGE = "amazon/aws-cli:2.17.0"
PORTS = ProxyPorts()
METRICS_PORT = 8082
"""TorchServe's Prometheus metrics (in the pod: the container port named ``metrics``)."""
PROXY_RUNTIME = "/tmp/nginx"
"""The proxy's pid file and temp files: a volume shared with TorchServe, whose preStop hook waits
for the pid file to go (nginx has drained)."""
REDACTED = "<redacted: tirui deploy --render --show-secrets prints it>"

Manifest = dict[str, Any]


def labels(spec: DeploymentSpec) -> dict[str, str]:
    return {
        MANAGED_BY: "tirui",
        DEPLOYMENT_LABEL: spec.name,
        "app.kubernetes.io/name": "torchserve",
        "app.kubernetes.io/instance": spec.name,
    }


def selector(spec: DeploymentSpec) -> dict[str, str]:
    return {DEPLOYMENT_LABEL: spec.name}


def meta(spec: DeploymentSpec, name: str, namespace: str, **extra: object) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": labels(spec), **extra}


def names(spec: DeploymentSpec) -> dict[str, str]:
    n = spec.name
    return {
        "storage": f"{n}-storage",
        "tokens": f"{n}-tokens",
        "config": f"{n}-config",
        "pvc": f"{n}-model-store",
        "deployment": n,
        "service": n,
        "ingress": n,
        "ingress_grpc": f"{n}-grpc",
        "hpa": n,
        "pdb": n,
        "tls": f"{n}-tls",
    }
