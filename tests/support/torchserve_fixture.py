"""A real TorchServe on free loopback ports for the test session (token auth ON).

Two models: ``tiny`` (the demo model) and ``stream`` (same weights, a streaming handler). The
archives are built with torch-model-archiver in the session; the keys come from key_file.json.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support import PATIENCE
from tirui.demo.model import build_mar
from tirui.torchserve.server import Ports, ServerConfig, ServerKeys, log_tail, start_server, stop_group

STREAM_HANDLER = Path(__file__).with_name("models") / "stream_handler.py"
READY_TIMEOUT = 120.0


@dataclass
class RunningTorchServe:
    workdir: Path
    ports: Ports
    keys: ServerKeys
    pid: int

    @property
    def inference_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.inference}"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.management}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.metrics}/metrics"

    @property
    def access_log(self) -> Path:
        return self.workdir / "logs" / "access_log.log"


def wait_ready(
    workdir: Path,
    ports: Ports,
    models: list[str],
    timeout: float = READY_TIMEOUT,
    interval: float = 0.2,
    token_auth: bool = True,
) -> ServerKeys:
    """Until every model has a READY worker (``/ping`` is not readiness, docs/torchserve.md)."""
    deadline = time.monotonic() + timeout * PATIENCE
    while time.monotonic() < deadline:
        keys = ServerKeys.read(workdir) if token_auth else ServerKeys("", "", "")
        if keys is not None:
            ready = 0
            for model in models:
                try:
                    r = httpx.get(
                        f"http://127.0.0.1:{ports.management}/models/{model}",
                        headers={"Authorization": f"Bearer {keys.management}"} if token_auth else {},
                        timeout=5,
                    )
                except httpx.HTTPError:
                    break
                if r.status_code == 200 and any(w["status"] == "READY" for w in r.json()[0]["workers"]):
                    ready += 1
            if ready == len(models):
                return keys
        time.sleep(interval)
    raise RuntimeError("TorchServe not ready:\n" + "\n".join(log_tail(workdir, 30)))


def torchserve_session(root: Path) -> Iterator[RunningTorchServe]:
    store = root / "store"
    build_mar(store, name="tiny")
    build_mar(store, name="stream", handler=STREAM_HANDLER)
    ports = Ports.free()
    config = ServerConfig(ports, store, ["tiny.mar", "stream.mar"], enable_model_api=True)
    proc = start_server(root / "run", config)
    try:
        keys = wait_ready(root / "run", ports, ["tiny", "stream"])
        yield RunningTorchServe(root / "run", ports, keys, proc.pid)
    finally:
        stop_group(proc.pid, proc=proc)


async def predict_tiny(ts: RunningTorchServe, n: int) -> list[float]:
    """Send ``n`` predictions to the ``tiny`` model one after another; each one's client-side
    latency in ms (every answer must be 200)."""
    client_ms = []
    async with httpx.AsyncClient() as client:
        for i in range(n):
            t0 = time.perf_counter()
            r = await client.post(
                f"{ts.inference_url}/predictions/tiny",
                json=[i % 3, 1, 1, 1],
                headers={"Authorization": f"Bearer {ts.keys.inference}"},
            )
            client_ms.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200
    return client_ms
