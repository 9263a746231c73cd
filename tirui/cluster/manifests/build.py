"""Pure functions from a :class:`DeploymentSpec` to the Kubernetes objects of docs/kubernetes.md.

No client, no I/O: the same dicts are rendered by ``tirui deploy --render``, dry-run and applied
by the Kubernetes runtime, and schema-checked in tests with kubernetes-validate. Every object
carries ``app.kubernetes.io/managed-by: tirui`` and ``tirui.dev/deployment: <name>``.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from tirui.cluster.manifests.autoscale import hpa_metric
from tirui.cluster.manifests.objects import (
    METRICS_PORT,
    PORTS,
    PROXY_RUNTIME,
    REDACTED,
    Manifest,
    meta,
    names,
    selector,
)
from tirui.cluster.manifests.pod import deployment, disruption_budget
from tirui.cluster.manifests.proxy import render_nginx
from tirui.cluster.spec import DeploymentSpec, model_name_of
from tirui.storage.uri import parse_uri
from tirui.torchserve.server import Ports, ServerConfig

if TYPE_CHECKING:
    from tirui.config import Profile


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def store_file(model: str) -> str:
    """The archive's file name in the pod's model store: the served model's name (safe in a
    path and in ``config.properties``), never the object key's."""
    return f"{model}.mar"


def torchserve_config(spec: DeploymentSpec, model_file: str) -> str:
    """TorchServe behind the proxy (``model_file``: the archive's name in the model store,
    :func:`store_file`): loopback ports, its own token auth off, metrics for scraping on every
    interface; the per-model settings in ``models=``, keyed by model name *and* version, so
    only once the runtime has read the archive's version from its manifest (else TorchServe's
    defaults apply to batching); the proxy's timeout is TorchServe's response timeout too, and
    one body limit holds for the whole path (nginx has the same; TorchServe sizes its gRPC
    server's inbound messages by ``max_request_size``)."""
    p = PORTS
    model = model_name_of(spec.source, spec.model_name)
    config = ServerConfig(
        Ports(
            p.upstream_inference,
            p.upstream_management,
            METRICS_PORT,
            p.upstream_grpc_inference,
            p.upstream_grpc_management,
        ),
        "/home/model-server/model-store",
        [f"{model}={model_file}"],
        settings=spec.settings(),
        model_version=spec.model_version,
        token_auth=False,
        protocol=spec.protocol,
        max_body_bytes=spec.max_body_bytes,
        metrics_host="0.0.0.0",
    )
    return config.render("127.0.0.1")


def build(
    spec: DeploymentSpec,
    *,
    namespace: str = "default",
    storage_endpoint: str = "",
    storage_region: str = "us-east-1",
    access_key_id: str = "",
    secret_access_key: str = "",
    show_secrets: bool = False,
) -> list[Manifest]:
    """Every object of the deployment, in apply order."""
    spec.validate()
    n = names(spec)
    uri = parse_uri(spec.source)
    model = model_name_of(spec.source, spec.model_name)
    model_file = store_file(model)

    def secret_value(value: str) -> str:
        return _b64(value) if show_secrets else _b64(REDACTED)

    objects: list[Manifest] = []
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta(spec, n["storage"], namespace),
            "type": "Opaque",
            "data": {
                "AWS_ACCESS_KEY_ID": secret_value(access_key_id),
                "AWS_SECRET_ACCESS_KEY": secret_value(secret_access_key),
            },
        }
    )
    tokens = spec.tokens if spec.auth else []
    # Redacted renders show one placeholder per token (at least one with auth on: the token
    # itself is only read from the keyring when applying, or with show_secrets).
    shown = len(tokens) or (1 if spec.auth else 0)
    nginx = render_nginx(
        tokens if show_secrets else [f"redacted-token-{i + 1}" for i in range(shown)],
        auth=spec.auth,
        ports=PORTS,
        runtime_dir=PROXY_RUNTIME,
        max_body_bytes=spec.max_body_bytes,
        timeout_s=spec.request_timeout_s,
    )
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta(spec, n["tokens"], namespace),
            "type": "Opaque",
            "data": {"nginx.conf": _b64(nginx)},
        }
    )
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(spec, n["config"], namespace),
            "data": {"config.properties": torchserve_config(spec, model_file)},
        }
    )
    if spec.disk_size:
        pvc: Manifest = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": meta(spec, n["pvc"], namespace),
            "spec": {
                "accessModes": [spec.disk_access],
                "resources": {"requests": {"storage": spec.disk_size}},
            },
        }
        if spec.storage_class:
            pvc["spec"]["storageClassName"] = spec.storage_class
        objects.append(pvc)
    source = (uri.bucket, uri.key, model_file)
    objects.append(deployment(spec, namespace, n, source, model, storage_endpoint, storage_region))
    objects.append(_service(spec, namespace, n))
    if spec.tls_host:
        objects += _ingresses(spec, namespace, n)
    if spec.autoscaling:
        objects.append(_hpa(spec, namespace, n))
    pdb = disruption_budget(spec, namespace, n)
    if pdb is not None:
        objects.append(pdb)
    return objects


