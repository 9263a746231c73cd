"""Metrics of Kubernetes deployments from a real TorchServe with real traffic: through the API
server's pod proxy and pod log (kmock serving those two endpoints from the real TorchServe's
metrics port and stdout), and through a real Prometheus server scraping it.

kmock serves the Kubernetes side here, to feed tirui's collector from the session's TorchServe and
to cut streams at will; the same path on the real API server, with a pod that runs for real under
the pod runner (pod IP, kubelet log endpoint), is ``tests/integration/test_pod_runtime.py``."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import PATIENCE
from tests.support.helpers import nearest_rank
from tests.support.kube_cluster import NAMESPACE, emulated_cluster, pod, runtime_at, seed
from tests.support.kube_plumbing import tail_as_pod_log
from tests.support.servers import free_port, stop_process
from tests.support.torchserve_fixture import RunningTorchServe, predict_tiny
from tirui.cluster.kube.runtime import KubeRuntime
from tirui.cluster.spec import DeploymentSpec
from tirui.metrics.accesslog import parse_line
from tirui.metrics.collector import Collector
from tirui.metrics.promql import PrometheusSource
from tirui.metrics.scrape import ScrapeError
from tirui.metrics.series import MetricsPipeline

NS = NAMESPACE
PROMETHEUS = shutil.which("prometheus")


def proxied(url: str) -> Callable[[Any], Awaitable[bytes]]:
    """A kmock payload answering the pod-proxy path with the real TorchServe's metrics."""

    async def fetch(request: Any) -> bytes:
        async with httpx.AsyncClient() as client:
            return (await client.get(url)).content

    return fetch


@pytest.fixture
async def tiny_on_k8s() -> AsyncIterator[tuple[Any, KubeRuntime]]:
    """A tirui deployment ``tiny`` with one Running pod ``tiny-0`` (the test plays the kubelet)."""
    async with emulated_cluster() as km:
        rt = runtime_at(str(km.url))
        await asyncio.to_thread(seed, rt, DeploymentSpec("tiny", "eos://models/tiny.mar", tokens=["t" * 24]))
        await asyncio.to_thread(rt.calls.core.create_namespaced_pod, NS, pod("tiny-0", dep="tiny"))
        yield km, rt


async def test_pod_proxy_and_pod_log_give_exact_counts_and_p99(
    torchserve: RunningTorchServe, tiny_on_k8s: tuple[Any, KubeRuntime]
) -> None:
    km, rt = tiny_on_k8s
    stdout = torchserve.workdir / "logs" / "stdout.log"
    km[f"get /api/v1/namespaces/{NS}/pods/tiny-0:8082/proxy/metrics"] << proxied(torchserve.metrics_url)
    km[f"get /api/v1/namespaces/{NS}/pods/tiny-0/log"] << tail_as_pod_log(stdout)
    # A second running pod whose proxy answers nothing useful: a gap and a note, not a failure.
    await asyncio.to_thread(rt.calls.core.create_namespaced_pod, NS, pod("tiny-1", dep="tiny"))
    sources = await asyncio.to_thread(rt.metrics_sources, "tiny")
    assert [s.name for s in sources] == ["tiny-0", "tiny-1"]
    assert sources[0].metrics_url == "pods/tiny-0:8082/proxy/metrics"

    pipeline = MetricsPipeline(model="tiny")
    collector = Collector(pipeline)
    offset = stdout.stat().st_size
    try:
        await collector.collect(sources)  # baseline scrape; starts following both pod logs
        first = pipeline.replicas["tiny-0"].prev
        assert first is not None
        deadline = time.monotonic() + 10 * PATIENCE
        while not any(r.url.path.endswith("tiny-0/log") for r in km) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # the stream is open and at the end of the log
        n = 40
        client_ms = await predict_tiny(torchserve, n)
        deadline = time.monotonic() + 20 * PATIENCE
        while pipeline.aggregate_quantiles.count(3600, time.time() + 1) < n and time.monotonic() < deadline:
            await collector.collect(sources)
            await asyncio.sleep(0.2)
        last = pipeline.replicas["tiny-0"].prev
        assert last is not None
        sent = (last.total("ts_inference_requests_total", model_name="tiny") or 0) - (
            first.total("ts_inference_requests_total", model_name="tiny") or 0
        )
        assert sent == n
        # p99 from the followed pod log vs the same lines TorchServe wrote to stdout
        with stdout.open() as f:
            f.seek(offset)
            logged = [
                e.latency_ms
                for line in f
                if "ACCESS_LOG" in line and (e := parse_line(line)) and e.path == "/predictions/tiny"
            ]
        assert len(logged) == n
        ours = pipeline.percentiles(3600, time.time() + 1)[0.99]
        ref = nearest_rank(logged, 0.99)
        assert ours is not None and abs(ours - ref) <= 0.1 * max(ref, 1.0), (ours, ref)
        assert ours <= nearest_rank(client_ms, 0.99) + 1.0
        assert pipeline.percentile_source() == "access log"
        # entries are dated by the kubelet's UTC stamps, so they sit inside a 1-minute window
        assert pipeline.aggregate_quantiles.count(60, time.time() + 1) == n
        assert pipeline.replicas["tiny-1"].note != "ok" and "tiny-1" in pipeline.replicas["tiny-1"].note
        assert pipeline.latest("rps", "tiny-1") is None
    finally:
        await collector.aclose()
    # the collector closed the followers: their streams end
    await asyncio.sleep(0.3)


