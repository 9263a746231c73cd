"""Pure functions from a :class:`DeploymentSpec` to the Kubernetes objects of DESIGN.md §3.

No client, no I/O: the same dicts are rendered by ``tirui deploy --render``, dry-run and applied
by the Kubernetes runtime, and schema-checked in tests with kubernetes-validate. Every object
carries ``app.kubernetes.io/managed-by: tirui`` and ``tirui.dev/deployment: <name>``.
"""

from __future__ import annotations

import base64
import shlex
from typing import Any

from tirui.cluster.proxy import ProxyPorts, render_nginx
from tirui.cluster.spec import DeploymentSpec, spec_to_json
from tirui.storage.uri import parse_uri

MANAGED_BY = "app.kubernetes.io/managed-by"
DEPLOYMENT_LABEL = "tirui.dev/deployment"
RESTARTED_AT = "tirui.dev/restartedAt"
SPEC_ANNOTATION = "tirui.dev/spec"
"""The spec a Deployment was applied from (no tokens): scale, autoscale and restart re-apply
the whole object from it, so one field manager keeps owning every field tirui sets."""
PROXY_IMAGE = "nginx:1.27-alpine"
FETCH_IMAGE = "amazon/aws-cli:2.17.0"
PORTS = ProxyPorts()
METRICS_PORT = 8082
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


def _meta(spec: DeploymentSpec, name: str, namespace: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": labels(spec), **extra}


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


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
        "tls": f"{n}-tls",
    }


def torchserve_config(spec: DeploymentSpec, model_file: str) -> str:
    """TorchServe behind the proxy: loopback ports, its own token auth off, metrics for scraping."""
    p = PORTS
    model = spec.model_name or model_file.removesuffix(".mar")
    lines = {
        "inference_address": f"http://127.0.0.1:{p.upstream_inference}",
        "management_address": f"http://127.0.0.1:{p.upstream_management}",
        "metrics_address": f"http://0.0.0.0:{METRICS_PORT}",
        "grpc_inference_address": "127.0.0.1",
        "grpc_management_address": "127.0.0.1",
        "grpc_inference_port": str(p.upstream_grpc_inference),
        "grpc_management_port": str(p.upstream_grpc_management),
        "metrics_mode": "prometheus",
        "model_store": "/home/model-server/model-store",
        "load_models": f"{model}={model_file}",
        "default_workers_per_model": str(spec.workers),
        "batch_size": str(spec.batch_size),
        "max_batch_delay": str(spec.max_batch_delay_ms),
        "disable_token_authorization": "true",
        "install_py_dep_per_model": "false",
    }
    return "".join(f"{k}={v}\n" for k, v in lines.items())


def _fetch_script(bucket: str, key: str, model_file: str) -> str:
    """Download the archive unless the disk already holds the object with the same ETag."""
    target = f"/home/model-server/model-store/{model_file}"
    b, k = shlex.quote(bucket), shlex.quote(key)
    return (
        "set -eu\n"
        'EP=""; [ -n "${S3_ENDPOINT:-}" ] && EP="--endpoint-url $S3_ENDPOINT"\n'
        f"ETAG=$(aws $EP s3api head-object --bucket {b} --key {k} --query ETag --output text)\n"
        f'if [ -f {target} ] && [ "$(cat {target}.etag 2>/dev/null)" = "$ETAG" ]; then\n'
        '  echo "model already on disk (ETag $ETAG): skipping the download"; exit 0\n'
        "fi\n"
        f"aws $EP s3 cp s3://{bucket}/{key} {target}.part\n"
        f"mv {target}.part {target}\n"
        f'echo "$ETAG" > {target}.etag\n'
    )


