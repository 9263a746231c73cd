"""CPU cost of the Metrics pipeline: 10 endpoints scraped at 1 Hz for 30 s, access-log tails
feeding the percentile windows, and four charts of 5 minutes (pre-filled, as on a screen watched
for a while) rebuilt at the Metrics screen's cadence (once per braille dot of the time axis).

The endpoints serve a payload recorded from a real TorchServe 0.12.0 (benchmarks/data/) with
counters that grow, and append access-log lines (50/s each); they run in a separate process so
their CPU is not counted. Prints resident memory at the start and the end, then
``ratio=<process CPU seconds / wall seconds>`` last. Target: <= 0.03 and flat memory.
``benchmarks/metrics_scale.py`` runs the same with 100 endpoints.
"""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tirui.metrics.collector import Collector, ReplicaSource
from tirui.metrics.series import AGGREGATE, MetricsPipeline, TickInput
from tirui.widgets.chart import redraw_period

ENDPOINTS = 10
SECONDS = float(os.environ.get("TIRUI_BENCH_SECONDS", "30"))
PAYLOAD = Path(__file__).with_name("data") / "torchserve_metrics.txt"

SERVERS = r"""
import http.server, re, sys, threading, time
from pathlib import Path
payload = Path(sys.argv[1]).read_text()
logdir = Path(sys.argv[2])
count = int(sys.argv[3])
per_second = float(sys.argv[4])
started = time.time()

def body(i):
    n = int((time.time() - started) * 50)
    text = re.sub(r"(ts_inference_requests_total\{[^}]*\}) [\d.]+", lambda m: f"{m.group(1)} {n}", payload)
    latency = r"(ts_inference_latency_microseconds\{[^}]*\}) [\d.]+"
    text = re.sub(latency, lambda m: f"{m.group(1)} {n * 4100.0}", text)
    return text.encode()

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as TorchServe's metrics endpoint (Netty) does
    def do_GET(self):
        data = body(self.server.index)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass

ports = []
for i in range(count):
    s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    s.index = i
    threading.Thread(target=s.serve_forever, daemon=True).start()
    ports.append(s.server_address[1])
print(" ".join(map(str, ports)), flush=True)
logs = [open(logdir / f"access_{i}.log", "a") for i in range(count)]
k = 0
while True:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S") + ",000"
    for f in logs:
        f.write(f'{stamp} - /127.0.0.1:1 "POST /predictions/tiny HTTP/1.1" 200 {3 + k % 9}\n')
        f.flush()
    k += 1
    time.sleep(1 / per_second)
"""


WIDTH = 50
"""Cells of one chart (two charts side by side in a 100-column terminal)."""


def prefill(pipeline: MetricsPipeline, names: list[str], now: float) -> None:
    """Five minutes of history, so the charts are as full as on a screen watched for a while."""
    from tirui.metrics.accesslog import AccessEntry
    from tirui.metrics.scrape import parse

    text = PAYLOAD.read_text()
    for k in range(300, 0, -1):
        at = now - k
        entries = [AccessEntry(at - 0.5, "POST", "/predictions/tiny", 200, 3 + k % 9)]
        pipeline.tick(at, {n: TickInput(parse(text, at), "", entries) for n in names})


def build_charts(pipeline: MetricsPipeline, now: float) -> None:
    """What the screen does when its charts are due: four plotext charts of the last 5 minutes."""
    import plotext as plt

    from tirui.widgets.chart import _downsample, _segments

    for series in (("latency_avg", "p50", "p99"), ("rps",), ("2xx", "4xx", "5xx"), ("cpu", "mem")):
        plt.clear_data()
        plt.clear_figure()
        plt.plotsize(WIDTH, 12)
        for key in series:
            for xs, ys in _segments(_downsample(pipeline.points(key, AGGREGATE, 300, now), 2 * WIDTH)):
                plt.plot([x - now for x in xs], ys, marker="braille")
        plt.build()


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def run(
    sources: list[ReplicaSource], seconds: float, pipeline: MetricsPipeline | None = None, warm: float = 0
) -> tuple[float, float, float, float]:
    if pipeline is None:
        pipeline = MetricsPipeline(model="tiny")
        prefill(pipeline, [s.name for s in sources], time.time())
    collector = Collector(pipeline)
    period = redraw_period(300, WIDTH)
    charts_at = 0.0
    await collector.collect(sources)  # warm-up: imports, connections
    build_charts(pipeline, time.time())
    t_warm = time.monotonic()
    while time.monotonic() - t_warm < warm:
        await asyncio.sleep(1.0)
        await collector.collect(sources)
        build_charts(pipeline, time.time())
    rss_start = rss_mb()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    tick = t0
    while time.monotonic() - t0 < seconds:
        tick += 1.0
        await asyncio.sleep(max(0.0, tick - time.monotonic()))
        now = time.time()
        await collector.collect(sources, now)
        if time.monotonic() - charts_at >= period - 0.05:  # the Metrics screen's cadence
            charts_at = time.monotonic()
            build_charts(pipeline, now)
    wall = time.monotonic() - t0
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    assert pipeline.percentiles(60, time.time())[0.99] is not None  # the logs did feed the windows
    await collector.aclose()
    return cpu, wall, rss_start, rss_mb()


def measure(endpoints: int, lines_per_s: float, *, api_bound: bool = False, seconds: float = SECONDS) -> None:
    """Collect from ``endpoints`` for ``seconds``; ``api_bound`` marks them as pods behind the
    Kubernetes API server (the collector's budget then samples them)."""
    with tempfile.TemporaryDirectory() as tmp:
        servers = subprocess.Popen(
            [sys.executable, "-c", SERVERS, str(PAYLOAD), tmp, str(endpoints), str(lines_per_s)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert servers.stdout is not None
            ports = [int(p) for p in servers.stdout.readline().split()]
            sources = [
                ReplicaSource(
                    f"r{i}",
                    f"http://127.0.0.1:{port}/metrics",
                    Path(tmp) / f"access_{i}.log",
                    api_bound=api_bound,
                )
                for i, port in enumerate(ports)
            ]
            cpu, wall, rss0, rss1 = asyncio.run(run(sources, seconds))
            # Memory is bounded by the pipeline's horizon (900 s by default); with a 5 s horizon
            # the bound is reached at once, so resident memory must then stay flat.
            short = MetricsPipeline(model="tiny", horizon=5, max_points=5)
            _, _, steady0, steady1 = asyncio.run(run(sources, 20, short, warm=10))
        finally:
            servers.kill()
            servers.wait()
    print(
        f"{endpoints} endpoints, {lines_per_s:g} access-log lines/s each, for {wall:.1f} s: {cpu:.2f} s CPU"
    )
    print(f"resident memory: {rss0:.1f} MB at the start, {rss1:.1f} MB at the end (900 s horizon filling)")
    print(f"steady state (5 s horizon, after 10 s, for 20 s): {steady0:.1f} MB -> {steady1:.1f} MB")
    print(f"ratio={cpu / wall:.4f}")


def main() -> None:
    measure(ENDPOINTS, 50)


if __name__ == "__main__":
    main()
