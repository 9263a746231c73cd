"""The Deployment and its pod: TorchServe, the auth proxy, the archive fetcher, and the choices a
GPU-cluster operator expects (see README "What the manifests assume of the cluster").

- **Drain**: both containers have a preStop hook (:func:`~tirui.cluster.manifests.proxy.proxy_prestop`,
  :func:`~tirui.cluster.manifests.proxy.upstream_prestop`); the grace period covers the drain delay plus the
  longest expected request (``spec.request_timeout_s``).
- **Security**: every container runs as a non-root user without privilege escalation or
  capabilities, under the runtime's default seccomp profile; the proxy's root filesystem is
  read-only (its pid and temp files live on a small shared volume).
- **GPU fleets**: the GPU product as a node selector, pull secrets, a memory-backed ``/dev/shm``,
  and a spread of replicas across nodes.
"""

from __future__ import annotations

from typing import Any

from tirui.cluster.manifests.objects import (
    FETCH_IMAGE,
    METRICS_PORT,
    PORTS,
    PROXY_IMAGE,
    PROXY_RUNTIME,
    RESTARTED_AT,
    SPEC_ANNOTATION,
    Manifest,
    labels,
    meta,
    selector,
)
from tirui.cluster.manifests.proxy import proxy_command, proxy_prestop, upstream_prestop
from tirui.cluster.spec import DeploymentSpec, spec_to_json

MODEL_STORE = "/home/model-server/model-store"
TORCHSERVE_UID = 1000
"""``model-server`` in the pytorch/torchserve images."""
NGINX_UID = 101
"""``nginx`` in the nginx:alpine image."""
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
"""Set on GPU nodes by NVIDIA's GPU feature discovery (GPU operator)."""


FETCH_SCRIPT = """set -eu
target="$MODEL_STORE/$MODEL_FILE"
if [ -n "${S3_ENDPOINT:-}" ]; then set -- --endpoint-url "$S3_ENDPOINT"; else set --; fi
ETAG=$(aws "$@" s3api head-object --bucket "$S3_BUCKET" --key "$S3_KEY" --query ETag --output text)
if [ -f "$target" ] && [ "$(cat "$target.etag" 2>/dev/null)" = "$ETAG" ]; then
  printf 'model already on disk (ETag %s): skipping the download\\n' "$ETAG"; exit 0
fi
aws "$@" s3 cp "s3://$S3_BUCKET/$S3_KEY" "$target.part"
mv "$target.part" "$target"
printf '%s\\n' "$ETAG" > "$target.etag"
"""
"""Download the archive unless the disk already holds the object with the same ETag.

A constant: the bucket, the key and the file name reach it as environment variables
(:func:`fetch_env`) and are only ever expanded inside double quotes, so whatever an object key
holds (``$(...)``, backticks, quotes, ``;``, newlines, spaces) is one argument to ``aws``, never
shell text."""


def fetch_env(bucket: str, key: str, model_file: str) -> list[dict[str, Any]]:
    """What :data:`FETCH_SCRIPT` reads: the object's bucket and key as given, and the archive's
    file name in the model store."""
    return [
        {"name": "S3_BUCKET", "value": bucket},
        {"name": "S3_KEY", "value": key},
        {"name": "MODEL_STORE", "value": MODEL_STORE},
        {"name": "MODEL_FILE", "value": model_file},
    ]


TS_CONFIG = "/home/model-server/config/config.properties"


def torchserve_command(config: str = TS_CONFIG) -> list[str]:
    """TorchServe as the container's process, not through the image's entrypoint.

    The pytorch/torchserve entrypoint ``eval``s its arguments and then waits forever (``tail -f
    /dev/null``), and ``torchserve --foreground`` exits 0 even when its JVM was killed: a
    TorchServe that dies would leave a running container with nothing in it, found only by the
    liveness probe a minute later (and then held up by the preStop drain). Here the shell is the
    container's PID 1: when TorchServe ends, the container ends with exit code 1 and the kubelet
    restarts it at once, with the reason in its last state; SIGTERM (after the preStop hook)
    stops TorchServe with ``torchserve --stop`` and ends the container with 0."""
    return [
        "sh",
        "-c",
        f"torchserve --start --foreground --ncs --ts-config {config} &\n"
        "ts=$!\n"
        "trap 'torchserve --stop --foreground; wait \"$ts\"; exit 0' TERM INT\n"
        'wait "$ts"\n'
        'echo "tirui: TorchServe exited; ending the container so that the kubelet restarts it" >&2\n'
        "exit 1\n",
    ]