def _ready_probe(model: str) -> list[str]:
    """Ready only when the model has a READY worker (``/ping`` is not readiness, DESIGN.md §4)."""
    code = (
        "import json,sys,urllib.request;"
        f"d=json.load(urllib.request.urlopen('http://127.0.0.1:{PORTS.upstream_management}/models/{model}',timeout=3));"
        "sys.exit(0 if any(w.get('status')=='READY' for m in d for w in m.get('workers',[])) else 1)"
    )
    return ["python", "-c", code]


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
    model_file = uri.key.rsplit("/", 1)[-1]
    model = spec.model_name or model_file.removesuffix(".mar")

    def secret_value(value: str) -> str:
        return _b64(value) if show_secrets else _b64(REDACTED)

    objects: list[Manifest] = []
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _meta(spec, n["storage"], namespace),
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
    )
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _meta(spec, n["tokens"], namespace),
            "type": "Opaque",
            "data": {"nginx.conf": _b64(nginx)},
        }
    )
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(spec, n["config"], namespace),
            "data": {"config.properties": torchserve_config(spec, model_file)},
        }
    )
    if spec.disk_size:
        pvc: Manifest = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": _meta(spec, n["pvc"], namespace),
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": spec.disk_size}},
            },
        }
        if spec.storage_class:
            pvc["spec"]["storageClassName"] = spec.storage_class
        objects.append(pvc)
    objects.append(
        _deployment(
            spec, namespace, n, uri.bucket, uri.key, model_file, model, storage_endpoint, storage_region
        )
    )
    objects.append(_service(spec, namespace, n))
    if spec.tls_host:
        objects += _ingresses(spec, namespace, n)
    if spec.autoscaling:
        objects.append(_hpa(spec, namespace, n))
    return objects


def _resources(spec: DeploymentSpec) -> dict[str, Any]:
    requests: dict[str, str] = {"cpu": spec.cpu_request, "memory": spec.memory_request}
    limits: dict[str, str] = {}
    if spec.cpu_limit:
        limits["cpu"] = spec.cpu_limit
    if spec.memory_limit:
        limits["memory"] = spec.memory_limit
    if spec.gpus:
        limits["nvidia.com/gpu"] = str(spec.gpus)
        requests["nvidia.com/gpu"] = str(spec.gpus)
    return {"requests": {k: v for k, v in requests.items() if v}, "limits": limits}


def _deployment(
    spec: DeploymentSpec,
    namespace: str,
    n: dict[str, str],
    bucket: str,
    key: str,
    model_file: str,
    model: str,
    endpoint: str,
    region: str,
) -> Manifest:
    store_volume: dict[str, Any] = (
        {"name": "model-store", "persistentVolumeClaim": {"claimName": n["pvc"]}}
        if spec.disk_size
        else {"name": "model-store", "emptyDir": {}}
    )
    s3_env = [
        {
            "name": "AWS_ACCESS_KEY_ID",
            "valueFrom": {"secretKeyRef": {"name": n["storage"], "key": "AWS_ACCESS_KEY_ID"}},
        },
        {
            "name": "AWS_SECRET_ACCESS_KEY",
            "valueFrom": {"secretKeyRef": {"name": n["storage"], "key": "AWS_SECRET_ACCESS_KEY"}},
        },
        {"name": "AWS_DEFAULT_REGION", "value": region},
        {"name": "S3_ENDPOINT", "value": endpoint},
    ]
    ts_ports = [{"name": "metrics", "containerPort": METRICS_PORT}]
    proxy_ports = [
        {"name": "http", "containerPort": PORTS.inference},
        {"name": "management", "containerPort": PORTS.management},
        {"name": "grpc", "containerPort": PORTS.grpc_inference},
        {"name": "grpc-management", "containerPort": PORTS.grpc_management},
    ]
    ready = {"exec": {"command": _ready_probe(model)}}
    pod: dict[str, Any] = {
        "initContainers": [
            {
                "name": "fetch-model",
                "image": FETCH_IMAGE,
                "command": ["sh", "-c", _fetch_script(bucket, key, model_file)],
                "env": s3_env,
                "volumeMounts": [{"name": "model-store", "mountPath": "/home/model-server/model-store"}],
            }
        ],
        "containers": [
            {
                "name": "torchserve",
                "image": spec.image,
                "args": [
                    "torchserve",
                    "--start",
                    "--foreground",
                    "--ncs",
                    "--ts-config",
                    "/home/model-server/config/config.properties",
                ],
                "env": [{"name": k, "value": v} for k, v in sorted(spec.env.items())],
                "ports": ts_ports,
                "resources": _resources(spec),
                "volumeMounts": [
                    {"name": "model-store", "mountPath": "/home/model-server/model-store"},
                    {"name": "config", "mountPath": "/home/model-server/config"},
                ],
                "startupProbe": {**ready, "periodSeconds": 5, "failureThreshold": 120, "timeoutSeconds": 5},
                "readinessProbe": {**ready, "periodSeconds": 10, "failureThreshold": 3, "timeoutSeconds": 5},
                "livenessProbe": {
                    "httpGet": {"path": "/ping", "port": PORTS.inference},
                    "periodSeconds": 20,
                    "failureThreshold": 3,
                    "timeoutSeconds": 5,
                },
            },
            {
                "name": "auth-proxy",
                "image": PROXY_IMAGE,
                "args": ["nginx", "-c", "/etc/tirui/nginx.conf", "-g", "daemon off;"],
                "ports": proxy_ports,
                "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
                "volumeMounts": [{"name": "proxy", "mountPath": "/etc/tirui", "readOnly": True}],
                "readinessProbe": {"tcpSocket": {"port": PORTS.inference}, "periodSeconds": 10},
            },
        ],
        "volumes": [
            store_volume,
            {"name": "config", "configMap": {"name": n["config"]}},
            {"name": "proxy", "secret": {"secretName": n["tokens"]}},
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 60,
    }
    if spec.gpus:
        pod["nodeSelector"] = dict(spec.gpu_node_selector)
        pod["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    annotations = {
        "tirui.dev/source": spec.source,
        SPEC_ANNOTATION: spec_to_json(spec, storage_endpoint=endpoint, storage_region=region),
    }
    template_meta: dict[str, Any] = {"labels": labels(spec)}
    if spec.restarted_at:
        template_meta["annotations"] = {RESTARTED_AT: spec.restarted_at}
    deployment: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(spec, n["deployment"], namespace, annotations=annotations),
        "spec": {
            "selector": {"matchLabels": selector(spec)},
            "strategy": _strategy(spec),
            "template": {"metadata": template_meta, "spec": pod},
        },
    }
    if not spec.autoscaling:
        deployment["spec"]["replicas"] = spec.replicas
    return deployment


