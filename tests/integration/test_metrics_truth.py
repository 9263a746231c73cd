"""Metrics that tell the truth: gRPC inference counted (rates, percentiles, errors, per protocol),
and probes/scrapes never shown as traffic. Unit tests on real log lines of both kinds, then a real
TorchServe with real HTTP and gRPC traffic."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.integration.test_torchserve_clients import grpc_client
from tests.support import PATIENCE
from tests.support.helpers import nearest_rank
from tests.support.torchserve_fixture import RunningTorchServe, predict_tiny
from tirui.cli.top import summary
from tirui.metrics.accesslog import AccessEntry, parse_line
from tirui.metrics.collector import Collector, ReplicaSource
from tirui.metrics.logstats import LogStats
from tirui.metrics.series import MetricsPipeline

GRPC_OK = (
    "2026-11-24T06:23:18,190 [INFO ] grpc-default-executor-0 ACCESS_LOG - /127.0.0.1:51234 "
    '"gRPC org.pytorch.serve.grpc.inference.InferenceAPIsService/Predictions HTTP/2.0" 0 12'
)
GRPC_DOWN = (
    "2026-11-24T06:23:18,400 - /127.0.0.1:51234 "
    '"gRPC org.pytorch.serve.grpc.inference.InferenceAPIsService/StreamPredictions HTTP/2.0" 14 3'
)
GRPC_NOT_FOUND = (
    "2026-11-24T06:23:18,500 - /127.0.0.1:51234 "
    '"gRPC org.pytorch.serve.grpc.inference.InferenceAPIsService/Predictions HTTP/2.0" 5 1'
)
GRPC_PING = (
    "... ACCESS_LOG - /127.0.0.1:1 "
    '"gRPC org.pytorch.serve.grpc.inference.InferenceAPIsService/Ping HTTP/2.0" 0 1'
)
HTTP_OK = '2026-11-24T06:23:18,190 - /127.0.0.1:47064 "POST /predictions/tiny HTTP/1.1" 200 3'
HTTP_503 = '... ACCESS_LOG - /127.0.0.1:44376 "POST /predictions/tiny HTTP/1.1" 503 7'
HTTP_PING = '... ACCESS_LOG - /127.0.0.1:44376 "GET /ping HTTP/1.1" 200 0'
METRICS_SCRAPE = '... ACCESS_LOG - /127.0.0.1:44376 "GET /metrics HTTP/1.1" 200 2'


def test_both_kinds_of_log_line() -> None:
    cases = {
        GRPC_OK: ("grpc", True, "2xx", "OK", 12.0),
        GRPC_DOWN: ("grpc", True, "5xx", "UNAVAILABLE", 3.0),
        GRPC_NOT_FOUND: ("grpc", True, "4xx", "NOT_FOUND", 1.0),
        GRPC_PING: ("grpc", False, "2xx", "OK", 1.0),
        HTTP_OK: ("http", True, "2xx", "200", 3.0),
        HTTP_503: ("http", True, "5xx", "503", 7.0),
        HTTP_PING: ("http", False, "2xx", "200", 0.0),
        METRICS_SCRAPE: ("http", False, "2xx", "200", 2.0),
    }
    for line, want in cases.items():
        e = parse_line(line)
        assert e is not None, line
        assert (e.protocol, e.inference, e.status_class, e.status_name, e.latency_ms) == want, line


def test_rates_count_inference_only_and_split_by_protocol() -> None:
    stats = LogStats()
    now = 1_800_000_010.0
    lines = [GRPC_OK, GRPC_DOWN, GRPC_NOT_FOUND, GRPC_PING, HTTP_OK, HTTP_503, HTTP_PING, METRICS_SCRAPE]
    for i, line in enumerate(lines * 10):
        e = parse_line(line, use_stamp=False, default_at=now - (i % 10))
        assert e is not None
        stats.add(e)
    r = stats.rates(10, now)
    assert r["rps"] == 5.0  # 5 inference lines x 10 in 10 s; pings and scrapes never count
    assert (r["2xx"], r["4xx"], r["5xx"], r["errors"]) == (2.0, 1.0, 2.0, 3.0)
    assert r["latency_avg"] == (12 + 3 + 1 + 3 + 7) / 5
    assert r["active"] == (12 + 3 + 1 + 3 + 7) * 10 / 1000 / 10  # busy seconds per second
    by = stats.protocol_summary(10, now)
    assert by["grpc"]["requests"] == 30 and by["http"]["requests"] == 20


async def test_grpc_traffic_counts_with_a_p99_that_matches_the_log(torchserve: RunningTorchServe) -> None:
    pipeline = MetricsPipeline(model="tiny")
    collector = Collector(pipeline)
    source = ReplicaSource("r0", torchserve.metrics_url, torchserve.access_log)
    offset = torchserve.access_log.stat().st_size
    n_grpc, n_http = 80, 20
    try:
        await collector.collect([source])  # the tail starts at the log's end
        async with grpc_client(torchserve) as client:
            for i in range(n_grpc):
                result = await client.predict("tiny", {"data": f"[{i % 3}, 1, 1, 1]".encode()})
                assert result.code == "OK"
        await predict_tiny(torchserve, n_http)
        deadline = time.monotonic() + 30 * PATIENCE
        while pipeline.aggregate_quantiles.count(3600, time.time() + 1) < n_grpc + n_http:
            assert time.monotonic() < deadline, "the access log never showed every request"
            await collector.collect([source])
            await asyncio.sleep(0.2)
        with torchserve.access_log.open() as f:
            f.seek(offset)
            logged = [e for line in f if (e := parse_line(line)) and e.inference]
        grpc_ms = [e.latency_ms for e in logged if e.protocol == "grpc"]
        assert len(grpc_ms) == n_grpc and sum(e.protocol == "http" for e in logged) == n_http
        s = summary("tiny", pipeline, 3600, time.time() + 1)
        assert s["by_protocol"]["grpc"]["requests"] == n_grpc
        assert s["by_protocol"]["http"]["requests"] == n_http
        ref = nearest_rank(grpc_ms, 0.99)
        ours = s["by_protocol"]["grpc"]["p99_ms"]
        assert ours is not None and abs(ours - ref) <= 0.1 * max(ref, 1.0), (ours, ref)
        assert s["errors_per_s"] == 0 and s["requests_per_s"] > 0
        assert s["p99_ms"] is not None and s["active_requests"] is not None
    finally:
        await collector.aclose()


async def test_probes_and_scrapes_are_not_traffic(torchserve: RunningTorchServe) -> None:
    """Only scraped (the collector itself) and probed (/ping, a management describe): the
    counters TorchServe offers for responses grow, the charted rates stay at zero."""
    pipeline = MetricsPipeline(model="tiny")
    collector = Collector(pipeline)
    source = ReplicaSource("r0", torchserve.metrics_url, torchserve.access_log)
    auth = {"Authorization": f"Bearer {torchserve.keys.inference}"}
    mgmt = {"Authorization": f"Bearer {torchserve.keys.management}"}
    try:
        await collector.collect([source])
        first = pipeline.replicas["r0"].prev
        async with httpx.AsyncClient() as client:
            for _ in range(20):
                assert (await client.get(f"{torchserve.inference_url}/ping", headers=auth)).status_code == 200
                r = await client.get(f"{torchserve.management_url}/models/tiny", headers=mgmt)
                assert r.status_code == 200
                await collector.collect([source])
                await asyncio.sleep(0.1)
        last = pipeline.replicas["r0"].prev
        assert first is not None and last is not None
        assert (last.total("Requests2XX") or 0) - (first.total("Requests2XX") or 0) >= 40  # the phantom
        assert pipeline.replicas["r0"].log.seen  # the log was read: it showed no inference
        for series in ("rps", "2xx", "4xx", "5xx", "errors", "active"):
            assert pipeline.latest(series) == 0, series
            assert pipeline.latest(series, "r0") == 0, series
    finally:
        await collector.aclose()


def test_entry_properties_are_stable() -> None:
    e = AccessEntry(0.0, "gRPC", "org.pytorch.serve.grpc.inference.InferenceAPIsService/Predictions", 99, 1.0)
    assert e.status_name == "99" and e.status_class == "5xx" and e.error
