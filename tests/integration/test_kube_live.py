"""Faults a real API server will not produce on demand, against kmock over real HTTP: the exact
requests of a watch that resumes after a dropped connection (resourceVersion, no relist), a 410
Gone injected at a chosen version, and followed pod logs (the real control plane has no kubelet).
Everything else of the Kubernetes runtime runs on the real control plane (test_kube_real.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.support import PATIENCE
from tests.support.kube_cluster import NAMESPACE, emulated_cluster, pod, runtime_at, seed
from tests.support.kube_plumbing import CuttableProxy, k8s_stamp
from tirui.cluster.kube.runtime import KubeRuntime
from tirui.cluster.spec import DeploymentSpec

NS = NAMESPACE


async def eventually(check: Callable[[], bool], timeout: float = 10, *, blocking: bool = False) -> None:
    """Poll ``check``; ``blocking`` checks may call the API, so they run in a thread (kmock serves
    on this event loop)."""
    deadline = time.monotonic() + timeout * PATIENCE
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
            seed, direct, DeploymentSpec("resnet", "eos://models/r50.mar", tokens=["t" * 24], replicas=2)
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
    await asyncio.to_thread(direct.calls.core.create_namespaced_pod, NS, pod("resnet-a", rv="7"))
    await eventually(lambda: rt.list()[0].ready == 1)  # from the watch cache: no request
    assert rt.reads.watches["Pod"].resource_version == "7"
    lists_before = len(pod_requests(km, watch=False))

    proxy.cut()  # the connection drops mid-watch
    await eventually(lambda: len(pod_requests(km, watch=True)) >= 2)
    resumed = pod_requests(km, watch=True)[-1]
    assert resumed.params.get("resourceVersion") == "7"  # resumed, not restarted
    assert len(pod_requests(km, watch=False)) == lists_before  # and no relist
    await asyncio.to_thread(direct.calls.core.create_namespaced_pod, NS, pod("resnet-b", rv="9"))
    await eventually(lambda: rt.list()[0].ready == 2)
    await eventually(lambda: rt.watch_problem() == "")
    assert rt.reads.watches["Pod"].reconnects >= 1

    # While the API server cannot be reached the cache stays, and the reason is shown.
    proxy.blocked = True
    proxy.cut()
    await eventually(lambda: bool(rt.reads.watches["Pod"].error))
    assert "watch disconnected" in rt.watch_problem() and "cannot reach" in rt.reads.watches["Pod"].error
    assert rt.reads.watches["Pod"].resource_version == "9"
    assert rt.list()[0].ready == 2
    proxy.blocked = False
    await eventually(lambda: rt.watch_problem() == "", timeout=15)


async def test_watch_relists_when_its_resource_version_is_gone(
    live: tuple[Any, CuttableProxy, KubeRuntime, KubeRuntime],
) -> None:
    km, proxy, rt, direct = live
    await asyncio.to_thread(direct.calls.core.create_namespaced_pod, NS, pod("resnet-a", rv="5"))
    rt.watch(lambda: None)
    await eventually(rt.watching)
    await asyncio.to_thread(direct.calls.core.create_namespaced_pod, NS, pod("resnet-b", rv="8"))
    await eventually(lambda: rt.reads.watches["Pod"].resource_version == "8")
    # The server has compacted version 8 away: a resumed watch gets 410 Gone.
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old resource version"}}
    km["watch"][{"resourceVersion": "8"}] << (gone,)
    proxy.blocked = True
    proxy.cut()
    await asyncio.sleep(0.3)
    # resnet-a goes away while tirui cannot see it: only a fresh list can notice.
    await asyncio.to_thread(direct.calls.core.delete_namespaced_pod, "resnet-a", NS)
    proxy.blocked = False
    await eventually(lambda: [r.name for r in rt.list()[0].replicas] == ["resnet-b"], timeout=15)
    assert len(pod_requests(km, watch=False)) == 2  # the first list and the relist after 410


async def test_followed_logs_resume_without_duplicates(
    live: tuple[Any, CuttableProxy, KubeRuntime, KubeRuntime],
) -> None:
    km, _proxy, _rt, rt = live
    # Followed logs: the stream ends (container restart) and is re-opened without duplicates.
    await asyncio.to_thread(rt.calls.core.create_namespaced_pod, NS, pod("resnet-7d9f8c6b5-abcde"))
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


def test_lines_with_one_stamp_are_all_kept_and_a_reopened_stream_skips_only_what_it_had() -> None:
    """Several lines may carry one stamp (a burst within the stamp's resolution; epoch seconds
    as a float hold about 0.2 µs, so nanosecond stamps collapse): all are delivered, and a
    stream re-opened with ``sinceSeconds`` replays them without delivering them twice."""
    from tirui.cluster.kube.logs import PodLog

    got: list[str] = []
    log = PodLog(None, "ns", "p-1", lambda pod, at, text: got.append(text))
    first = [
        "2026-11-24T06:23:18.190123400Z a",
        "2026-11-24T06:23:18.190123401Z b",  # the same float as the line before
        "2026-11-24T06:23:18.190123401Z ",  # a blank line is a line
        "2026-11-24T06:23:19.000000000Z c",
        "2026-11-24T06:23:19.000000000Z d",
    ]
    for raw in first:
        log._line(raw)
    assert got == ["a", "b", "", "c", "d"]
    log._reopened()  # what _follow_once does before a sinceSeconds stream
    for raw in [*first, "2026-11-24T06:23:19.000000000Z e", "2026-11-24T06:23:20.000000000Z f"]:
        log._line(raw)
    assert got == ["a", "b", "", "c", "d", "e", "f"]
