"""The load engine at the machine's limit: ``tirui bench``'s engine against ``hey`` on a target
that answers instantly (nginx ``return 200 '[10.5, -10.5]'`` on 127.0.0.1), so the tools measure
themselves, not the server.

Same POST, body, request count (20,000) and concurrency (8), alternating over rounds; both get
the machine's cores (hey: its goroutines; tirui: one worker process per core). Prints each round,
the medians, the p50 difference, then ``ratio=<tirui rps / hey rps>`` last.
Targets: ratio >= 1.0 and tirui's p50 within 0.3 ms of hey's.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import nginx_target, rounds, run_hey
from tirui.traffic.engine.load import LoadSpec
from tirui.traffic.loadtest import run_load

N = int(os.environ.get("TIRUI_BENCH_REQUESTS", "20000"))
C = 8
ROUNDS = int(os.environ.get("TIRUI_BENCH_ROUNDS", "3"))
BODY = b"[1, 1, 1, 1]"


def run_tirui(url: str) -> tuple[float, float]:
    spec = LoadSpec(
        url=url, body=BODY, headers={"Content-Type": "application/json"}, requests=N, concurrency=C
    )
    result = asyncio.run(run_load(spec))
    assert result.ok == N, result.statuses
    return result.rps, result.percentile(50)


def main() -> None:
    if shutil.which("hey") is None:
        raise SystemExit("hey is not installed (apt-get install hey)")
    with tempfile.TemporaryDirectory() as tmp, nginx_target() as base:
        body_file = Path(tmp) / "body.json"
        body_file.write_bytes(BODY)
        url = f"{base}/predictions/tiny"
        run_tirui(url)  # warm-up: imports, page cache
        med = rounds(
            {"hey": lambda: run_hey(url, N, C, body_file), "tirui": lambda: run_tirui(url)}, ROUNDS, 3
        )
        gap = (med["tirui"][1] - med["hey"][1]) * 1000
        print(f"p50 difference tirui - hey: {gap:+.3f} ms (target within 0.3 ms)")
        print(f"ratio={med['tirui'][0] / med['hey'][0]:.3f}")


if __name__ == "__main__":
    main()