def _service(spec: DeploymentSpec, namespace: str, n: dict[str, str]) -> Manifest:
    # ``protocol`` on every port: it is part of the list's key for server-side apply, and
    # v1.20-1.21 servers refuse an apply that omits it
    ports = [
        {"name": "http", "port": PORTS.inference, "targetPort": PORTS.inference, "protocol": "TCP"},
        {"name": "management", "port": PORTS.management, "targetPort": PORTS.management, "protocol": "TCP"},
        {"name": "metrics", "port": METRICS_PORT, "targetPort": METRICS_PORT, "protocol": "TCP"},
        {"name": "proxy-metrics", "port": PORTS.metrics, "targetPort": PORTS.metrics, "protocol": "TCP"},
        {
            "name": "grpc",
            "port": PORTS.grpc_inference,
            "targetPort": PORTS.grpc_inference,
            "appProtocol": "grpc",
            "protocol": "TCP",
        },
        {
            "name": "grpc-management",
            "port": PORTS.grpc_management,
            "targetPort": PORTS.grpc_management,
            "appProtocol": "grpc",
            "protocol": "TCP",
        },
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(spec, n["service"], namespace),
        "spec": {"selector": selector(spec), "ports": ports, "type": "ClusterIP"},
    }


def _ingresses(spec: DeploymentSpec, namespace: str, n: dict[str, str]) -> list[Manifest]:
    """REST on ``host``, gRPC on ``grpc-host`` (ingress-nginx needs a GRPC backend per Ingress)."""
    grpc_host = f"grpc-{spec.tls_host}"

    def ingress(name: str, host: str, port: int, grpc: bool) -> Manifest:
        annotations = {
            "cert-manager.io/cluster-issuer": spec.tls_issuer,
            "nginx.ingress.kubernetes.io/proxy-body-size": f"{-(-spec.max_body_bytes // 2**20)}m",
            "nginx.ingress.kubernetes.io/proxy-read-timeout": str(spec.request_timeout_s),
            "nginx.ingress.kubernetes.io/proxy-send-timeout": str(spec.request_timeout_s),
        }
        if grpc:
            annotations["nginx.ingress.kubernetes.io/backend-protocol"] = "GRPC"
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": meta(spec, name, namespace, annotations=annotations),
            "spec": {
                "ingressClassName": spec.ingress_class,
                "tls": [{"hosts": [host], "secretName": f"{n['tls']}-{'grpc' if grpc else 'http'}"}],
                "rules": [
                    {
                        "host": host,
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": n["service"], "port": {"number": port}}},
                                }
                            ]
                        },
                    }
                ],
            },
        }

    return [
        ingress(n["ingress"], spec.tls_host, PORTS.inference, False),
        ingress(n["ingress_grpc"], grpc_host, PORTS.grpc_inference, True),
    ]


def _hpa(spec: DeploymentSpec, namespace: str, n: dict[str, str]) -> Manifest:
    """The autoscaler; its metric in the cluster's terms comes from :mod:`tirui.cluster.autoscale`."""
    target = hpa_metric(spec.autoscale_metric, spec.autoscale_target)
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(spec, n["hpa"], namespace),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": n["deployment"]},
            "minReplicas": spec.min_replicas,
            "maxReplicas": spec.max_replicas,
            "metrics": [target],
        },
    }


def build_for_profile(
    spec: DeploymentSpec,
    profile: Profile,
    *,
    namespace: str = "",
    access_key_id: str = "",
    secret_access_key: str = "",
    show_secrets: bool = False,
) -> list[Manifest]:
    """:func:`build` with the profile's namespace (unless given) and object-store endpoint and
    region: what ``tirui deploy --render``, the deploy form's preview and the runtime apply."""
    return build(
        spec,
        namespace=namespace or profile.kubernetes.namespace,
        storage_endpoint=profile.storage.endpoint_url,
        storage_region=profile.storage.region,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        show_secrets=show_secrets,
    )


def to_yaml(objects: list[Manifest]) -> str:
    """Multi-document YAML, as ``tirui deploy --render`` prints it."""
    import yaml

    return "".join("---\n" + yaml.safe_dump(o, sort_keys=False, default_flow_style=False) for o in objects)
