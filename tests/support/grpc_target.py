"""A gRPC server with TorchServe's inference service for the load engine's tests, in its own process.

It is grpc.aio's server (gRPC's C core: its HTTP/2, HPACK with Huffman strings and a dynamic
table, flow control), so the engine's own HTTP/2 client is held to a real implementation. It
answers ``Predictions`` by model name:

- ``tiny``: ``[10.5, -10.5]``, counted;
- ``count``: how many ``tiny`` calls it has answered;
- ``echo``: the input's ``data`` back (large messages, both ways);
- ``slow``: after ``SLOW`` seconds;
- ``missing``: NOT_FOUND; ``auth``: UNAUTHENTICATED unless ``authorization: Bearer s3cret``.

``StreamPredictions`` sends three chunks ``GAP`` seconds apart.

Run it with ``python -m tests.support.grpc_target PORT [--tls FOLDER] [--max-streams N]`` (TLS: a
fresh self-signed certificate for 127.0.0.1 in ``FOLDER/cert.pem``; a stream limit: the server's
SETTINGS_MAX_CONCURRENT_STREAMS); :class:`GrpcTarget` does, as a context manager.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any

SLOW = 3.0
GAP = 0.2
TOKEN = "s3cret"
ROOT = Path(__file__).resolve().parents[2]


class GrpcTarget:
    def __init__(self, tls: Path | None = None, max_streams: int = 0) -> None:
        from tests.support.servers import free_port

        self.port = free_port()
        self.tls = tls
        self.max_streams = max_streams
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def count(self) -> int:
        """``tiny`` calls answered so far (asked over gRPC, with grpc's own client)."""
        import grpc

        from tirui.torchserve.protos import inference_pb2, inference_pb2_grpc

        with grpc.insecure_channel(self.url) as channel:
            stub = inference_pb2_grpc.InferenceAPIsServiceStub(channel)
            reply = stub.Predictions(inference_pb2.PredictionsRequest(model_name="count"), timeout=30)
        return int(reply.prediction)

    def __enter__(self) -> GrpcTarget:
        from tests.support.pki import server_context
        from tests.support.servers import wait_for_port

        args = [sys.executable, "-m", "tests.support.grpc_target", str(self.port)]
        if self.tls is not None:
            server_context(self.tls)  # writes key.pem and cert.pem
            args += ["--tls", str(self.tls)]
        if self.max_streams:
            args += ["--max-streams", str(self.max_streams)]
        self._proc = subprocess.Popen(args, cwd=ROOT)
        wait_for_port(self.port, proc=self._proc)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        from tests.support.servers import stop_process

        if self._proc is not None:
            stop_process(self._proc)


async def _serve(port: int, tls: Path | None, max_streams: int) -> None:
    import grpc
    import grpc.aio

    from tirui.torchserve.protos import inference_pb2, inference_pb2_grpc

    served = 0
    Reply = inference_pb2.PredictionResponse

    class Inference(inference_pb2_grpc.InferenceAPIsServiceServicer):
        async def Predictions(self, request: Any, context: Any) -> Any:
            nonlocal served
            name = request.model_name
            if name == "count":
                return Reply(prediction=str(served).encode())
            if name == "echo":
                return Reply(prediction=request.input["data"])
            if name == "slow":
                await asyncio.sleep(SLOW)
            elif name == "missing":
                await context.abort(grpc.StatusCode.NOT_FOUND, "no such model")
            elif (
                name == "auth"
                and dict(context.invocation_metadata()).get("authorization") != f"Bearer {TOKEN}"
            ):
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "token")
            served += name == "tiny"
            return Reply(prediction=b"[10.5, -10.5]")

        async def StreamPredictions(self, request: Any, context: Any) -> AsyncIterator[Any]:
            for i in range(3):
                if i:
                    await asyncio.sleep(GAP)
                yield Reply(prediction=f"chunk {i}".encode())

    limit = 64 * 2**20
    options = [("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)]
    if max_streams:
        options.append(("grpc.max_concurrent_streams", max_streams))
    server = grpc.aio.server(options=options)
    inference_pb2_grpc.add_InferenceAPIsServiceServicer_to_server(Inference(), server)
    if tls is None:
        server.add_insecure_port(f"127.0.0.1:{port}")
    else:
        pair = ((tls / "key.pem").read_bytes(), (tls / "cert.pem").read_bytes())
        server.add_secure_port(f"127.0.0.1:{port}", grpc.ssl_server_credentials([pair]))
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--tls", type=Path)
    parser.add_argument("--max-streams", type=int, default=0)
    a = parser.parse_args()
    asyncio.run(_serve(a.port, a.tls, a.max_streams))
