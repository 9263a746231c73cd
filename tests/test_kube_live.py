"""The live side of the Kubernetes runtime against kmock over real HTTP: watches that resume after
dropped connections, events, the YAML of what was applied, followed pod logs, request targets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.kube_cluster import NAMESPACE, emulated_cluster, pod, runtime_at
from tests.kube_plumbing import CuttableProxy, k8s_stamp
from tirui.cluster.credentials import token_ref
from tirui.cluster.kube import KubeRuntime
from tirui.cluster.runtime import DeploymentNotFound
from tirui.cluster.spec import DeploymentSpec

NS = NAMESPACE


async def eventually(check: Callable[[], bool], timeout: float = 10, *, blocking: bool = False) -> None:
    """Poll ``check``; ``blocking`` checks may call the API, so they run in a thread (kmock serves
    on this event loop)."""
    deadline = time.monotonic() + timeout
    while not (await asyncio.to_thread(check) if blocking else check()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


def pod_requests(km: Any, *, watch: bool) -> list[Any]:
    return [
        r
        for r in km
        if r.url.path == f"/api/v1/namespaces/{NS}/pods"
        and "managed-by" in r.params.get("labelSelector", "")  # the watcher's, not a direct get()
        and (r.params.get("watch") == "true") == watch
        and r.method.name == "GET"
    ]


@pytest.fixture
async def live() -> AsyncIterator[tuple[Any, CuttableProxy, KubeRuntime, KubeRuntime]]:
    """kmock, a proxy in front of it, a runtime through the proxy and one talking directly."""
    async with emulated_cluster() as km, CuttableProxy(km.url.port) as proxy:
        rt = runtime_at(proxy.url)
        direct = runtime_at(str(km.url))
        await asyncio.to_thread(
            direct.deploy, DeploymentSpec("resnet", "eos://models/r50.mar", tokens=["t" * 24], replicas=2)
        )
        yield km, proxy, rt, direct
        rt.shutdown()


async def test_watch_resumes_at_its_resource_version_after_a_dropped_connection(
    live: tuple[Any, CuttableProxy, KubeRuntime, KubeRuntime],
) -> None:
    km, proxy, rt, direct = live
    changes: list[float] = []
    rt.watch(lambda: changes.append(time.monotonic()))
    await eventually(rt.watching)
    assert [s.name for s in await asyncio.to_thread(rt.list)] == ["resnet"]
    await asyncio.to_thread(direct.core.create_namespaced_pod, NS, pod("resnet-a", rv="7"))
    await eventually(lambda: rt.list()[0].ready == 1)  # from the watch cache: no request
    assert rt._watches["Pod"].resource_version == "7"
    lists_before = len(pod_requests(km, watch=False))

    proxy.cut()  # the connection drops mid-watch
    await eventually(lambda: len(pod_requests(km, watch=True)) >= 2)
    resumed = pod_requests(km, watch=True)[-1]
    assert resumed.params.get("resourceVersion") == "7"  # resumed, not restarted
    assert len(pod_requests(km, watch=False)) == lists_before  # and no relist
    await asyncio.to_thread(direct.core.create_namespaced_pod, NS, pod("resnet-b", rv="9"))
    await eventually(lambda: rt.list()[0].ready == 2)
    await eventually(lambda: rt.watch_problem() == "")
    assert rt._watches["Pod"].reconnects >= 1

    # While the API server cannot be reached the cache stays, and the reason is shown.
    proxy.blocked = True
    proxy.cut()
    await eventually(lambda: bool(rt._watches["Pod"].error))
    assert "watch disconnected" in rt.watch_problem() and "cannot reach" in rt._watches["Pod"].error
    assert rt._watches["Pod"].resource_version == "9"
    assert rt.list()[0].ready == 2
    proxy.blocked = False
    await eventually(lambda: rt.watch_problem() == "", timeout=15)


async def test_watch_relists_when_its_resource_version_is_gone(
    live: tuple[Any, CuttableProxy, KubeRuntime, KubeRuntime],
) -> None:
    km, proxy, rt, direct = live
    await asyncio.to_thread(direct.core.create_namespaced_pod, NS, pod("resnet-a", rv="5"))
    rt.watch(lambda: None)
    await eventually(rt.watching)
    await asyncio.to_thread(direct.core.create_namespaced_pod, NS, pod("resnet-b", rv="8"))
    await eventually(lambda: rt._watches["Pod"].resource_version == "8")
    # The server has compacted version 8 away: a resumed watch gets 410 Gone.
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old resource version"}}
    km["watch"][{"resourceVersion": "8"}] << (gone,)
    proxy.blocked = True
    proxy.cut()
    await asyncio.sleep(0.3)
    # resnet-a goes away while tirui cannot see it: only a fresh list can notice.
    await asyncio.to_thread(direct.core.delete_namespaced_pod, "resnet-a", NS)
    proxy.blocked = False
    await eventually(lambda: [r.name for r in rt.list()[0].replicas] == ["resnet-b"], timeout=15)
    assert len(pod_requests(km, watch=False)) == 2  # the first list and the relist after 410


async def test_events_yaml_logs_and_targets(
    live: tuple[Any, CuttableProxy, KubeRuntime, KubeRuntime],
) -> None:
    km, _proxy, _rt, rt = live
    await asyncio.to_thread(
        rt.deploy,
        DeploymentSpec(
            "resnet", "eos://models/r50.mar", tokens=["secret-token-0123456789"], tls_host="r.example.net"
        ),
    )
    await asyncio.to_thread(rt.deploy, DeploymentSpec("resnet-v2", "eos://models/r.mar", tokens=["x" * 24]))

    def event(name: str, kind: str, obj: str, reason: str, message: str, count: int = 1) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": NS},
            "involvedObject": {"kind": kind, "name": obj, "namespace": NS},
            "reason": reason,
            "message": message,
            "type": "Warning" if reason.startswith("Failed") else "Normal",
            "count": count,
            "lastTimestamp": k8s_stamp()[:19] + "Z",
        }

    for e in (
        event(
            "e1", "Deployment", "resnet", "ScalingReplicaSet", "Scaled up replica set resnet-7d9f8c6b5 to 2"
        ),
        event(
            "e2",
            "Pod",
            "resnet-7d9f8c6b5-abcde",
            "FailedScheduling",
            "0/3 nodes: Insufficient nvidia.com/gpu",
            4,
        ),
        event("e3", "Pod", "resnet-v2-5c6d7e8f9-zzzzz", "Pulled", "not ours"),
        event("e4", "Deployment", "other", "ScalingReplicaSet", "not ours either"),
    ):
        await asyncio.to_thread(rt.core.create_namespaced_event, NS, e)
    events = await asyncio.to_thread(rt.events, "resnet")
    texts = [t for _, t in events]
    assert len(texts) == 2 and all("not ours" not in t for t in texts)
    assert any(
        t.startswith("Warning FailedScheduling Pod/resnet-7d9f8c6b5-abcde") and "(x4)" in t for t in texts
    )

    yaml_text = await asyncio.to_thread(rt.config_text, "resnet")
    assert "kind: Deployment" in yaml_text and "kind: Ingress" in yaml_text and "kind: Secret" in yaml_text
    assert "secret-token-0123456789" not in yaml_text and "<redacted>" in yaml_text
    assert "resnet-v2" not in yaml_text
    with pytest.raises(DeploymentNotFound):
        await asyncio.to_thread(rt.config_text, "nope")

    # Followed logs: the stream ends (container restart) and is re-opened without duplicates.
    await asyncio.to_thread(rt.core.create_namespaced_pod, NS, pod("resnet-7d9f8c6b5-abcde"))
    sent: list[str] = []

    async def log_stream(request: Any) -> AsyncIterator[bytes]:
        for line in sent:
            yield line.encode()
        if len(sent) < 3:
            sent.append(f"{k8s_stamp()} line {len(sent) + 1}\n")
            yield sent[-1].encode()
            await asyncio.sleep(0.2)

    km[f"get /api/v1/namespaces/{NS}/pods/resnet-7d9f8c6b5-abcde/log"] << log_stream
    logs = await asyncio.to_thread(rt.follow_logs, "resnet")
    try:
        await eventually(lambda: len([x for x in logs.lines() if "line" in x]) >= 3, 30, blocking=True)
        got = [x for x in await asyncio.to_thread(logs.lines) if "line" in x]
        assert got == [f"[resnet-7d9f8c6b5-abcde] line {i}" for i in (1, 2, 3)]
        follows = [r for r in km if r.url.path.endswith("/log")]
        assert follows[0].params.get("follow") == "true" and "sinceSeconds" in follows[-1].params
    finally:
        logs.close()


async def test_targets_use_the_ingress_hosts_and_the_keyring_token(keyring_bus: str) -> None:
    from tirui.config import KubeSettings, Profile
    from tirui.secrets import TokenStore
    from tirui.targets import TargetError, resolve_target

    store = TokenStore("system")
    assert store.available, store.unavailable_reason
    store.set(token_ref("k8s", "resnet"), "tok-0123456789abcdef")
    async with emulated_cluster() as km:
        rt = runtime_at(str(km.url), tokens=store)
        spec = DeploymentSpec(
            "resnet", "eos://models/r50.mar", tokens=["tok-0123456789abcdef"], tls_host="r.example.net"
        )
        await asyncio.to_thread(rt.deploy, spec)
        profile = Profile("k8s", kubernetes=KubeSettings(namespace=NS))
        target = await asyncio.to_thread(resolve_target, "resnet", profile=profile, store=store, runtime=rt)
        assert target.http.inference_url == "https://r.example.net"
        assert target.http.inference_token == "tok-0123456789abcdef"
        assert target.grpc.inference_target == "grpc-r.example.net:443" and target.grpc.tls
        assert target.token_source == "k8s/deploy/resnet/api" and "tok-" not in target.redacted()
        await asyncio.to_thread(rt.deploy, DeploymentSpec("plain", "eos://models/r50.mar", auth=False))
        plain = await asyncio.to_thread(rt.target, "plain")
        assert (
            plain.http.inference_url == "http://plain.ml.svc:8080"
            and plain.grpc.inference_target == "plain.ml.svc:7070"
        )
        assert plain.http.inference_token is None and "inside the cluster" in plain.token_source
        with pytest.raises(TargetError, match="no tirui deployment named 'ghost'"):
            await asyncio.to_thread(resolve_target, "ghost", profile=profile, store=store, runtime=rt)
    store.delete(token_ref("k8s", "resnet"))
