"""The Kubernetes objects of a canary: a second tirui-managed Deployment + Service (named
``<name>-canary``) serving the new archive under the stable side's model name, and ingress-nginx
canary Ingresses on the stable side's hosts (REST and gRPC) with ``canary-weight``.

ingress-nginx sends ``canary-weight`` % of the requests for a host to the canary Ingress' backend
(https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/#canary);
the TLS certificate stays the stable Ingress' (no cert-manager annotation and no ``tls`` here,
or cert-manager would issue a second certificate for the same host). The canary reads the stable
side's Secrets (tokens, object-store keys), so tokens work on both sides and rotate together.
It has no disk, no autoscaler and no disruption budget: it is short-lived by design.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from tirui.canary.state import CANARY_SUFFIX
from tirui.cluster.manifests.build import build
from tirui.cluster.manifests.objects import Manifest
from tirui.cluster.spec import DeploymentSpec, model_name_of

CANARY_OF = "tirui.dev/canary-of"
"""Label on every canary object: the stable deployment's name."""
CANARY_ANNOTATION = "tirui.dev/canary"
"""On the canary Deployment: weight, start time and the analysis (JSON)."""
INGRESS_CANARY = "nginx.ingress.kubernetes.io/canary"
INGRESS_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"


def served_model(spec: DeploymentSpec) -> str:
    return model_name_of(spec.source, spec.model_name)


def canary_spec(stable: DeploymentSpec, source: str, replicas: int = 1) -> DeploymentSpec:
    """The stable spec with the new archive, under the stable model name, at a fixed size."""
    return replace(
        stable,
        name=stable.name + CANARY_SUFFIX,
        source=source,
        model_name=served_model(stable),
        replicas=max(1, replicas),
        min_replicas=0,
        max_replicas=0,
        disk_size="",
        etag="",
        model_version="",
        restarted_at="",
        tokens=[],
    )


def _relabel(obj: object, stable: str, canary: str) -> Any:
    """Secret references to the canary's own Secrets point at the stable side's instead."""
    swap = {f"{canary}-tokens": f"{stable}-tokens", f"{canary}-storage": f"{stable}-storage"}
    if isinstance(obj, dict):
        return {k: _relabel(v, stable, canary) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_relabel(v, stable, canary) for v in obj]
    return swap.get(obj, obj) if isinstance(obj, str) else obj


def build_canary(
    stable: DeploymentSpec,
    canary: DeploymentSpec,
    weight: int,
    *,
    namespace: str,
    storage_endpoint: str = "",
    storage_region: str = "us-east-1",
    policy: str = "",
    started: float = 0.0,
) -> list[Manifest]:
    """ConfigMap, Deployment, Service and the canary Ingresses, in apply order."""
    objects = build(
        canary, namespace=namespace, storage_endpoint=storage_endpoint, storage_region=storage_region
    )
    out: list[Manifest] = []
    for obj in objects:
        if obj["kind"] not in ("ConfigMap", "Deployment", "Service", "Ingress"):
            continue  # Secrets are the stable side's; no disk, autoscaler or budget
        obj = _relabel(obj, stable.name, canary.name)
        obj["metadata"]["labels"][CANARY_OF] = stable.name
        if obj["kind"] == "Deployment":
            obj["spec"]["template"]["metadata"]["labels"][CANARY_OF] = stable.name
            state = {"weight": weight, "started": started or time.time(), "policy": policy}
            obj["metadata"].setdefault("annotations", {})[CANARY_ANNOTATION] = json.dumps(state)
        if obj["kind"] == "Ingress":
            annotations = obj["metadata"]["annotations"]
            annotations.pop("cert-manager.io/cluster-issuer", None)
            annotations[INGRESS_CANARY] = "true"
            annotations[INGRESS_WEIGHT] = str(weight)
            obj["spec"].pop("tls", None)
            grpc = obj["metadata"]["name"].endswith("-grpc")
            host = f"grpc-{stable.tls_host}" if grpc else stable.tls_host
            obj["spec"]["rules"][0]["host"] = host  # the stable side's hosts (the same already)
        out.append(obj)
    return out


def canary_state(dep: Manifest | None) -> dict[str, Any]:
    text = ((dep or {}).get("metadata", {}).get("annotations") or {}).get(CANARY_ANNOTATION, "")
    try:
        doc = json.loads(text) if text else {}
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}
