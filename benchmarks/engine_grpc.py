"""The load engine's gRPC side against what a user would write: a single-loop ``grpc.aio`` client
(8 concurrent Predictions on one channel) and tirui's engine (8 streams over its worker
processes), the same requests, against two servers of TorchServe's inference service, each in a
process of its own (neither client shares an interpreter with it):

- ``benchmarks/grpc_static_target.py``, which answers every call at once with bytes encoded once
  (gRPC's ``return 200``, as nginx is for ``engine_vs_hey.py``): the clients measure themselves.
  This is the ratio (``ratio=`` last).
- a grpc.aio server (``SERVER`` below, ``TIRUI_BENCH_SERVERS`` processes on one port): Python's
  gRPC server is then the bottleneck (it takes more CPU per call than either client), so this
  ratio says what a leaner client leaves to the server on a machine they share; printed before.

Target >= 1.5.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import grpc.aio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.servers import free_port, stop_process, wait_for_port
from tirui.torchserve.protos import inference_pb2, inference_pb2_grpc
from tirui.traffic.engine.load import LoadSpec
from tirui.traffic.loadtest import run_load

N = int(os.environ.get("TIRUI_BENCH_REQUESTS", "20000"))
C = 8
ROUNDS = int(os.environ.get("TIRUI_BENCH_ROUNDS", "3"))
BODY = b"[1, 1, 1, 1]"
SERVERS = int(os.environ.get("TIRUI_BENCH_SERVERS", "1"))

SERVER = """
import asyncio, sys
import grpc.aio
from tirui.torchserve.protos import inference_pb2, inference_pb2_grpc

class Inference(inference_pb2_grpc.InferenceAPIsServiceServicer):
    async def Predictions(self, request, context):
        return inference_pb2.PredictionResponse(prediction=b"[10.5, -10.5]")

async def main():
    server = grpc.aio.server()
    inference_pb2_grpc.add_InferenceAPIsServiceServicer_to_server(Inference(), server)
    server.add_insecure_port("127.0.0.1:" + sys.argv[1])
    await server.start()
    await server.wait_for_termination()

asyncio.run(main())
"""


def run_plain(target: str) -> float:
    """What a user writes: one event loop, one channel, C tasks sharing the count."""

    async def main() -> float:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = inference_pb2_grpc.InferenceAPIsServiceStub(channel)
            request = inference_pb2.PredictionsRequest(model_name="tiny", input={"data": BODY})
            left = N

            async def task() -> None:
                nonlocal left
                while left > 0:
                    left -= 1
                    await stub.Predictions(request, timeout=30)

            start = time.perf_counter()
            await asyncio.gather(*(task() for _ in range(C)))
            return N / (time.perf_counter() - start)

    return asyncio.run(main())


def run_tirui(target: str) -> float:
    spec = LoadSpec(protocol="grpc", url=target, model="tiny", body=BODY, requests=N, concurrency=C)
    result = asyncio.run(run_load(spec))
    assert result.ok == N, result.statuses
    return result.rps


def compare(target: str) -> float:
    run_plain(target)  # warm-up
    run_tirui(target)
    results: dict[str, list[float]] = {"grpc.aio": [], "tirui": []}
    for r in range(ROUNDS):
        results["grpc.aio"].append(run_plain(target))
        results["tirui"].append(run_tirui(target))
        print(f"  round {r + 1}: " + "  ".join(f"{k} {v[-1]:.0f} req/s" for k, v in results.items()))
    med = {k: statistics.median(v) for k, v in results.items()}
    for k, rps in med.items():
        print(f"  {k:8s} median {rps:9.1f} req/s")
    return med["tirui"] / med["grpc.aio"]


def serving(argv: list[list[str]]) -> list[subprocess.Popen[bytes]]:
    root = Path(__file__).resolve().parent.parent
    return [subprocess.Popen(a, cwd=root, start_new_session=True, stderr=subprocess.DEVNULL) for a in argv]


def main() -> None:
    ratios: dict[str, float] = {}
    static = Path(__file__).resolve().parent / "grpc_static_target.py"
    for name in ("grpc.aio server", "static target"):
        port = free_port()
        if name == "static target":
            servers = serving([[sys.executable, str(static), str(port)]])
        else:
            servers = serving([[sys.executable, "-c", SERVER, str(port)]] * SERVERS)
        try:
            for server in servers:
                wait_for_port(port, proc=server)
            print(f"{name}:")
            ratios[name] = compare(f"127.0.0.1:{port}")
        finally:
            for server in servers:
                stop_process(server)
    print(f"against the grpc.aio server (the server the bottleneck): {ratios['grpc.aio server']:.3f}")
    print(f"ratio={ratios['static target']:.3f}")


if __name__ == "__main__":
    main()