def _strategy(spec: DeploymentSpec) -> dict[str, Any]:
    """Recreate with a ReadWriteOnce model disk, else a rolling update. The rolling parameters are
    written out (the API server's defaults) so that tirui owns them and a later switch to
    Recreate removes them; a defaulted ``rollingUpdate`` left behind makes that switch a 422."""
    if spec.disk_size:
        return {"type": "Recreate"}
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}


def _service(spec: DeploymentSpec, namespace: str, n: dict[str, str]) -> Manifest:
    ports = [
        {"name": "http", "port": PORTS.inference, "targetPort": PORTS.inference},
        {"name": "management", "port": PORTS.management, "targetPort": PORTS.management},
        {"name": "metrics", "port": METRICS_PORT, "targetPort": METRICS_PORT},
        {
            "name": "grpc",
            "port": PORTS.grpc_inference,
            "targetPort": PORTS.grpc_inference,
            "appProtocol": "grpc",
        },
        {
            "name": "grpc-management",
            "port": PORTS.grpc_management,
            "targetPort": PORTS.grpc_management,
            "appProtocol": "grpc",
        },
    ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(spec, n["service"], namespace),
        "spec": {"selector": selector(spec), "ports": ports, "type": "ClusterIP"},
    }


def _ingresses(spec: DeploymentSpec, namespace: str, n: dict[str, str]) -> list[Manifest]:
    """REST on ``host``, gRPC on ``grpc-host`` (ingress-nginx needs a GRPC backend per Ingress)."""
    grpc_host = f"grpc-{spec.tls_host}"

    def ingress(name: str, host: str, port: int, grpc: bool) -> Manifest:
        annotations = {
            "cert-manager.io/cluster-issuer": spec.tls_issuer,
            "nginx.ingress.kubernetes.io/proxy-body-size": "64m",
        }
        if grpc:
            annotations["nginx.ingress.kubernetes.io/backend-protocol"] = "GRPC"
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": _meta(spec, name, namespace, annotations=annotations),
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
    metric = spec.autoscale_metric
    if metric == "cpu":
        target: dict[str, Any] = {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": int(spec.autoscale_target)},
            },
        }
    else:
        name = "DCGM_FI_DEV_GPU_UTIL" if metric == "gpu" else metric
        target = {
            "type": "Pods",
            "pods": {
                "metric": {"name": name},
                "target": {"type": "AverageValue", "averageValue": spec.autoscale_target},
            },
        }
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(spec, n["hpa"], namespace),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": n["deployment"]},
            "minReplicas": spec.min_replicas,
            "maxReplicas": spec.max_replicas,
            "metrics": [target],
        },
    }


def build_for_profile(
    spec: DeploymentSpec,
    profile: Any,
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
