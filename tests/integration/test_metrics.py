"""Metrics pipeline against a real TorchServe with real traffic, plus its failure modes."""

from __future__ import annotations

import http.server
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import PATIENCE
from tests.support.helpers import nearest_rank
from tests.support.torchserve_fixture import RunningTorchServe, predict_tiny
from tirui.metrics.accesslog import LogTail, parse_line
from tirui.metrics.collector import Collector, ReplicaSource
from tirui.metrics.quantiles import WindowedQuantiles, histogram_quantile
from tirui.metrics.scrape import ScrapeError, Snapshot, _library_parse, parse
from tirui.metrics.series import MetricsPipeline, TickInput, delta


async def test_rates_averages_and_p99_agree_with_real_traffic(torchserve: RunningTorchServe) -> None:
    pipeline = MetricsPipeline(model="tiny")
    collector = Collector(pipeline)
    source = ReplicaSource("r0", torchserve.metrics_url, torchserve.access_log)
    offset = torchserve.access_log.stat().st_size
    try:
        await collector.collect([source])  # baseline scrape; the tail starts at the log's end
        first = pipeline.replicas["r0"].prev
        assert first is not None
        n = 60
        client_ms = await predict_tiny(torchserve, n)
        # The access log is written asynchronously: wait until every request is in it.
        deadline = time.monotonic() + 15 * PATIENCE
        while pipeline.aggregate_quantiles.count(3600, time.time() + 1) < n and time.monotonic() < deadline:
            await collector.collect([source])
            time.sleep(0.2)
        last = pipeline.replicas["r0"].prev
        assert last is not None
        # Request count: exact.
        sent = (last.total("ts_inference_requests_total", model_name="tiny") or 0) - (
            first.total("ts_inference_requests_total", model_name="tiny") or 0
        )
        assert sent == n
        rates = [v for _, v in pipeline.points("rps", "r0", 3600, time.time() + 1) if v is not None]
        dts = sum(1 for _ in rates)
        assert dts >= 1 and all(v >= 0 for v in rates)
        # Average inference latency: positive and below what the client measured end to end.
        lat_total = (last.total("ts_inference_latency_microseconds", model_name="tiny") or 0) - (
            first.total("ts_inference_latency_microseconds", model_name="tiny") or 0
        )
        lat = lat_total / n / 1000
        client_avg = sum(client_ms) / n
        assert 0 < lat <= client_avg * 1.05, (lat, client_avg)
        # p99 from the access log vs the same log lines, and vs the client's view.
        with torchserve.access_log.open() as f:
            f.seek(offset)
            logged = [e.latency_ms for line in f if (e := parse_line(line)) and e.path == "/predictions/tiny"]
        assert len(logged) == n
        ref = nearest_rank(logged, 0.99)
        ours = pipeline.percentiles(3600, time.time() + 1)[0.99]
        assert ours is not None and abs(ours - ref) <= 0.1 * max(ref, 1.0), (ours, ref)
        assert ours <= nearest_rank(client_ms, 0.99) + 1.0
        assert pipeline.percentile_source() == "access log"
    finally:
        await collector.aclose()


def test_counter_reset_is_not_a_negative_or_spiking_rate() -> None:
    pipeline = MetricsPipeline(model="m")

    def snap(at: float, requests: float, latency: float) -> TickInput:
        text = (
            "# TYPE ts_inference_requests_total counter\n"
            f'ts_inference_requests_total{{model_name="m",model_version="1",hostname="h",}} {requests}\n'
            "# TYPE ts_inference_latency_microseconds counter\n"
            f'ts_inference_latency_microseconds{{model_name="m",model_version="1",hostname="h",}} {latency}\n'
        )
        return TickInput(parse(text, at))

    pipeline.tick(100, {"p": snap(100, 1000, 5_000_000)})
    pipeline.tick(101, {"p": snap(101, 1010, 5_050_000)})
    pipeline.tick(102, {"p": snap(102, 3, 15_000)})  # restarted: counters back near zero
    pipeline.tick(103, {"p": snap(103, 8, 40_000)})
    rates = [v for _, v in pipeline.points("rps", "p", 60, 103)]
    assert rates[1:] == [10.0, 3.0, 5.0]
    assert all(v is None or v >= 0 for v in rates)
    assert pipeline.latest("latency_avg") == pytest.approx(5.0)  # 25,000 µs over 5 requests
    assert delta(10, 4) == 4 and delta(4, 10) == 6


