"""Load generator: tirui's engine (tirui.traffic.engine) against ``hey`` on the same real TorchServe.

Same model, body, request count and concurrency (8), alternating over several rounds. Also times
a plain httpx asyncio loop (what a user would write). Here TorchServe is the bottleneck; the
engine's own limit is measured by ``engine_vs_hey.py``. Prints each tool's median throughput and
p50, then ``ratio=<tirui_rps/hey_rps>`` last. Target: ratio >= 0.9.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import rounds, run_hey
from tests.support.torchserve_fixture import torchserve_session
from tirui.traffic.engine.load import LoadSpec
from tirui.traffic.loadtest import run_load

N = int(os.environ.get("TIRUI_BENCH_REQUESTS", "2000"))
C = 8
ROUNDS = int(os.environ.get("TIRUI_BENCH_ROUNDS", "3"))
BODY = b"[1, 1, 1, 1]"


def run_tirui(url: str, token: str) -> tuple[float, float]:
    spec = LoadSpec(
        url=url,
        body=BODY,
        headers={"Content-Type": "application/json"},
        token=token,
        requests=N,
        concurrency=C,
    )
    result = asyncio.run(run_load(spec))
    assert result.ok == N, result.statuses
    return result.rps, result.percentile(50)


def run_httpx(url: str, token: str) -> tuple[float, float]:
    import httpx

    async def main() -> tuple[float, float]:
        lat: list[float] = []
        left = N
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=C)) as client:

            async def worker() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    t0 = time.perf_counter()
                    (await client.post(url, content=BODY, headers=headers)).raise_for_status()
                    lat.append(time.perf_counter() - t0)

            t = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(C)))
            elapsed = time.perf_counter() - t
        return len(lat) / elapsed, statistics.median(lat)

    return asyncio.run(main())


def main() -> None:
    if shutil.which("hey") is None:
        raise SystemExit("hey is not installed (apt-get install hey)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        body_file = root / "body.json"
        body_file.write_bytes(BODY)
        for ts in torchserve_session(root):
            url = f"{ts.inference_url}/predictions/tiny"
            token = ts.keys.inference
            run_tirui(url, token)  # warm-up (JIT, worker caches)
            hey_headers = {"Authorization": f"Bearer {token}"}
            med = rounds(
                {
                    "hey": functools.partial(run_hey, url, N, C, body_file, hey_headers),
                    "tirui": functools.partial(run_tirui, url, token),
                    "httpx": functools.partial(run_httpx, url, token),
                },
                ROUNDS,
            )
            p50_gap = abs(med["tirui"][1] - med["hey"][1]) / med["hey"][1]
            print(f"p50 difference tirui vs hey: {p50_gap * 100:.1f}% (target <= 15%)")
            print(f"ratio={med['tirui'][0] / med['hey'][0]:.3f}")


if __name__ == "__main__":
    main()
