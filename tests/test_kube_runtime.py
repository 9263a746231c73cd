"""The Kubernetes runtime against the kmock API emulator over HTTP (tests play the controller)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.kube_cluster import NAMESPACE, emulated_cluster, pod, runtime_at
from tirui.cluster.kube import KubeError, KubeRuntime
from tirui.cluster.kube_status import pod_status
from tirui.cluster.manifests import DEPLOYMENT_LABEL, RESTARTED_AT
from tirui.cluster.runtime import DeploymentNotFound
from tirui.cluster.spec import DeploymentSpec

NS = NAMESPACE


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[Any, KubeRuntime]]:
    async with emulated_cluster() as km:
        yield km, runtime_at(str(km.url))


async def aget(rt: KubeRuntime, kind: str, name: str) -> Any:
    """Reads go to a thread: the emulator serves on this test's event loop."""
    return await asyncio.to_thread(rt._get, kind, name)


def spec(**kw: Any) -> DeploymentSpec:
    return DeploymentSpec("resnet", "eos://models/r50.mar", tokens=["t" * 24], **kw)


async def test_deploy_scale_autoscale_restart_delete(cluster: tuple[Any, KubeRuntime]) -> None:
    km, rt = cluster
    status = await asyncio.to_thread(rt.deploy, spec(tls_host="r.example.net", disk_size="10Gi"))
    assert (
        status.name == "resnet" and status.status == "Starting" and status.endpoint == "https://r.example.net"
    )
    kinds = sorted({key[0].plural for key in km.objects})
    assert kinds == [
        "configmaps",
        "deployments",
        "ingresses",
        "persistentvolumeclaims",
        "secrets",
        "services",
    ]
    # re-applying the same deployment updates in place
    await asyncio.to_thread(rt.deploy, spec(tls_host="r.example.net", disk_size="10Gi", workers=2))

    await asyncio.to_thread(rt.scale, "resnet", 3)
    assert (await asyncio.to_thread(rt.get, "resnet")).desired == 3
    await asyncio.to_thread(rt.autoscale, "resnet", 2, 5, "ts_queue_latency", "500m")
    hpa = await aget(rt, "HorizontalPodAutoscaler", "resnet")
    assert hpa is not None and hpa["spec"]["maxReplicas"] == 5
    with pytest.raises(KubeError, match="autoscaled"):
        await asyncio.to_thread(rt.scale, "resnet", 1)
    with pytest.raises(KubeError, match="below min"):
        await asyncio.to_thread(rt.autoscale, "resnet", 4, 2)
    await asyncio.to_thread(rt.autoscale, "resnet", 0, 0)
    assert await aget(rt, "HorizontalPodAutoscaler", "resnet") is None

    await asyncio.to_thread(rt.restart, "resnet")
    dep = await aget(rt, "Deployment", "resnet")
    assert dep is not None and RESTARTED_AT in dep["spec"]["template"]["metadata"]["annotations"]

    # an object tirui does not manage (same deployment label, no managed-by) survives the delete
    await asyncio.to_thread(
        rt.core.create_namespaced_config_map,
        NS,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "theirs", "labels": {DEPLOYMENT_LABEL: "resnet"}},
        },
    )
    await asyncio.to_thread(rt.delete, "resnet")
    assert await aget(rt, "Deployment", "resnet") is None and await aget(rt, "Service", "resnet") is None
    assert await aget(rt, "ConfigMap", "theirs") is not None
    with pytest.raises(DeploymentNotFound):
        await asyncio.to_thread(rt.get, "resnet")


async def test_refuses_to_overwrite_objects_it_does_not_own(cluster: tuple[Any, KubeRuntime]) -> None:
    _km, rt = cluster
    await asyncio.to_thread(
        rt.core.create_namespaced_service,
        NS,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "resnet"},
            "spec": {"ports": [{"port": 80}]},
        },
    )
    with pytest.raises(KubeError) as info:
        await asyncio.to_thread(rt.deploy, spec())
    assert "Service/resnet already exist" in str(info.value) and "not managed by tirui" in str(info.value)
    assert await aget(rt, "Deployment", "resnet") is None  # the dry run stopped it before anything else