@pytest.fixture
def prometheus(torchserve: RunningTorchServe, tmp_path: Path) -> Iterator[str]:
    """Debian's Prometheus scraping the real TorchServe every second, labelled as pod tiny-0."""
    if PROMETHEUS is None:
        pytest.skip("prometheus is not installed (apt install prometheus; .ci/run does)")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: torchserve\n"
        "    scrape_interval: 1s\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{torchserve.ports.metrics}']\n"
        f"        labels: {{namespace: {NS}, pod: tiny-0}}\n"
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60 * PATIENCE
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not start: {(tmp_path / 'prometheus.log').read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        stop_process(proc)


async def test_prometheus_source_gives_the_same_counts(
    torchserve: RunningTorchServe, prometheus: str, tiny_on_k8s: tuple[Any, KubeRuntime]
) -> None:
    km, _direct = tiny_on_k8s
    rt = runtime_at(str(km.url), prometheus_url=prometheus)
    sources = await asyncio.to_thread(rt.metrics_sources, "tiny")
    assert len(sources) == 1 and prometheus in sources[0].metrics_url
    km[f"get /api/v1/namespaces/{NS}/pods/tiny-0/log"] << tail_as_pod_log(
        torchserve.workdir / "logs" / "stdout.log"
    )
    pipeline = MetricsPipeline(model="tiny")
    collector = Collector(pipeline)

    async def prom_total() -> float | None:
        try:
            snap = await asyncio.to_thread(sources[0].fetch)  # type: ignore[arg-type]
        except ScrapeError:
            return None
        return snap.total("ts_inference_requests_total", model_name="tiny")

    async def settled() -> float:
        """The counter once Prometheus has scraped TorchServe's current value."""
        async with httpx.AsyncClient() as client:
            text = (await client.get(torchserve.metrics_url)).text
        from tirui.metrics.scrape import parse

        want = parse(text).total("ts_inference_requests_total", model_name="tiny")
        deadline = time.monotonic() + 30 * PATIENCE
        while (got := await prom_total()) != want:
            assert time.monotonic() < deadline, (got, want)
            await asyncio.sleep(0.3)
        assert got is not None
        return got

    try:
        before = await settled()
        await collector.collect(sources)
        first = pipeline.replicas["tiny-0"].prev
        assert first is not None and first.types.get("ts_inference_requests_total") == "counter"
        assert all(k not in dict(labels) for (_, labels) in first.values for k in ("pod", "namespace", "job"))
        n = 25
        await predict_tiny(torchserve, n)
        after = await settled()
        await collector.collect(sources)
        last = pipeline.replicas["tiny-0"].prev
        assert last is not None and after - before == n
        assert (last.total("ts_inference_requests_total", model_name="tiny") or 0) - (
            first.total("ts_inference_requests_total", model_name="tiny") or 0
        ) == n
        assert pipeline.replicas["tiny-0"].note == "ok"
    finally:
        await collector.aclose()
        rt.shutdown()
    with pytest.raises(ScrapeError, match="Prometheus"):
        PrometheusSource("http://127.0.0.1:9", timeout=1).snapshot(NS, "tiny-0")
    with pytest.raises(ScrapeError, match="no series for pod ghost"):
        PrometheusSource(prometheus).snapshot(NS, "ghost")


async def test_metrics_screen_on_a_kubernetes_profile(
    torchserve: RunningTorchServe, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Metrics screen finds the pods of a Kubernetes deployment and charts real traffic."""
    from textual.widgets import Static

    from tests.support.helpers import until
    from tests.support.kube_cluster import write_k8s_profile
    from tirui.app import TiruiApp

    monkeypatch.setenv("TIRUI_TOKEN_K8S_API", "k8s-token-0123456789abcdef")
    async with emulated_cluster() as km:
        write_k8s_profile(isolated, km)
        direct = runtime_at(str(km.url))
        await asyncio.to_thread(
            seed, direct, DeploymentSpec("tiny", "eos://models/tiny.mar", tokens=["t" * 24])
        )
        await asyncio.to_thread(direct.calls.core.create_namespaced_pod, NS, pod("tiny-0", dep="tiny"))
        km[f"get /api/v1/namespaces/{NS}/pods/tiny-0:8082/proxy/metrics"] << proxied(torchserve.metrics_url)
        km[f"get /api/v1/namespaces/{NS}/pods/tiny-0/log"] << tail_as_pod_log(
            torchserve.workdir / "logs" / "stdout.log"
        )
        app = TiruiApp(profile="k8s", start_mode="metrics", secrets_backend="env")
        async with app.run_test(size=(100, 30)) as pilot:
            screen: Any = app.screen
            await until(pilot, lambda: screen.deployment == "tiny", timeout=30)
            await until(pilot, lambda: any(r.url.path.endswith("tiny-0/log") for r in km), timeout=30)
            await pilot.pause(0.5)
            await predict_tiny(torchserve, 20)
            count = lambda: screen.pipeline.aggregate_quantiles.count(3600, time.time() + 1)  # noqa: E731
            await until(pilot, lambda: count() >= 20, timeout=30)
            assert screen.pipeline.replicas["tiny-0"].note == "ok"
            head = str(screen.query_one("#metrics-head", Static).render())
            assert "tiny" in head and "(access log)" in head and "p99 -" not in head
            rps = lambda: screen.pipeline.points("rps", "tiny-0", 3600, time.time() + 1)  # noqa: E731
            await until(pilot, lambda: any(v for _, v in rps() if v), timeout=30)