async def test_restarted_torchserve_keeps_rates_sane(tmp_path: Path, tiny_mar: Path) -> None:
    from tests.integration.test_local_runtime import wait_for
    from tirui.cluster.local.runtime import LocalRuntime
    from tirui.cluster.spec import DeploymentSpec

    rt = LocalRuntime(tmp_path / "deployments", poll=0.2)
    pipeline = MetricsPipeline(model="tiny")
    collector = Collector(pipeline)
    try:
        rt.deploy_from(DeploymentSpec("reset", str(tiny_mar)))
        wait_for(lambda: rt.get("reset").status == "Ready", what="Ready")

        async def traffic(k: int) -> None:
            target = rt.target("reset")
            assert target is not None
            async with httpx.AsyncClient() as client:
                for _ in range(k):
                    await client.post(
                        f"{target.http.inference_url}/predictions/tiny",
                        json=[1, 1, 1, 1],
                        headers={"Authorization": f"Bearer {target.http.inference_token}"},
                    )

        await collector.collect(rt.metrics_sources("reset"))
        await traffic(30)
        await collector.collect(rt.metrics_sources("reset"))
        rt.restart("reset")
        await collector.collect(rt.metrics_sources("reset"))  # down or starting: a gap, not an error
        wait_for(lambda: rt.get("reset").status == "Ready", what="Ready after restart")
        await collector.collect(rt.metrics_sources("reset"))
        await traffic(5)
        await collector.collect(rt.metrics_sources("reset"))
        rates = [v for _, v in pipeline.points("rps", "reset-0", 3600, time.time() + 1) if v is not None]
        assert rates and all(0 <= v <= 1000 for v in rates), rates
    finally:
        await collector.aclose()
        rt.shutdown(keep_running=False)


