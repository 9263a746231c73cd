"""Manifests: schema-valid (kubernetes-validate, Kubernetes 1.37 schemas) for many specs, and shaped right."""

from __future__ import annotations

import base64
from typing import Any

import kubernetes_validate
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tirui.cluster.manifests.build import build, to_yaml
from tirui.cluster.manifests.objects import DEPLOYMENT_LABEL, MANAGED_BY, REDACTED
from tirui.cluster.spec import DeploymentSpec, SpecError

K8S = kubernetes_validate.latest_version()


def validate_all(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        kubernetes_validate.validate(obj, K8S, strict=True)


def by_kind(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for o in objects:
        out.setdefault(o["kind"], []).append(o)
    return out


def spec(**kw: Any) -> DeploymentSpec:
    return DeploymentSpec(name="resnet", source="eos://models/resnet/r50.mar", tokens=["t" * 20], **kw)


def test_minimal_deployment() -> None:
    objects = build(spec(), namespace="ml")
    validate_all(objects)
    kinds = by_kind(objects)
    assert sorted(kinds) == ["ConfigMap", "Deployment", "Secret", "Service"]
    assert all(o["metadata"]["labels"][MANAGED_BY] == "tirui" for o in objects)
    assert all(o["metadata"]["namespace"] == "ml" for o in objects)
    dep = kinds["Deployment"][0]
    pod = dep["spec"]["template"]["spec"]
    assert dep["spec"]["replicas"] == 1 and pod["restartPolicy"] == "Always"
    assert dep["spec"]["selector"]["matchLabels"] == {DEPLOYMENT_LABEL: "resnet"}
    ts, proxy = pod["containers"]
    assert ts["resources"]["limits"]["nvidia.com/gpu"] == "1" and pod["nodeSelector"]
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    ready = " ".join(ts["readinessProbe"]["exec"]["command"])
    assert (
        "READY" in ready
        and "/models/%s" in ready
        and ts["readinessProbe"]["exec"]["command"][-1] == "r50"  # the model is an argument
        and ts["startupProbe"]["exec"] == ts["readinessProbe"]["exec"]
    )
    assert ts["livenessProbe"]["httpGet"]["path"] == "/ping"
    assert proxy["name"] == "auth-proxy" and pod["initContainers"][0]["name"] == "fetch-model"
    assert "ETag" in pod["initContainers"][0]["command"][2]
    assert {"name": "model-store", "emptyDir": {}} in pod["volumes"]
    config = kinds["ConfigMap"][0]["data"]["config.properties"]
    assert "load_models=r50=r50.mar" in config and "disable_token_authorization=true" in config
    assert "inference_address=http://127.0.0.1:" in config  # only the proxy is reachable


def test_secrets_are_redacted_unless_asked() -> None:
    token = "super-secret-token-123456"
    s = spec()
    s.tokens = [token]
    rendered = to_yaml(build(s, access_key_id="AKIA1", secret_access_key="s3cr3t"))
    decoded = " ".join(
        base64.b64decode(v).decode()
        for o in build(s, secret_access_key="s3cr3t")
        if o["kind"] == "Secret"
        for v in o["data"].values()
    )
    assert token not in rendered and token not in decoded and "s3cr3t" not in decoded and REDACTED in decoded
    shown = build(s, access_key_id="AKIA1", secret_access_key="s3cr3t", show_secrets=True)
    decoded = " ".join(
        base64.b64decode(v).decode() for o in shown if o["kind"] == "Secret" for v in o["data"].values()
    )
    assert f'"Bearer {token}" 1;' in decoded and "s3cr3t" in decoded


def test_disk_tls_and_autoscaling_only_when_asked() -> None:
    objects = build(
        spec(
            disk_size="20Gi",
            storage_class="fast",
            tls_host="resnet.models.example.net",
            min_replicas=2,
            max_replicas=6,
            autoscale_metric="queue-latency-ms",
            autoscale_target="50",
        )
    )
    validate_all(objects)
    kinds = by_kind(objects)
    assert kinds["PersistentVolumeClaim"][0]["spec"]["storageClassName"] == "fast"
    dep = kinds["Deployment"][0]
    assert "replicas" not in dep["spec"]  # the HPA owns the count
    assert dep["spec"]["strategy"] == {"type": "Recreate"}  # one RWO disk
    volumes = dep["spec"]["template"]["spec"]["volumes"]
    assert {"name": "model-disk", "persistentVolumeClaim": {"claimName": "resnet-model-store"}} in volumes
    rest, grpc = kinds["Ingress"]
    assert rest["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert rest["spec"]["tls"][0]["hosts"] == ["resnet.models.example.net"]
    assert grpc["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    hpa = kinds["HorizontalPodAutoscaler"][0]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["metrics"][0]["pods"] == {
        "metric": {"name": "tirui_queue_latency_ms"},
        "target": {"type": "AverageValue", "averageValue": "50"},
    }
    assert kinds["PodDisruptionBudget"][0]["spec"]["minAvailable"] == 1  # min replicas 2
    cpu = by_kind(build(spec(min_replicas=1, max_replicas=3)))["HorizontalPodAutoscaler"][0]["spec"][
        "metrics"
    ][0]
    assert cpu["resource"]["target"]["averageUtilization"] == 70


def test_cpu_only_deployment_has_no_gpu_scheduling() -> None:
    pod = by_kind(build(spec(gpus=0)))["Deployment"][0]["spec"]["template"]["spec"]
    assert "nodeSelector" not in pod and "tolerations" not in pod
    assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        (dict(name="Bad_Name"), "name"),
        (dict(cpu_request="lots"), "cpu_request"),
        (dict(replicas=-1), "replicas"),
        (dict(min_replicas=5, max_replicas=2), "max_replicas"),
        (dict(min_replicas=1, max_replicas=2, autoscale_target="150"), "autoscale_target"),
        (dict(tls_host="not a host"), "tls_host"),
        (dict(gpus=-1), "gpus"),
        (dict(max_body="lots"), "max_body"),
        (dict(max_body="4Gi"), "max_body"),
        (dict(request_timeout_s=0), "request_timeout_s"),
        (dict(protocol="kfserving"), "protocol"),
        (dict(gpu_product="A100 80GB"), "gpu_product"),
        (dict(image_pull_secrets=["Not_A_Secret"]), "image_pull_secrets"),
        (dict(shm_size="big"), "shm_size"),
        (
            dict(min_replicas=1, max_replicas=2, autoscale_metric="ts_queue_latency_microseconds"),
            "autoscale_metric",
        ),
        (dict(min_replicas=1, max_replicas=2, autoscale_metric="Requests2XX"), "autoscale_metric"),
        (
            dict(min_replicas=1, max_replicas=2, autoscale_metric="inflight", autoscale_target="-1"),
            "autoscale_target",
        ),
    ],
)
def test_invalid_specs_are_refused(kw: dict[str, Any], field: str) -> None:
    s = spec()
    for k, v in kw.items():
        setattr(s, k, v)
    with pytest.raises(SpecError) as info:
        build(s)
    assert field in info.value.problems


names = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)
quantity = st.sampled_from(["100m", "1", "2", "1500m", "512Mi", "4Gi", "16Gi"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=names,
    key=st.from_regex(r"[a-z0-9_/-]{1,30}", fullmatch=True),
    gpus=st.integers(0, 8),
    replicas=st.integers(0, 20),
    workers=st.integers(0, 8),
    cpu=quantity,
    mem=st.sampled_from(["512Mi", "4Gi", "16Gi"]),
    disk=st.sampled_from(["", "10Gi", "100Gi"]),
    host=st.sampled_from(["", "m.example.net", "a-b.models.example.org"]),
    autoscale=st.sampled_from(
        [
            None,
            (1, 4, "cpu", "60"),
            (2, 10, "gpu", "80"),
            (1, 3, "queue-latency-ms", "50"),
            (2, 5, "inflight", "2.5"),
            (1, 9, "requests-per-s", "20"),
            (1, 3, "my_adapter_metric", "500m"),
        ]
    ),
    auth=st.booleans(),
    fleet=st.sampled_from(
        [
            {},
            {
                "gpu_product": "NVIDIA-L4",
                "image_pull_secrets": ["regcred"],
                "shm_size": "",
                "max_body": "200Mi",
            },
        ]
    ),
)
def test_generated_specs_are_schema_valid(
    name: str,
    key: str,
    gpus: int,
    replicas: int,
    workers: int,
    cpu: str,
    mem: str,
    disk: str,
    host: str,
    autoscale: tuple[int, int, str, str] | None,
    auth: bool,
    fleet: dict[str, Any],
) -> None:
    s = DeploymentSpec(
        name=name,
        source=f"eos://bucket/{key}.mar",
        gpus=gpus,
        replicas=replicas,
        workers=workers,
        cpu_request=cpu,
        memory_request=mem,
        memory_limit=mem,
        disk_size=disk,
        tls_host=host,
        auth=auth,
        tokens=["x" * 24] if auth else [],
        **fleet,
    )
    if autoscale:
        s.min_replicas, s.max_replicas, s.autoscale_metric, s.autoscale_target = autoscale
    objects = build(s, storage_endpoint="https://objectstore.example.net")
    validate_all(objects)
    assert all(o["metadata"]["labels"][DEPLOYMENT_LABEL] == name for o in objects)


def test_autoscale_choices_render_the_hpa_metric_and_the_adapter_rule() -> None:
    """Named metrics are rates from TorchServe's counters, in human units; a counter itself is refused."""
    import yaml

    from tirui.cluster.autoscale import AutoscaleError, parse_metric
    from tirui.cluster.manifests.autoscale import adapter_rules_yaml

    assert parse_metric("queue-latency-ms=50") == ("queue-latency-ms", "50")
    assert parse_metric("inflight") == ("inflight", "4")  # the metric's default target
    assert parse_metric("cpu", "85") == ("cpu", "85")
    hpa = lambda m, t: by_kind(  # noqa: E731
        build(spec(min_replicas=1, max_replicas=4, autoscale_metric=m, autoscale_target=t))
    )["HorizontalPodAutoscaler"][0]["spec"]["metrics"][0]
    assert hpa("requests-per-s", "0.5")["pods"] == {
        "metric": {"name": "tirui_requests_per_second"},
        "target": {"type": "AverageValue", "averageValue": "500m"},
    }
    assert hpa("gpu", "80")["pods"]["metric"]["name"] == "DCGM_FI_DEV_GPU_UTIL"
    assert hpa("inflight", "3")["pods"]["metric"]["name"] == "tirui_inflight_requests"
    for counter in ("ts_queue_latency_microseconds", "ts_inference_requests_total", "my_requests_total"):
        with pytest.raises(AutoscaleError, match="counter"):
            parse_metric(f"{counter}=500m")
    rules = yaml.safe_load(
        adapter_rules_yaml(["cpu", "queue-latency-ms", "inflight", "requests-per-s", "gpu"])
    )
    by_name = {r["name"]["as"]: r for r in rules["rules"]}
    assert set(by_name) == {
        "tirui_queue_latency_ms",
        "tirui_inflight_requests",
        "tirui_requests_per_second",
        "DCGM_FI_DEV_GPU_UTIL",
    }
    queue = by_name["tirui_queue_latency_ms"]["metricsQuery"]
    assert "rate(ts_queue_latency_microseconds" in queue and "rate(ts_inference_requests_total" in queue
    assert "/ 1000" in queue  # µs → ms
    assert "- 1" in by_name["tirui_inflight_requests"]["metricsQuery"]  # the scrape itself
    for rule in rules["rules"]:
        assert rule["resources"]["overrides"]["pod"] == {"resource": "pod"}


def test_limits_drain_and_fleet_options() -> None:
    s = spec(
        replicas=3,
        max_body="200Mi",
        request_timeout_s=600,
        gpu_product="NVIDIA-A100-SXM4-80GB",
        image_pull_secrets=["regcred", "mirror"],
        shm_size="8Gi",
        tls_host="resnet.example.net",
    )
    objects = build(s)
    validate_all(objects)
    kinds = by_kind(objects)
    config = kinds["ConfigMap"][0]["data"]["config.properties"]
    assert f"max_request_size={200 * 2**20}\n" in config and f"max_response_size={200 * 2**20}\n" in config
    assert "default_response_timeout=600\n" in config and "service_envelope" not in config
    s.protocol, s.model_version, s.batch_size = "kservev2", "2.0", 8
    config = by_kind(build(s))["ConfigMap"][0]["data"]["config.properties"]
    assert "service_envelope=kservev2\n" in config
    assert (
        '"2.0":{"defaultVersion":true' in config
        and '"batchSize":8' in config
        and '"responseTimeout":600' in config
    )
    nginx = base64.b64decode(kinds["Secret"][1]["data"]["nginx.conf"]).decode()
    assert f"client_max_body_size {200 * 2**20};" in nginx and "proxy_read_timeout 600s;" in nginx
    assert "grpc_read_timeout 600s;" in nginx and "$connections_writing" in nginx
    for ingress in kinds["Ingress"]:
        annotations = ingress["metadata"]["annotations"]
        assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "200m"
        assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "600"
    pod = kinds["Deployment"][0]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 600 + s.drain_seconds
    ts, proxy = pod["containers"]
    assert "nginx.pid" in " ".join(ts["lifecycle"]["preStop"]["exec"]["command"])
    assert proxy["lifecycle"]["preStop"]["exec"]["command"] == ["sh", "-c", f"sleep {s.drain_seconds}"]
    # the image's stop signal (SIGQUIT for nginx) drains, as SIGTERM does
    assert "trap 'nginx -c /etc/tirui/nginx.conf -s quit' QUIT TERM" in proxy["command"][2]
    assert pod["nodeSelector"]["nvidia.com/gpu.product"] == "NVIDIA-A100-SXM4-80GB"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}, {"name": "mirror"}]
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}} in pod["volumes"]
    assert {"name": "dshm", "mountPath": "/dev/shm"} in ts["volumeMounts"]
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    assert proxy["securityContext"]["readOnlyRootFilesystem"] and proxy["securityContext"]["runAsNonRoot"]
    assert all(c["securityContext"]["allowPrivilegeEscalation"] is False for c in pod["containers"])
    assert pod["initContainers"][0]["securityContext"]["runAsNonRoot"]
    assert kinds["PodDisruptionBudget"][0]["spec"] == {
        "minAvailable": 1,
        "selector": {"matchLabels": {DEPLOYMENT_LABEL: "resnet"}},
    }
    assert "PodDisruptionBudget" not in by_kind(build(spec(replicas=1)))  # it would block every drain


def test_updates_roll_without_lowering_ready_pods_unless_a_one_node_disk_forbids_it() -> None:
    def strategy(**kw: Any) -> Any:
        return by_kind(build(spec(**kw)))["Deployment"][0]["spec"]["strategy"]

    assert strategy() == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}
    assert strategy(disk_size="10Gi") == {"type": "Recreate"}  # ReadWriteOnce: one node at a time
    shared = build(spec(disk_size="10Gi", disk_access="ReadWriteMany"))
    validate_all(shared)
    assert by_kind(shared)["Deployment"][0]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert by_kind(shared)["PersistentVolumeClaim"][0]["spec"]["accessModes"] == ["ReadWriteMany"]