READY_PROBE = (
    "import json,sys,urllib.parse,urllib.request;"
    "u='http://127.0.0.1:%s/models/%s'%(sys.argv[1],urllib.parse.quote(sys.argv[2],safe=''));"
    "d=json.load(urllib.request.urlopen(u,timeout=3));"
    "sys.exit(0 if any(w.get('status')=='READY' for m in d for w in m.get('workers',[])) else 1)"
)
"""A constant program: the port and the model name are its arguments, never its text."""


def _ready_probe(model: str) -> list[str]:
    """Ready only when the model has a READY worker (``/ping`` stays healthy while workers are
    dead; see docs/torchserve.md)."""
    return ["python", "-c", READY_PROBE, str(PORTS.upstream_management), model]


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


def _non_root(uid: int, *, read_only: bool = False) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    if read_only:
        ctx["readOnlyRootFilesystem"] = True
    return ctx


def _s3_env(secret: str, endpoint: str, region: str) -> list[dict[str, Any]]:
    def ref(key: str) -> dict[str, Any]:
        return {"secretKeyRef": {"name": secret, "key": key}}

    return [
        {"name": "AWS_ACCESS_KEY_ID", "valueFrom": ref("AWS_ACCESS_KEY_ID")},
        {"name": "AWS_SECRET_ACCESS_KEY", "valueFrom": ref("AWS_SECRET_ACCESS_KEY")},
        {"name": "AWS_DEFAULT_REGION", "value": region},
        {"name": "S3_ENDPOINT", "value": endpoint},
        {"name": "HOME", "value": "/tmp"},
    ]


def store_volume_name(spec: DeploymentSpec) -> str:
    """The model store's volume: ``model-disk`` on the persistent disk, ``model-store`` in an
    emptyDir. Two names, so switching between them replaces a list item instead of changing the
    source of one: server-side apply on 1.20 merges the old and the new source into one volume
    and refuses it ("may not specify more than 1 volume type")."""
    return "model-disk" if spec.disk_size else "model-store"


def _torchserve(spec: DeploymentSpec, model: str) -> Manifest:
    ready = {"exec": {"command": _ready_probe(model)}}
    mounts = [
        {"name": store_volume_name(spec), "mountPath": MODEL_STORE},
        {"name": "config", "mountPath": "/home/model-server/config"},
        {"name": "proxy-runtime", "mountPath": PROXY_RUNTIME, "readOnly": True},
    ]
    if spec.shm_size:
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    return {
        "name": "torchserve",
        "image": spec.image,
        "command": torchserve_command(),
        "env": [{"name": k, "value": v} for k, v in sorted(spec.env.items())],
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        "resources": _resources(spec),
        "volumeMounts": mounts,
        "startupProbe": {**ready, "periodSeconds": 5, "failureThreshold": 120, "timeoutSeconds": 5},
        "readinessProbe": {**ready, "periodSeconds": 10, "failureThreshold": 3, "timeoutSeconds": 5},
        "livenessProbe": {
            "httpGet": {"path": "/ping", "port": PORTS.inference},
            "periodSeconds": 20,
            "failureThreshold": 3,
            "timeoutSeconds": 5,
        },
        "lifecycle": {"preStop": {"exec": {"command": upstream_prestop(PROXY_RUNTIME)}}},
        "securityContext": _non_root(TORCHSERVE_UID),
    }


def _proxy(spec: DeploymentSpec) -> Manifest:
    ports = [
        {"name": "http", "containerPort": PORTS.inference, "protocol": "TCP"},
        {"name": "management", "containerPort": PORTS.management, "protocol": "TCP"},
        {"name": "grpc", "containerPort": PORTS.grpc_inference, "protocol": "TCP"},
        {"name": "grpc-management", "containerPort": PORTS.grpc_management, "protocol": "TCP"},
        {"name": "proxy-metrics", "containerPort": PORTS.metrics, "protocol": "TCP"},
    ]
    conf = "/etc/tirui/nginx.conf"
    drain = proxy_prestop(delay_s=spec.drain_seconds)
    return {
        "name": "auth-proxy",
        "image": PROXY_IMAGE,
        "command": proxy_command(conf),
        "ports": ports,
        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
        "volumeMounts": [
            {"name": "proxy", "mountPath": "/etc/tirui", "readOnly": True},
            {"name": "proxy-runtime", "mountPath": PROXY_RUNTIME},
        ],
        "readinessProbe": {"tcpSocket": {"port": PORTS.inference}, "periodSeconds": 10},
        "lifecycle": {"preStop": {"exec": {"command": drain}}},
        "securityContext": _non_root(NGINX_UID, read_only=True),
    }