@pytest.fixture
def garbage_endpoint() -> Iterator[str]:
    class Garbage(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"this is {not prometheus\n\x00\x01"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    server.shutdown()
    server.server_close()


async def test_down_garbage_and_odd_log_lines_leave_gaps_and_notes(
    torchserve: RunningTorchServe, garbage_endpoint: str, tmp_path: Path
) -> None:
    log = tmp_path / "access_log.log"
    log.write_text("")
    pipeline = MetricsPipeline(model="tiny")
    collector = Collector(pipeline, timeout=1.0)
    sources = [
        ReplicaSource("good", torchserve.metrics_url, torchserve.access_log),
        ReplicaSource("down", "http://127.0.0.1:9/metrics"),
        ReplicaSource("garbage", garbage_endpoint, log),
    ]
    try:
        for _ in range(2):
            await collector.collect(sources)
        with log.open("a") as f:
            f.write("a line in some other format\n")
            f.write('2026-11-24T06:23:18,190 - /127.0.0.1:1 "POST /predictions/tiny HTTP/1.1" 200 7\n')
            f.write("half a line without newline")
        await collector.collect(sources)
    finally:
        await collector.aclose()
    notes = {name: rep.note for name, rep in pipeline.replicas.items()}
    assert notes["good"] == "ok"
    assert "127.0.0.1:9" in notes["down"] and "not Prometheus" in notes["garbage"]
    assert pipeline.latest("rps", "down") is None and pipeline.latest("rps", "good") is not None
    assert collector.tails["garbage"].unparsed == 1
    assert pipeline.replicas["garbage"].quantiles.count(10**10, time.time() + 10**9) == 1
    with pytest.raises(ScrapeError):
        parse("garbage {{{")


def test_quantile_structures() -> None:
    wq = WindowedQuantiles(horizon=60)
    values = [float(v) for v in range(1, 1001)]
    for i, v in enumerate(values):
        wq.add(v, 1000 + i % 30)
    got = wq.quantiles((0.5, 0.99), 60, 1030)
    assert got[0.5] == pytest.approx(500, rel=0.02) and got[0.99] == pytest.approx(990, rel=0.02)
    wq.add(5.0, 2000)  # an hour later: the old seconds are dropped (bounded memory)
    assert wq.count(60, 2000) == 1 and len(wq._seconds) == 1
    buckets = [(0.005, 10.0), (0.01, 60.0), (0.1, 100.0), (math.inf, 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.009)
    assert histogram_quantile(0.99, buckets) == pytest.approx(0.01 + 0.09 * (99 - 60) / 40)


def test_log_tail_follows_truncation(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("old line\n")
    tail = LogTail(path)
    assert tail.read_lines() == []
    with path.open("a") as f:
        f.write("one\ntw")
    assert tail.read_lines() == ["one"]
    with path.open("a") as f:
        f.write("o\n")
    assert tail.read_lines() == ["two"]
    path.write_text("new\n")  # rotated/truncated
    assert tail.read_lines() == ["new"]
    path.write_text("first line\nsecond line\nthird\n")
    assert LogTail(path, backfill=15).read_lines() == ["third"]  # whole recent lines only


def test_top_once(torchserve: RunningTorchServe) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "tirui", "top", "nope", "--once"],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    assert r.returncode == 1 and "no local deployment" in r.stderr and r.stderr.count("\n") == 1


def _same(a: Snapshot, b: Snapshot) -> bool:
    def norm(s: Snapshot) -> dict[Any, Any]:
        return {k: ("nan" if math.isnan(v) else v) for k, v in s.values.items()}

    return norm(a) == norm(b) and a.types == b.types


PAYLOAD = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "torchserve_metrics.txt"
EXPOSITIONS = [
    PAYLOAD.read_text(),
    "# TYPE http_requests_total counter\n"
    'http_requests_total{method="post",code="200"} 1027 1395066363000\n'
    'http_requests_total{method="post",code="400"}    3\n'
    "# TYPE lat histogram\n"
    'lat_bucket{le="0.05"} 24054\nlat_bucket{le="+Inf"} 144320\nlat_sum 53423\nlat_count 144320\n'
    "plain_metric 12.5\nnan_metric NaN\n"
    '# TYPE rpc summary\nrpc{quantile="0.5"} 4773\nrpc_sum 1.7560473e+07\nrpc_count 2693\n'
    "# TYPE legacy untyped\nlegacy 1\n",
    'escaped{path="a\\\\b",q="x\\"y\\n"} 1\n',  # the fast path hands this to the library
]


@pytest.mark.parametrize("text", EXPOSITIONS)
def test_fast_parser_gives_what_the_library_parser_gives(text: str) -> None:
    assert _same(parse(text, 1.0), _library_parse(text, Snapshot(1.0)))


def test_fast_parser_on_a_real_torchserve(torchserve: RunningTorchServe) -> None:
    text = httpx.get(torchserve.metrics_url).text
    assert "ts_inference_requests_total" in text or "Requests2XX" in text
    assert _same(parse(text, 1.0), _library_parse(text, Snapshot(1.0)))


async def test_api_server_budget_samples_pods_in_turn_without_gaps(tmp_path: Path) -> None:
    """100 pods behind the API server: at most 10 scrapes a round, each pod once in 10 rounds,
    rates from the longer spans, no gaps for the pods left out; direct sources are not limited."""
    calls: list[str] = []
    text = PAYLOAD.read_text()

    def fetch(name: str, k: int) -> Snapshot:
        calls.append(name)
        return parse(text.replace("} 50082.758", f"}} {50082.758 + k * 1000}"), time.time())

    pipeline = MetricsPipeline(model="tiny")
    collector = Collector(pipeline, api_budget=10)
    rounds = [0]
    sources = [
        ReplicaSource(f"pod-{i}", "", fetch=lambda i=i: fetch(f"pod-{i}", rounds[0]), api_bound=True)
        for i in range(100)
    ]
    try:
        for r in range(20):
            rounds[0] = r
            before = len(calls)
            await collector.collect(sources, now=1000.0 + r)
            assert len(calls) - before == 10
        assert sorted(calls) == sorted(f"pod-{i}" for i in range(100) for _ in range(2))
        assert "10 of 100 pods" in collector.sampling and "every 10 s" in collector.sampling
        mem = [v for _, v in pipeline.points("mem", "pod-5", 3600, 2000.0)]
        assert mem and None not in mem  # sampled twice, never a gap
        direct = ReplicaSource("local", "", fetch=lambda: fetch("local", 0))
        before = len(calls)
        other = Collector(MetricsPipeline(), api_budget=1)
        await other.collect([direct, ReplicaSource("local2", "", fetch=lambda: fetch("local2", 0))])
        await other.aclose()
        assert len(calls) - before == 2 and other.sampling == ""
    finally:
        await collector.aclose()


def test_pipeline_memory_is_bounded_by_its_horizon() -> None:
    """40 replicas with traffic: once the horizon is full, more ticks hold no more memory."""
    import gc
    import tracemalloc

    from tirui.metrics.accesslog import AccessEntry

    text = PAYLOAD.read_text()
    pipeline = MetricsPipeline(model="tiny", horizon=5, max_points=5)

    def tick(k: int) -> None:
        now = 1000.0 + k
        pipeline.tick(
            now,
            {
                f"r{r}": TickInput(
                    parse(text, now) if (k + r) % 10 == 0 else None,
                    "",
                    [
                        AccessEntry(
                            now - 0.5 + j / 40, "POST", "/predictions/tiny", 200, 3 + (j * 7 + r) % 40
                        )
                        for j in range(20)
                    ],
                    sampled=(k + r) % 10 == 0,
                )
                for r in range(40)
            },
        )

    tracemalloc.start()
    try:
        for k in range(30):
            tick(k)
        gc.collect()  # what the pipeline holds, not garbage that a collection has not reached yet
        full, _ = tracemalloc.get_traced_memory()
        for k in range(30, 120):
            tick(k)
        gc.collect()
        later, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert later <= full * 1.05, (full, later)


def test_a_latency_just_under_one_is_not_reported_as_zero() -> None:
    """Values in [0.98, 1) fall in log bucket -1, which once also marked 'zero or less'."""
    from tirui.metrics.quantiles import LogHistogram

    q = WindowedQuantiles()
    for _ in range(10):
        q.add(0.99, at=100.0)
    (p50,) = q.quantiles((0.5,), 10, 100.5).values()
    assert p50 is not None and abs(p50 - 0.99) / 0.99 < 0.02
    h = LogHistogram()
    h.add(0.0)
    h.add(0.985)
    assert h.quantile(0.5) == 0.0 and abs(h.quantile(1.0) - 0.985) < 0.02
    assert LogHistogram.from_json(h.to_json()).counts == h.counts
