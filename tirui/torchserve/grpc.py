"""Async gRPC client for TorchServe's ``InferenceAPIsService`` and ``ManagementAPIsService``.

The bearer token travels as ``authorization`` metadata; TLS uses the system roots or a given CA
file. Stubs come from tirui's own ``.proto`` copies (``make protos``), wire-identical to
TorchServe 0.12.0's.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from google.protobuf.message import Message as ProtoMessage

from tirui.torchserve.errors import ErrorKind, TorchServeError
from tirui.torchserve.protos import inference_pb2, inference_pb2_grpc, management_pb2, management_pb2_grpc

_CODE_KINDS: dict[grpc.StatusCode, ErrorKind] = {
    grpc.StatusCode.UNAUTHENTICATED: "auth",
    grpc.StatusCode.PERMISSION_DENIED: "auth",
    grpc.StatusCode.NOT_FOUND: "not_found",
    grpc.StatusCode.UNAVAILABLE: "connection",
    grpc.StatusCode.DEADLINE_EXCEEDED: "timeout",
    grpc.StatusCode.INVALID_ARGUMENT: "bad_request",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "too_large",
    grpc.StatusCode.INTERNAL: "server",
    grpc.StatusCode.UNKNOWN: "server",
}


def rpc_error(exc: grpc.aio.AioRpcError, target: str) -> TorchServeError:
    code = exc.code()
    kind = _CODE_KINDS.get(code, "server")
    detail = exc.details() or ""
    if code == grpc.StatusCode.UNAVAILABLE and ("ssl" in detail.lower() or "handshake" in detail.lower()):
        kind = "tls"
    hint = {
        "auth": " The token is missing, wrong or expired.",
        "connection": " Is the server running and the address right?",
        "timeout": " Raise the deadline or check the server's load.",
    }.get(kind, "")
    return TorchServeError(kind, f"{target}: gRPC {code.name}: {detail}.{hint}", code=code.name)


@dataclass
class GrpcResult:
    """One answered RPC with timings; ``code`` is the gRPC status name (``OK`` on success)."""

    rpc: str
    code: str
    payload: bytes
    elapsed: float
    ttfb: float
    messages: int = 1
    trailers: list[tuple[str, str]] = field(default_factory=list)
    initial_metadata: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class GrpcEndpoint:
    inference_target: str
    """``host:port`` of the gRPC inference API."""
    management_target: str = ""
    inference_token: str | None = None
    management_token: str | None = None
    tls: bool = False
    ca_file: str = ""
    """PEM bundle for private CAs; empty means the system roots (only with ``tls``)."""


def _channel(target: str, tls: bool, ca_file: str) -> grpc.aio.Channel:
    options = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
    if not tls:
        return grpc.aio.insecure_channel(target, options=options)
    roots = Path(ca_file).expanduser().read_bytes() if ca_file else None
    return grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(roots), options=options)


def _pairs(md: Iterable[tuple[str, str | bytes]] | None) -> list[tuple[str, str]]:
    out = []
    for key, value in md or ():
        out.append((key, value.decode("latin-1") if isinstance(value, bytes) else str(value)))
    return out


class TorchServeGRPC:
    """Channels are opened lazily and closed by :meth:`aclose`."""

    def __init__(self, endpoint: GrpcEndpoint, *, deadline: float = 30.0) -> None:
        self.endpoint = endpoint
        self.deadline = deadline
        self._inference: grpc.aio.Channel | None = None
        self._management: grpc.aio.Channel | None = None

    async def aclose(self) -> None:
        for channel in (self._inference, self._management):
            if channel is not None:
                await channel.close()

    async def __aenter__(self) -> TorchServeGRPC:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    def _metadata(self, token: str | None, extra: Iterable[tuple[str, str]] = ()) -> list[tuple[str, str]]:
        md = [(k.lower(), v) for k, v in extra]
        if token and not any(k == "authorization" for k, _ in md):
            md.append(("authorization", f"Bearer {token}"))
        return md

    @property
    def inference(self) -> inference_pb2_grpc.InferenceAPIsServiceStub:
        if self._inference is None:
            e = self.endpoint
            self._inference = _channel(e.inference_target, e.tls, e.ca_file)
        return inference_pb2_grpc.InferenceAPIsServiceStub(self._inference)

    @property
    def management(self) -> management_pb2_grpc.ManagementAPIsServiceStub:
        if self._management is None:
            e = self.endpoint
            self._management = _channel(e.management_target or e.inference_target, e.tls, e.ca_file)
        return management_pb2_grpc.ManagementAPIsServiceStub(self._management)

    # -- inference ---------------------------------------------------------------------------
    async def ping(self) -> str:
        from google.protobuf import empty_pb2

        call = self.inference.Ping(
            empty_pb2.Empty(), metadata=self._metadata(self.endpoint.inference_token), timeout=self.deadline
        )
        try:
            return str((await call).health)
        except grpc.aio.AioRpcError as exc:
            raise rpc_error(exc, self.endpoint.inference_target) from None

    @staticmethod
    def request(
        model: str, inputs: dict[str, bytes], version: str = "", sequence_id: str | None = None
    ) -> Any:
        req = inference_pb2.PredictionsRequest(model_name=model, model_version=version, input=inputs)
        if sequence_id:
            req.sequence_id = sequence_id
        return req

    async def predict(
        self,
        model: str,
        inputs: dict[str, bytes],
        *,
        version: str = "",
        metadata: Iterable[tuple[str, str]] = (),
    ) -> GrpcResult:
        started = time.perf_counter()
        call = self.inference.Predictions(
            self.request(model, inputs, version),
            metadata=self._metadata(self.endpoint.inference_token, metadata),
            timeout=self.deadline,
        )
        try:
            response = await call
            initial = await call.initial_metadata()
            trailers = await call.trailing_metadata()
        except grpc.aio.AioRpcError as exc:
            raise rpc_error(exc, self.endpoint.inference_target) from None
        elapsed = time.perf_counter() - started
        return GrpcResult(
            "Predictions",
            "OK",
            bytes(response.prediction),
            elapsed,
            elapsed,
            trailers=_pairs(trailers),
            initial_metadata=_pairs(initial),
        )

    async def _predictions(self, call: grpc.aio.UnaryStreamCall) -> AsyncIterator[bytes]:
        """The predictions of a server stream, as they arrive; RPC errors become TorchServeError."""
        try:
            async for response in call:
                yield bytes(response.prediction)
        except grpc.aio.AioRpcError as exc:
            raise rpc_error(exc, self.endpoint.inference_target) from None

    async def stream_predict(
        self,
        model: str,
        inputs: dict[str, bytes],
        *,
        version: str = "",
        metadata: Iterable[tuple[str, str]] = (),
    ) -> AsyncIterator[bytes]:
        """``StreamPredictions``: yields each streamed prediction as it arrives.

        Only for handlers that stream (TorchServe kills a worker that does not, docs/torchserve.md).
        """
        call = self.inference.StreamPredictions(
            self.request(model, inputs, version),
            metadata=self._metadata(self.endpoint.inference_token, metadata),
            timeout=self.deadline,
        )
        async for prediction in self._predictions(call):
            yield prediction

    async def stream_predict2(
        self, requests: list[Any], *, metadata: Iterable[tuple[str, str]] = ()
    ) -> AsyncIterator[bytes]:
        """``StreamPredictions2`` (bidirectional, for sequence models only: see docs/torchserve.md)."""
        call = self.inference.StreamPredictions2(
            iter(requests),
            metadata=self._metadata(self.endpoint.inference_token, metadata),
            timeout=self.deadline,
        )
        async for prediction in self._predictions(call):
            yield prediction

    # -- management --------------------------------------------------------------------------
    async def _manage(self, rpc: str, request: ProtoMessage) -> str:
        method = getattr(self.management, rpc)
        target = self.endpoint.management_target or self.endpoint.inference_target
        try:
            response = await method(
                request, metadata=self._metadata(self.endpoint.management_token), timeout=self.deadline
            )
        except grpc.aio.AioRpcError as exc:
            raise rpc_error(exc, target) from None
        return str(response.msg)

    async def describe(self, model: str, version: str = "") -> str:
        return await self._manage(
            "DescribeModel", management_pb2.DescribeModelRequest(model_name=model, model_version=version)
        )

    async def list_models(self, limit: int = 100) -> str:
        # The default limit=0 lists nothing (docs/torchserve.md).
        return await self._manage("ListModels", management_pb2.ListModelsRequest(limit=limit))

    async def register(self, url: str, *, model_name: str = "", initial_workers: int = 1) -> str:
        req = management_pb2.RegisterModelRequest(
            url=url, model_name=model_name, initial_workers=initial_workers, synchronous=True
        )
        return await self._manage("RegisterModel", req)

    async def scale(
        self, model: str, min_worker: int, max_worker: int | None = None, version: str = ""
    ) -> str:
        req = management_pb2.ScaleWorkerRequest(
            model_name=model,
            model_version=version,
            min_worker=min_worker,
            max_worker=max_worker if max_worker is not None else min_worker,
            synchronous=True,
        )
        return await self._manage("ScaleWorker", req)

    async def set_default(self, model: str, version: str) -> str:
        return await self._manage(
            "SetDefault", management_pb2.SetDefaultRequest(model_name=model, model_version=version)
        )

    async def unregister(self, model: str, version: str = "") -> str:
        return await self._manage(
            "UnregisterModel", management_pb2.UnregisterModelRequest(model_name=model, model_version=version)
        )
