"""Deploy to Ready on the local runtime: tirui's path against starting TorchServe by hand.

tirui: ``LocalRuntime.deploy_from`` of the demo archive from the local store (copy into the model
store, manifest read, free ports, start, supervisor polling the management API) until the status
is Ready. Manual: the same config.properties and archive started with ``torchserve --foreground``,
polling ``GET /models/tiny`` every 0.1 s until a worker is READY. Alternating rounds, medians;
prints ``ratio=<tirui/manual>`` last. Target: <= 1.2.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.torchserve_fixture import wait_ready
from tirui.cluster.local.runtime import LocalRuntime
from tirui.cluster.spec import DeploymentSpec
from tirui.demo.model import build_mar
from tirui.storage.local import LocalStore
from tirui.torchserve.server import Ports, ServerConfig, start_server, stop_group

ROUNDS = int(os.environ.get("TIRUI_BENCH_ROUNDS", "3"))


def tirui_round(root: Path, store: LocalStore, i: int) -> float:
    runtime = LocalRuntime(root / f"deployments-{i}")
    try:
        t0 = time.perf_counter()
        runtime.deploy_from(DeploymentSpec(f"bench{i}", "eos://models/tiny.mar"), store)
        while runtime.get(f"bench{i}").status != "Ready":
            if time.perf_counter() - t0 > 180:
                raise SystemExit("tirui deployment not Ready in 180 s")
            time.sleep(0.02)
        return time.perf_counter() - t0
    finally:
        runtime.shutdown(keep_running=False)


def manual_round(root: Path, mar: Path, i: int) -> float:
    store = root / f"manual-store-{i}"
    store.mkdir()
    shutil.copy(mar, store / "tiny.mar")
    ports = Ports.free()
    t0 = time.perf_counter()
    proc = start_server(
        root / f"manual-{i}",
        ServerConfig(ports, store, ["tiny=tiny.mar"]),
        tmp_dir=Path(tempfile.mkdtemp(prefix="ts-manual-")),
    )
    try:
        wait_ready(root / f"manual-{i}", ports, ["tiny"], timeout=180, interval=0.1)
        return time.perf_counter() - t0
    finally:
        stop_group(proc.pid, proc=proc)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mar = build_mar(root / "mar")
        store = LocalStore(root / "buckets")
        store.create_bucket("models")
        store.upload(mar, "models", "tiny.mar")
        manual_round(root, mar, 99)  # warm-up: JVM class data, page cache
        tirui_times, manual_times = [], []
        for i in range(ROUNDS):
            tirui_times.append(tirui_round(root, store, i))
            manual_times.append(manual_round(root, mar, i))
            print(f"round {i + 1}: tirui {tirui_times[-1]:.2f} s  manual {manual_times[-1]:.2f} s")
        t, m = statistics.median(tirui_times), statistics.median(manual_times)
        print(f"median: tirui {t:.2f} s  manual {m:.2f} s")
        print(f"ratio={t / m:.3f}")


if __name__ == "__main__":
    main()