def _pod(spec: DeploymentSpec, fetch: Manifest, model: str, n: dict[str, str]) -> Manifest:
    store_volume: dict[str, Any] = (
        {"name": store_volume_name(spec), "persistentVolumeClaim": {"claimName": n["pvc"]}}
        if spec.disk_size
        else {"name": store_volume_name(spec), "emptyDir": {}}
    )
    volumes: list[dict[str, Any]] = [
        store_volume,
        {"name": "config", "configMap": {"name": n["config"]}},
        {"name": "proxy", "secret": {"secretName": n["tokens"]}},
        {"name": "proxy-runtime", "emptyDir": {"sizeLimit": "64Mi"}},
    ]
    if spec.shm_size:
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": spec.shm_size}})
    pod: dict[str, Any] = {
        "initContainers": [fetch],
        "containers": [_torchserve(spec, model), _proxy(spec)],
        "volumes": volumes,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": spec.grace_seconds,
        "securityContext": {"fsGroup": TORCHSERVE_UID, "seccompProfile": {"type": "RuntimeDefault"}},
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector(spec)},
            }
        ],
    }
    if spec.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": s} for s in spec.image_pull_secrets]
    if spec.gpus:
        nodes = dict(spec.gpu_node_selector)
        if spec.gpu_product:
            nodes[GPU_PRODUCT_LABEL] = spec.gpu_product
        pod["nodeSelector"] = nodes
        pod["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    return pod


def deployment(
    spec: DeploymentSpec,
    namespace: str,
    n: dict[str, str],
    source: tuple[str, str, str],
    model: str,
    endpoint: str,
    region: str,
) -> Manifest:
    """The Deployment; ``source`` is (bucket, key, file name in the model store)."""
    bucket, key, model_file = source
    fetch = {
        "name": "fetch-model",
        "image": FETCH_IMAGE,
        "command": ["sh", "-c", FETCH_SCRIPT],
        "env": fetch_env(bucket, key, model_file) + _s3_env(n["storage"], endpoint, region),
        "volumeMounts": [{"name": store_volume_name(spec), "mountPath": MODEL_STORE}],
        "securityContext": _non_root(TORCHSERVE_UID),
    }
    annotations = {
        "tirui.dev/source": spec.source,
        SPEC_ANNOTATION: spec_to_json(spec, storage_endpoint=endpoint, storage_region=region),
    }
    template_annotations = {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(METRICS_PORT),
        "prometheus.io/path": "/metrics",
    }
    if spec.restarted_at:
        template_annotations[RESTARTED_AT] = spec.restarted_at
    out: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(spec, n["deployment"], namespace, annotations=annotations),
        "spec": {
            "selector": {"matchLabels": selector(spec)},
            "strategy": _strategy(spec),
            "template": {
                "metadata": {"labels": labels(spec), "annotations": template_annotations},
                "spec": _pod(spec, fetch, model, n),
            },
        },
    }
    if not spec.autoscaling:
        out["spec"]["replicas"] = spec.replicas
    return out


def _strategy(spec: DeploymentSpec) -> dict[str, Any]:
    """A rolling update that never lowers the ready count (``maxUnavailable: 0``; new pods must
    pass their readiness probe, i.e. have a READY worker, before an old one goes; ``maxSurge``
    25%, at least one pod, so the cluster needs room for it). A ReadWriteOnce model disk can be
    mounted on one node only, so with one the pods are recreated instead (downtime on updates):
    use ``ReadWriteMany`` or no disk for zero-downtime updates. The rolling parameters are written
    out so that tirui owns them and a later switch to Recreate removes them (a defaulted
    ``rollingUpdate`` left behind makes that switch a 422)."""
    if spec.disk_size and spec.disk_access == "ReadWriteOnce":
        return {"type": "Recreate"}
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}


def disruption_budget(spec: DeploymentSpec, namespace: str, n: dict[str, str]) -> Manifest | None:
    """minAvailable 1 once there are two replicas or more (a node drain then takes them one by
    one); none below that, where it would block every drain."""
    floor = spec.min_replicas if spec.autoscaling else spec.replicas
    if floor < 2:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(spec, n["pdb"], namespace),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": selector(spec)}},
    }
