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
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import free_port, stop_process, wait_for_port
from tirui.traffic.loadtest import LoadSpec, run_load

N = int(os.environ.get("TIRUI_BENCH_REQUESTS", "20000"))
C = 8
ROUNDS = int(os.environ.get("TIRUI_BENCH_ROUNDS", "3"))
BODY = b"[1, 1, 1, 1]"

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 '[10.5, -10.5]'; }}
    }}
}}
"""


def run_hey(url: str, body_file: Path) -> tuple[float, float]:
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


def run_tirui(url: str) -> tuple[float, float]:
    spec = LoadSpec(
        url=url, body=BODY, headers={"Content-Type": "application/json"}, requests=N, concurrency=C
    )
    result = asyncio.run(run_load(spec))
    assert result.ok == N, result.statuses
    return result.rps, result.percentile(50)


def main() -> None:
    for tool in ("hey", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is not installed (apt-get install {tool})")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        port = free_port()
        (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=port))
        body_file = root / "body.json"
        body_file.write_bytes(BODY)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        proc = subprocess.Popen(
            [nginx, "-c", str(root / "nginx.conf"), "-p", str(root)],
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for_port(port, proc=proc)
            url = f"http://127.0.0.1:{port}/predictions/tiny"
            run_tirui(url)  # warm-up: imports, page cache
            results: dict[str, list[tuple[float, float]]] = {"hey": [], "tirui": []}
            for r in range(ROUNDS):
                results["hey"].append(run_hey(url, body_file))
                results["tirui"].append(run_tirui(url))
                print(
                    f"round {r + 1}: "
                    + "  ".join(
                        f"{k} {v[-1][0]:.0f} req/s p50 {v[-1][1] * 1000:.3f} ms" for k, v in results.items()
                    )
                )
            med = {
                k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
                for k, v in results.items()
            }
            for k, (rps, p50) in med.items():
                print(f"{k:6s} median {rps:9.1f} req/s  p50 {p50 * 1000:6.3f} ms")
            gap = (med["tirui"][1] - med["hey"][1]) * 1000
            print(f"p50 difference tirui - hey: {gap:+.3f} ms (target within 0.3 ms)")
            print(f"ratio={med['tirui'][0] / med['hey'][0]:.3f}")
        finally:
            stop_process(proc)


if __name__ == "__main__":
    main()
