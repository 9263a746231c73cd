"""The load engine's behaviour against a local HTTP server that counts and stalls on demand:
exact counts across worker processes, open versus closed loop under a stall, errors by kind,
HTTP/1.1 framing, saved runs, and no worker process outliving its run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import WORKER, engine_workers
from tests.support.http_target import BODY, HttpTarget
from tirui.traffic.engine.load import LoadResult, LoadSpec
from tirui.traffic.engine.pool import jobs, shares, worker_count
from tirui.traffic.loadtest import compare, run_load


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    with HttpTarget(slow_seconds=30.0) as server:
        yield server


def spec(server: HttpTarget, path: str = "/ok", **kw: object) -> LoadSpec:
    s = LoadSpec(url=server.url + path, body=b"[1, 1, 1, 1]", headers={"Content-Type": "application/json"})
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def slower_than(result: LoadResult, seconds: float) -> int:
    return sum(count for low, _, count in result.hist.bins() if low >= seconds)


def test_the_run_is_shared_out_exactly() -> None:
    assert shares(1001, 3) == [334, 334, 333] and sum(shares(7, 3)) == 7
    s = LoadSpec(url="http://x/", requests=1001, concurrency=7, workers=3, rate=70.0)
    work = jobs(s, 0.25)
    assert [j["requests"] for j in work] == [334, 334, 333]
    assert [j["concurrency"] for j in work] == [3, 2, 2]
    assert sum(j["rate"] for j in work) == pytest.approx(70.0)
    # Round-robin over the run's schedule: worker i's k-th request is the run's request i + 3k.
    due = sorted(j["phase"] + k / j["rate"] for j in work for k in range(j["requests"]))
    assert due == pytest.approx([k / 70.0 for k in range(1001)])
    assert worker_count(LoadSpec(url="http://x/", requests=2, concurrency=8, workers=4)) == 2
    assert worker_count(LoadSpec(url="http://x/", requests=None, duration=1, concurrency=1, workers=4)) == 1
    with pytest.raises(ValueError, match="at most"):
        LoadSpec(url="http://x/", concurrency=10**6, workers=10**6).validate()


async def test_counts_add_up_exactly_across_workers(target: HttpTarget) -> None:
    seen: list[int] = []
    result = await run_load(
        spec(target, requests=1001, concurrency=7, workers=3),
        progress=lambda r: seen.append(r.count),
        every=0.05,
    )
    assert result.workers == 3
    assert result.count == result.ok == target.count == 1001
    assert result.statuses == {"200": 1001} and result.hist.total == 1001
    assert result.bytes_received == 1001 * len(BODY)
    assert sum(entry["requests"] for entry in result.timeline()) == 1001
    assert target.connections <= 7  # keep-alive: one connection each, opened once
    assert seen == sorted(seen)
    assert not engine_workers()


async def test_an_open_loop_shows_a_stall_that_a_closed_loop_hides(target: HttpTarget) -> None:
    target.stall_after(200, 1.0)
    closed = await run_load(spec(target, requests=600, concurrency=2, workers=1))
    # A closed loop sends nothing while its connections wait: only the requests in flight saw it.
    assert closed.ok == 600 and 1 <= slower_than(closed, 0.9) <= 2
    assert closed.percentile(99) < 0.9
    target.stall_after(target.count + 200, 1.0)
    opened = await run_load(spec(target, requests=600, concurrency=2, workers=1, rate=200.0))
    # Open loop: every request due during the pause is late by what is left of it (~200 due).
    assert opened.ok == 600 and opened.mode == "open"
    assert slower_than(opened, 0.5) >= 50
    assert opened.percentile(99) >= 0.9 * max(closed.percentile(99), 0.9)


async def test_errors_are_counted_by_kind(target: HttpTarget) -> None:
    result = await run_load(spec(target, "/status/404", requests=30, concurrency=3))
    assert result.statuses == {"404": 30} and result.ok == 0 and result.errors == 30
    result = await run_load(spec(target, "/status/503", requests=10, concurrency=2))
    assert result.statuses == {"503": 10}
    result = await run_load(LoadSpec(url="http://127.0.0.1:9/x", requests=6, concurrency=2))
    assert result.statuses == {"connection": 6}
    result = await run_load(spec(target, "/slow", requests=4, concurrency=2, timeout=0.2))
    assert result.statuses == {"timeout": 4}
    result = await run_load(spec(target, "/garbage", requests=3, concurrency=1))
    assert result.statuses == {"ProtocolError": 3}


async def test_a_body_larger_than_a_pipe_line_is_sent(target: HttpTarget) -> None:
    """The body travels to each worker in its job line; a 1 MB image must fit (it did not past
    ~48 KB)."""
    before = target.count
    result = await run_load(spec(target, body=os.urandom(2**20), requests=4, concurrency=2))
    assert result.statuses == {"200": 4} and target.count - before == 4


async def test_http1_framing_chunked_and_close(target: HttpTarget) -> None:
    result = await run_load(spec(target, "/chunked", requests=50, concurrency=2))
    assert result.ok == 50 and result.bytes_received == 50 * len(BODY)
    before = target.connections
    result = await run_load(spec(target, "/close", requests=20, concurrency=1, workers=1))
    assert result.ok == 20 and target.connections - before == 20  # a new connection after each close


async def test_a_duration_run_and_cancel_leave_no_worker(target: HttpTarget) -> None:
    cancel = asyncio.Event()

    def progress(r: LoadResult) -> None:
        if r.count >= 100:
            assert len(engine_workers()) == r.workers
            cancel.set()

    result = await run_load(
        spec(target, requests=None, duration=3600.0, workers=2), progress=progress, every=0.05, cancel=cancel
    )
    assert result.cancelled and result.count >= 100 and result.count == target.count
    assert not engine_workers()


def test_a_killed_bench_takes_its_workers_with_it(target: HttpTarget) -> None:
    bench = subprocess.Popen(
        [sys.executable, "-m", "tirui", "bench", target.url, "m", "-z", "3600", "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TIRUI_SECRETS": "env"},
    )

    def children(parent: int) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(parent), "-f", WORKER], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    workers: list[int] = []
    while (len(workers) < 2 or target.count == 0) and bench.poll() is None:
        workers = children(bench.pid)
        time.sleep(0.05)
    assert len(workers) == 2, "the bench did not start its workers"
    bench.send_signal(signal.SIGKILL)
    bench.wait()

    def alive(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    for _ in range(1200):  # a hang guard only: stdin closes with the parent and each worker stops
        if not any(alive(pid) for pid in workers):
            break
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers), "a worker outlived its killed parent"


async def test_a_saved_run_reads_back_and_compares(target: HttpTarget, tmp_path: Path) -> None:
    a = await run_load(spec(target, requests=300, concurrency=4))
    saved = tmp_path / "a.json"
    saved.write_text(a.to_json())
    back = LoadResult.from_summary(json.loads(saved.read_text()))
    assert back.count == 300 and back.summary()["latency_ms"] == a.summary()["latency_ms"]
    assert back.hist.counts == a.hist.counts and back.timeline_saved == a.timeline()
    rows = {what: (x, y, change) for what, x, y, change in compare(a, back)}
    assert rows["p99 ms"][2] == "+0.0%" and rows["errors"][2] == "n/a"
    with pytest.raises(ValueError, match="not a tirui load test result"):
        LoadResult.from_summary({"requests": 1})


def test_cli_bench_json_and_compare(target: HttpTarget, tmp_path: Path) -> None:
    env = {**os.environ, "TIRUI_SECRETS": "env"}

    def tirui(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tirui", *args], capture_output=True, text=True, env=env)

    runs = []
    for name, extra in (("closed", ()), ("open", ("-q", "400"))):
        r = tirui("bench", target.url, "m", "-n", "200", "-c", "4", "--workers", "2", "--json", *extra)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["requests"] == 200 and doc["workers"] == 2 and doc["mode"] == name
        assert sum(doc["histogram"]["buckets"].values()) == 200
        (tmp_path / f"{name}.json").write_text(r.stdout)
        runs.append(doc)
    r = tirui("bench", "--compare", str(tmp_path / "closed.json"), str(tmp_path / "open.json"))
    assert r.returncode == 0, r.stderr
    assert "throughput req/s" in r.stdout and "p99 ms" in r.stdout and "%" in r.stdout
    (tmp_path / "bad.json").write_text("[1, 2]")
    for bad in (
        ("--compare", str(tmp_path / "bad.json"), str(tmp_path / "open.json")),
        ("--compare", str(tmp_path / "none.json"), str(tmp_path / "open.json")),
        ("bench-no-target",),
        (target.url, "m", "--stream"),
    ):
        args = ("bench", *bad) if bad[0] != "bench-no-target" else ("bench",)
        r = tirui(*args)
        assert r.returncode != 0 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
