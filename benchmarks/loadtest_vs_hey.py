"""Load generator: tirui's engine (tirui.traffic.engine) against ``hey`` on the same real TorchServe.

Same model, body, request count and concurrency (8), alternating over several rounds. Also times
a plain httpx asyncio loop (what a user would write). Here TorchServe is the bottleneck; the
engine's own limit is measured by ``engine_vs_hey.py``. Prints each tool's median throughput and
p50, then ``ratio=<tirui_rps/hey_rps>`` last. Target: ratio >= 0.9.
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
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.torchserve_fixture import torchserve_session
from tirui.traffic.loadtest import LoadSpec, run_load

N = int(os.environ.get("TIRUI_BENCH_REQUESTS", "2000"))
C = 8
ROUNDS = int(os.environ.get("TIRUI_BENCH_ROUNDS", "3"))
BODY = b"[1, 1, 1, 1]"


def run_hey(url: str, token: str, body_file: Path) -> tuple[float, float]:
    out = subprocess.run(
        [
            "hey",
            "-n",
            str(N),
            "-c",
            str(C),
            "-m",
            "POST",
            "-T",
            "application/json",
            "-H",
            f"Authorization: Bearer {token}",
            "-D",
            str(body_file),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = float(re.search(r"50%+ in ([\d.]+) secs", out).group(1))  # type: ignore[union-attr]
    return rps, p50


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
            results: dict[str, list[tuple[float, float]]] = {"hey": [], "tirui": [], "httpx": []}
            for r in range(ROUNDS):
                results["hey"].append(run_hey(url, token, body_file))
                results["tirui"].append(run_tirui(url, token))
                results["httpx"].append(run_httpx(url, token))
                print(
                    f"round {r + 1}: "
                    + "  ".join(
                        f"{k} {v[-1][0]:.0f} req/s p50 {v[-1][1] * 1000:.2f} ms" for k, v in results.items()
                    )
                )
            med = {
                k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
                for k, v in results.items()
            }
            for k, (rps, p50) in med.items():
                print(f"{k:6s} median {rps:8.1f} req/s  p50 {p50 * 1000:6.2f} ms")
            p50_gap = abs(med["tirui"][1] - med["hey"][1]) / med["hey"][1]
            print(f"p50 difference tirui vs hey: {p50_gap * 100:.1f}% (target <= 15%)")
            print(f"ratio={med['tirui'][0] / med['hey'][0]:.3f}")


if __name__ == "__main__":
    main()
