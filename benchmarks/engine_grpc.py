"""The load engine's gRPC side against what a user would write: a single-loop ``grpc.aio`` client
(8 concurrent Predictions on one channel) and tirui's engine (8 streams over worker processes),
same requests, against a minimal server with TorchServe's inference service (``Predictions``
answers ``[10.5, -10.5]`` at once; it runs in a process of its own with the generated stubs, so
neither client shares an interpreter with it).

Prints each round and the medians, then ``ratio=<tirui rps / grpc.aio rps>`` last. Target >= 1.5.
On a 2-core machine the server's process and the clients share the cores and every request
costs about as much CPU in grpc.aio's client as in its server, so the engine's second process
has no core to win (measured ~1.0 with 1 or 2 server processes, ``TIRUI_BENCH_SERVERS``); the
target needs a leaner HTTP/2 client in the workers, which the README's benchmark table notes.
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

from tests.servers import free_port, stop_process, wait_for_port
from tirui.torchserve.protos import inference_pb2, inference_pb2_grpc
from tirui.traffic.loadtest import LoadSpec, run_load

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


def main() -> None:
    port = free_port()
    root = Path(__file__).resolve().parent.parent
    servers = [
        subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port)],
            cwd=root,
            start_new_session=True,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(SERVERS)
    ]
    try:
        for server in servers:
            wait_for_port(port, proc=server)
        target = f"127.0.0.1:{port}"
        run_plain(target)  # warm-up
        run_tirui(target)
        results: dict[str, list[float]] = {"grpc.aio": [], "tirui": []}
        for r in range(ROUNDS):
            results["grpc.aio"].append(run_plain(target))
            results["tirui"].append(run_tirui(target))
            print(f"round {r + 1}: " + "  ".join(f"{k} {v[-1]:.0f} req/s" for k, v in results.items()))
        med = {k: statistics.median(v) for k, v in results.items()}
        for k, rps in med.items():
            print(f"{k:8s} median {rps:9.1f} req/s")
        print(f"ratio={med['tirui'] / med['grpc.aio']:.3f}")
    finally:
        for server in servers:
            stop_process(server)


if __name__ == "__main__":
    main()