async def test_status_mapping_from_pods(cluster: tuple[Any, KubeRuntime]) -> None:
    _km, rt = cluster
    await asyncio.to_thread(rt.deploy, spec(replicas=2))
    ready = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [
            {
                "name": "torchserve",
                "restartCount": 0,
                "state": {"running": {}},
                "image": "i",
                "imageID": "",
                "ready": True,
            }
        ],
    }
    crash = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [
            {
                "image": "i",
                "imageID": "",
                "ready": False,
                "name": "torchserve",
                "restartCount": 4,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
            }
        ],
    }
    for p in (pod("resnet-a", status=ready), pod("resnet-b", status=crash)):
        await asyncio.to_thread(rt.core.create_namespaced_pod, NS, p)
    status = await asyncio.to_thread(rt.get, "resnet")
    assert (status.ready, status.desired, status.restarts, status.status) == (1, 2, 4, "CrashLoopBackOff")
    assert "OOMKilled" in status.reason
    pull = pod_status(
        pod(
            "x",
            status={
                "phase": "Pending",
                "containerStatuses": [
                    {
                        "name": "torchserve",
                        "restartCount": 0,
                        "state": {"waiting": {"reason": "ImagePullBackOff", "message": "pull access denied"}},
                    }
                ],
            },
        )
    )
    assert pull.phase == "ImagePullBackOff" and "pull access denied" in pull.reason
    pending = pod_status(
        pod(
            "y",
            status={
                "phase": "Pending",
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
                    }
                ],
            },
        )
    )
    assert pending.phase == "Pending" and "Insufficient nvidia.com/gpu" in pending.reason
    listed = await asyncio.to_thread(rt.list)
    assert [s.name for s in listed] == ["resnet"]


async def test_unreachable_api_and_missing_context(tmp_path: Any) -> None:
    rt = runtime_at("http://127.0.0.1:9")
    with pytest.raises(KubeError, match="cannot reach the Kubernetes API"):
        await asyncio.to_thread(rt.list)
    from tirui.config import KubeSettings, Profile

    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    profile = Profile("k8s", kubernetes=KubeSettings(kubeconfig=str(kubeconfig), context="gpu-cluster"))
    with pytest.raises(KubeError, match="gpu-cluster"):
        KubeRuntime.from_profile(profile)


async def test_rbac_forbidden_and_a_partial_apply_are_said_plainly(cluster: tuple[Any, KubeRuntime]) -> None:
    """RBAC refusals name the operation; an apply that stops half way lists what now exists."""
    from tirui.cluster.manifests import build

    km, rt = cluster
    denied = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": "Forbidden",
        "code": 403,
        "message": 'ingresses.networking.k8s.io is forbidden: User "dev" cannot create resource "ingresses"',
    }
    km[f"post /apis/networking.k8s.io/v1/namespaces/{NS}/ingresses"] << 403 << denied
    objects = build(spec(tls_host="r.example.net"), namespace=NS, show_secrets=True)
    with pytest.raises(KubeError) as info:
        await asyncio.to_thread(rt.apply, objects)
    text = str(info.value)
    assert "applying Ingress/resnet: forbidden by RBAC" in text
    assert 'cannot create resource "ingresses"' in text
    assert "Already applied: Secret/resnet-storage, Secret/resnet-tokens, ConfigMap/resnet-config" in text
    assert "Deployment/resnet, Service/resnet;" in text and "`tirui delete` removes them" in text
    km[f"get /apis/apps/v1/namespaces/{NS}/deployments"] << 403 << {**denied, "message": "cannot list"}
    with pytest.raises(KubeError, match="listing Deployments in ml: forbidden by RBAC"):
        await asyncio.to_thread(rt.list)
