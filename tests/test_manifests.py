"""Manifests: schema-valid (kubernetes-validate, Kubernetes 1.37 schemas) for many specs, and shaped right."""

from __future__ import annotations

import base64
from typing import Any

import kubernetes_validate
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tirui.cluster.manifests import DEPLOYMENT_LABEL, MANAGED_BY, REDACTED, build, to_yaml
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
        and "/models/r50" in ready
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
            autoscale_metric="ts_queue_latency",
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
    assert {"name": "model-store", "persistentVolumeClaim": {"claimName": "resnet-model-store"}} in volumes
    rest, grpc = kinds["Ingress"]
    assert rest["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert rest["spec"]["tls"][0]["hosts"] == ["resnet.models.example.net"]
    assert grpc["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    hpa = kinds["HorizontalPodAutoscaler"][0]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["metrics"][0]["pods"]["metric"]["name"] == "ts_queue_latency"
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
        [None, (1, 4, "cpu", "60"), (2, 10, "gpu", "80"), (1, 3, "ts_queue_latency", "500m")]
    ),
    auth=st.booleans(),
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
    )
    if autoscale:
        s.min_replicas, s.max_replicas, s.autoscale_metric, s.autoscale_target = autoscale
    objects = build(s, storage_endpoint="https://objectstore.example.net")
    validate_all(objects)
    assert all(o["metadata"]["labels"][DEPLOYMENT_LABEL] == name for o in objects)
