"""The load engine against ``wrk``, what a performance engineer reaches for, on a target that
answers instantly (nginx ``return 200 '[10.5, -10.5]'`` on 127.0.0.1): the tools measure
themselves, not the server.

Same POST and body (a Lua script gives wrk the method, body and ``Content-Type``), 8 connections,
the same duration, both with the machine's cores (wrk: ``-t`` = cores; tirui: one worker process
per core), alternating over rounds. tirui's counts are exact (every request it sent is counted:
``ok == count``); wrk's latencies come from its ``--latency`` distribution. Prints each round,
the medians, both p50/p99, then ``ratio=<tirui req/s / wrk req/s>`` last.
Targets: ratio >= 0.6 and tirui's p50 within 0.1 ms of wrk's.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import nginx_target
from tirui.traffic.engine.load import LoadSpec
from tirui.traffic.loadtest import run_load

SECONDS = float(os.environ.get("TIRUI_BENCH_SECONDS", "5"))
C = 8
ROUNDS = int(os.environ.get("TIRUI_BENCH_ROUNDS", "3"))
BODY = b"[1, 1, 1, 1]"
CORES = os.cpu_count() or 1
LUA = """wrk.method = "POST"
wrk.body = '[1, 1, 1, 1]'
wrk.headers["Content-Type"] = "application/json"
"""
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}

Numbers = tuple[float, float, float]
"""(requests/s, p50 s, p99 s)."""


def _seconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * UNITS[unit]


def run_wrk(url: str, script: Path) -> Numbers:
    threads = min(CORES, C)
    args = ["wrk", f"-t{threads}", f"-c{C}", f"-d{SECONDS:g}s", "--latency", "-s", str(script), url]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _seconds(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _seconds(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    return rps, p50, p99


def run_tirui(url: str) -> Numbers:
    spec = LoadSpec(
        url=url,
        body=BODY,
        headers={"Content-Type": "application/json"},
        requests=None,
        duration=SECONDS,
        concurrency=C,
    )
    result = asyncio.run(run_load(spec))
    assert result.ok == result.count > 0, result.statuses  # every request sent is counted
    return result.rps, result.percentile(50), result.percentile(99)


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp, nginx_target() as base:
        script = Path(tmp) / "post.lua"
        script.write_text(LUA)
        url = f"{base}/predictions/tiny"
        run_tirui(url)  # warm-up: imports, page cache
        tools = {"wrk": lambda: run_wrk(url, script), "tirui": lambda: run_tirui(url)}
        results: dict[str, list[Numbers]] = {name: [] for name in tools}
        for r in range(ROUNDS):
            for name, measure in tools.items():
                results[name].append(measure())
            print(
                f"round {r + 1}: "
                + "  ".join(
                    f"{k} {v[-1][0]:.0f} req/s p50 {v[-1][1] * 1e3:.3f} ms p99 {v[-1][2] * 1e3:.3f} ms"
                    for k, v in results.items()
                )
            )
        med = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in results.items()}
        for k, (rps, p50, p99) in med.items():
            print(f"{k:6s} median {rps:9.1f} req/s  p50 {p50 * 1e3:7.3f} ms  p99 {p99 * 1e3:7.3f} ms")
        gap = (med["tirui"][1] - med["wrk"][1]) * 1e3
        print(f"p50 difference tirui - wrk: {gap:+.3f} ms (target within 0.1 ms)")
        print(f"ratio={med['tirui'][0] / med['wrk'][0]:.3f}")


if __name__ == "__main__":
    main()
