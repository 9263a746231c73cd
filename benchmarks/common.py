"""What the load benchmarks share: ``hey`` run and read, alternating rounds with their medians,
and an nginx that answers every request at once (``return 200 '[10.5, -10.5]'``)."""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.servers import free_port, stop_process, wait_for_port

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

Measure = Callable[[], tuple[float, float]]
"""One round of one tool: (requests/s, p50 in seconds)."""


def run_hey(
    url: str, n: int, c: int, body_file: Path, headers: dict[str, str] | None = None
) -> tuple[float, float]:
    args = ["hey", "-n", str(n), "-c", str(c), "-m", "POST", "-T", "application/json", "-D", str(body_file)]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = float(re.search(r"50%+ in ([\d.]+) secs", out).group(1))  # type: ignore[union-attr]
    return rps, p50


def rounds(tools: dict[str, Measure], count: int, digits: int = 2) -> dict[str, tuple[float, float]]:
    """Run the tools in turn ``count`` times, print each round and the medians; the medians."""
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in tools}
    for r in range(count):
        for name, measure in tools.items():
            results[name].append(measure())
        print(
            f"round {r + 1}: "
            + "  ".join(
                f"{k} {v[-1][0]:.0f} req/s p50 {v[-1][1] * 1000:.{digits}f} ms" for k, v in results.items()
            )
        )
    med = {
        k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
        for k, v in results.items()
    }
    for k, (rps, p50) in med.items():
        print(f"{k:8s} median {rps:9.1f} req/s  p50 {p50 * 1000:6.{digits + 1}f} ms")
    return med


@contextmanager
def nginx_target() -> Iterator[str]:
    """The base URL of an nginx on 127.0.0.1 that answers ``[10.5, -10.5]`` to everything."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is not installed (apt-get install nginx)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        port = free_port()
        (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=port))
        proc = subprocess.Popen(
            [nginx, "-c", str(root / "nginx.conf"), "-p", str(root)],
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for_port(port, proc=proc)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop_process(proc)
