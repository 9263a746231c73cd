"""The load-test engine and ``tirui predict`` / ``tirui bench`` against a real TorchServe."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from tests.support.torchserve_fixture import RunningTorchServe
from tirui.demo.model import expected_output
from tirui.traffic.engine.load import LoadResult, LoadSpec
from tirui.traffic.loadtest import run_load


def http_spec(ts: RunningTorchServe, **kw: object) -> LoadSpec:
    spec = LoadSpec(
        url=f"{ts.inference_url}/predictions/tiny",
        body=b"[1, 1, 1, 1]",
        headers={"Content-Type": "application/json"},
        token=ts.keys.inference,
    )
    for k, v in kw.items():
        setattr(spec, k, v)
    return spec


async def test_http_load_counts_every_request(torchserve: RunningTorchServe) -> None:
    seen: list[int] = []
    result = await run_load(
        http_spec(torchserve, requests=300, concurrency=6),
        progress=lambda r: seen.append(r.count),
        every=0.05,
    )
    assert result.count == 300 and result.ok == 300 and result.statuses == {"200": 300}
    assert 0 < result.percentile(50) <= result.percentile(90) <= result.percentile(99) <= result.max_latency
    assert sum(c for _, c in result.histogram()) == 300
    assert result.bytes_received == 300 * len(json.dumps(expected_output([1, 1, 1, 1]), indent=2))
    doc = json.loads(result.to_json())
    assert doc["requests"] == 300 and doc["latency_ms"]["p99"] > 0
    assert seen == sorted(seen)  # live progress only grows


async def test_grpc_load(torchserve: RunningTorchServe) -> None:
    spec = LoadSpec(
        protocol="grpc",
        url=f"127.0.0.1:{torchserve.ports.grpc_inference}",
        model="tiny",
        body=b"[1, 1, 1, 1]",
        token=torchserve.keys.inference,
        requests=100,
        concurrency=4,
    )
    result = await run_load(spec)
    assert result.ok == 100 and result.statuses == {"OK": 100}


async def test_errors_are_counted_by_kind(torchserve: RunningTorchServe) -> None:
    result = await run_load(http_spec(torchserve, token="wrong", requests=20, concurrency=2))
    assert result.ok == 0 and result.statuses == {"400": 20}
    result = await run_load(http_spec(torchserve, url="http://127.0.0.1:9/predictions/tiny", requests=5))
    assert result.statuses == {"connection": 5}


async def test_rate_limit_and_cancel(torchserve: RunningTorchServe) -> None:
    result = await run_load(http_spec(torchserve, requests=20, rate=40.0, concurrency=4))
    assert result.ok == 20 and result.elapsed >= 19 / 40
    cancel = asyncio.Event()
    asyncio.get_running_loop().call_later(0.5, cancel.set)
    result = await run_load(http_spec(torchserve, requests=None, duration=60.0), cancel=cancel)
    assert result.cancelled and result.elapsed < 10 and result.count > 0


def test_spec_validation() -> None:
    bad_grpc = dict(protocol="grpc", url="http://x:7070/")
    for bad in (
        dict(concurrency=0),
        dict(requests=None, duration=None),
        dict(rate=-1.0),
        dict(url=""),
        bad_grpc,
    ):
        spec = LoadSpec(url="http://x")
        for k, v in bad.items():
            setattr(spec, k, v)
        with pytest.raises(ValueError):
            spec.validate()
    LoadSpec(protocol="grpc", url="127.0.0.1:7070").validate()
    assert LoadResult().percentile(99) == 0.0


def tirui(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tirui", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_predict_and_bench(torchserve: RunningTorchServe) -> None:
    env = {**os.environ, "TIRUI_SECRETS": "env", "TIRUI_TOKEN_LOCAL_API": torchserve.keys.inference}
    r = tirui("predict", torchserve.inference_url, "tiny", "--data", "[1, 1, 1, 1]", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == expected_output([1, 1, 1, 1])
    grpc = f"127.0.0.1:{torchserve.ports.grpc_inference}"
    r = tirui("predict", torchserve.inference_url, "tiny", "--grpc", "--grpc-target", grpc, env=env)
    assert r.returncode == 0 and json.loads(r.stdout) == expected_output([1, 1, 1, 1]), r.stderr
    r = tirui("bench", torchserve.inference_url, "tiny", "-n", "50", "-c", "4", "--json", env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] == 50, r.stderr
    r = tirui("bench", torchserve.inference_url, "tiny", "-n", "20", "--grpc", "--grpc-target", grpc, env=env)
    assert r.returncode == 0 and "OK: 20" in r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--data", "{bad json"), "not valid JSON"),
        (("--data", "@/nonexistent/body.bin"), "cannot read"),
        (("--token", "nope"), "no token"),
    ],
)
def test_cli_predict_bad_input(torchserve: RunningTorchServe, args: tuple[str, ...], message: str) -> None:
    r = tirui("predict", torchserve.inference_url, "tiny", *args, env={**os.environ, "TIRUI_SECRETS": "env"})
    assert (
        r.returncode == 1
        and message in r.stderr
        and r.stderr.count("\n") == 1
        and "Traceback" not in r.stderr
    )


def test_cli_predict_auth_and_unknown_model(torchserve: RunningTorchServe) -> None:
    env = {**os.environ, "TIRUI_SECRETS": "env"}
    r = tirui("predict", torchserve.inference_url, "tiny", env=env)  # no token at all
    assert r.returncode == 1 and "authentication failed" in r.stderr
    env["TIRUI_TOKEN_LOCAL_API"] = torchserve.keys.inference
    r = tirui("predict", torchserve.inference_url, "nope", env=env)
    assert r.returncode == 1 and "not found (404)" in r.stderr
    r = tirui("predict", "http://127.0.0.1:9", "tiny", env=env)
    assert r.returncode == 1 and "cannot connect" in r.stderr


async def test_grpc_stream_load_times_first_and_last_chunk(torchserve: RunningTorchServe) -> None:
    spec = LoadSpec(
        protocol="grpc",
        url=f"127.0.0.1:{torchserve.ports.grpc_inference}",
        model="stream",
        body=b"[1, 1, 1, 1]",
        token=torchserve.keys.inference,
        requests=40,
        concurrency=4,
        workers=2,
        stream=True,
    )
    result = await run_load(spec)
    assert result.ok == 40 and result.statuses == {"OK": 40} and result.workers == 2
    assert result.first_chunk.total == 40
    # The first chunk of a stream cannot come after its last.
    assert result.first_chunk.quantile(0.5) <= result.percentile(50) * 1.02
    doc = result.summary()
    assert doc["first_chunk_ms"]["p99"] > 0 and sum(doc["first_chunk"].values()) == 40
    assert LoadResult.from_summary(json.loads(result.to_json())).first_chunk.total == 40
