"""A real Prometheus over a backfilled TSDB: a day of TorchServe series for one deployment (and its
canary, which the long Metrics windows must leave out) written as OpenMetrics, turned into blocks
by ``promtool tsdb create-blocks-from openmetrics`` and served by ``prometheus`` on 127.0.0.1."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.support import PATIENCE
from tests.support.servers import free_port

NS = "models"
POD = "tiny-5d8f9c7b6-abcde"
CANARY_POD = "tiny-canary-7f6d5c4b3-fghij"
DAY = 86400


def available() -> bool:
    return bool(shutil.which("promtool") and shutil.which("prometheus"))


def openmetrics(now: int) -> str:
    """A day of samples every minute: 10 inferences/s at 5 ms each, 11 responses/s (probes
    count), CPU at 42 %, with a busier afternoon hour (40/s at 20 ms); the canary pod serves
    1000/s at 100 ms (it must not show)."""
    start = now - DAY
    lines = []
    for name in ("ts_inference_requests_total", "ts_inference_latency_microseconds", "Requests2XX"):
        lines.append(f"# TYPE {name} unknown")
        for pod in (POD, CANARY_POD):
            sel = f'namespace="{NS}",pod="{pod}",model_name="tiny"'
            requests = latency = 0.0
            for i in range(0, DAY + 1, 60):
                busy = 6 * 3600 <= DAY - i < 7 * 3600
                rate = 1000 if pod == CANARY_POD else 40 if busy else 10
                ms = 100 if pod == CANARY_POD else 20 if busy else 5
                value = {
                    "ts_inference_requests_total": requests,
                    "ts_inference_latency_microseconds": latency,
                    "Requests2XX": requests * 1.1,
                }[name]
                lines.append(f"{name}{{{sel}}} {value} {start + i}")
                requests += rate * 60
                latency += rate * 60 * ms * 1000
    lines.append("# TYPE CPUUtilization unknown")
    for i in range(0, DAY + 1, 60):
        lines.append(f'CPUUtilization{{namespace="{NS}",pod="{POD}"}} 42.0 {start + i}')
    return "\n".join([*lines, "# EOF"]) + "\n"


@contextlib.contextmanager
def backfilled_prometheus(home: Path) -> Iterator[str]:
    """Prometheus on a TSDB holding :func:`openmetrics`' day; yields its URL."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "day.om").write_text(openmetrics(int(time.time())))
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(home / "day.om"), str(home / "data")],
        check=True,
        capture_output=True,
    )
    (home / "prometheus.yml").write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    port = free_port()
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(home / "prometheus.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60 * PATIENCE
    try:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not start: {(home / 'prometheus.log').read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
