"""HTTP and gRPC clients against a real TorchServe (token auth ON, keys from key_file.json)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.torchserve_fixture import RunningTorchServe
from tirui.demo.model import expected_output
from tirui.torchserve.errors import TorchServeError
from tirui.torchserve.grpc import GrpcEndpoint, TorchServeGRPC
from tirui.torchserve.http import Endpoint, TorchServeHTTP

ROOT = Path(__file__).resolve().parents[2]


def http_client(
    ts: RunningTorchServe, *, inference: str | None = None, management: str | None = None
) -> TorchServeHTTP:
    return TorchServeHTTP(
        Endpoint(
            ts.inference_url,
            ts.management_url,
            inference_token=ts.keys.inference if inference is None else inference,
            management_token=ts.keys.management if management is None else management,
        )
    )


def grpc_client(ts: RunningTorchServe, token: str | None = None, deadline: float = 30) -> TorchServeGRPC:
    return TorchServeGRPC(
        GrpcEndpoint(
            f"127.0.0.1:{ts.ports.grpc_inference}",
            f"127.0.0.1:{ts.ports.grpc_management}",
            inference_token=ts.keys.inference if token is None else token,
            management_token=ts.keys.management if token is None else token,
        ),
        deadline=deadline,
    )


async def test_http_predict_returns_the_models_output(torchserve: RunningTorchServe) -> None:
    async with http_client(torchserve) as client:
        assert await client.ping() == "Healthy"
        result = await client.predict("tiny", [1, 1, 1, 1])
        assert result.status == 200 and result.json() == expected_output([1, 1, 1, 1])
        result = await client.predict("tiny", {"data": [0.5, -1, 2, 0]}, version="1.0")
        assert result.json() == pytest.approx(expected_output([0.5, -1, 2, 0]))
        assert result.ttfb <= result.elapsed and result.request_headers["Authorization"].startswith("Bearer ")


@pytest.mark.parametrize("token", ["", "wrong-token"])
async def test_http_bad_token_is_an_auth_error(torchserve: RunningTorchServe, token: str) -> None:
    async with http_client(torchserve, inference=token) as client:
        with pytest.raises(TorchServeError) as info:
            await client.predict("tiny", [1, 1, 1, 1])
        assert info.value.kind == "auth" and info.value.status == 400  # TorchServe says 400, not 401
        raw = await client.send("POST", "inference", "/predictions/tiny", body=b"[1,1,1,1]")
        assert raw.error_kind == "auth" and "token" in (raw.error or "")


@pytest.mark.parametrize("token", ["", "wrong-token"])
async def test_what_a_client_sees_on_a_bad_token_from_torchserve_itself(
    torchserve: RunningTorchServe, token: str
) -> None:
    """The README's table: TorchServe's own token check answers HTTP 400 with an
    InvalidKeyException body (not 401), and gRPC PERMISSION_DENIED "Token Authorization failed"
    (not UNAUTHENTICATED); tirui's proxy answers 401 / UNAUTHENTICATED
    (tests/integration/test_auth_proxy.py)."""
    import grpc
    import httpx

    from tirui.torchserve.protos import inference_pb2, inference_pb2_grpc

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = httpx.post(f"{torchserve.inference_url}/predictions/tiny", content=b"[1,1,1,1]", headers=headers)
    assert r.status_code == 400 and r.json()["type"] == "InvalidKeyException", r.text
    async with grpc.aio.insecure_channel(f"127.0.0.1:{torchserve.ports.grpc_inference}") as channel:
        stub = inference_pb2_grpc.InferenceAPIsServiceStub(channel)
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.Predictions(
                inference_pb2.PredictionsRequest(model_name="tiny", input={"data": b"[1,1,1,1]"}),
                metadata=metadata,
                timeout=30,
            )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED, info.value
    assert "Token Authorization failed" in (info.value.details() or ""), info.value.details()


async def test_http_errors(torchserve: RunningTorchServe) -> None:
    async with http_client(torchserve) as client:
        with pytest.raises(TorchServeError) as info:
            await client.predict("no-such-model", [1, 1, 1, 1])
        assert info.value.kind == "not_found"
        bad = await client.send("POST", "inference", "/predictions/tiny", body=b"{not json")
        assert bad.status >= 400 and bad.error
    refused = TorchServeHTTP(Endpoint("http://127.0.0.1:9"))
    with pytest.raises(TorchServeError) as info:
        await refused.ping()
    assert info.value.kind == "connection" and "127.0.0.1:9" in str(info.value)
    await refused.aclose()


async def test_http_management_scale_and_list(torchserve: RunningTorchServe) -> None:
    async with http_client(torchserve) as client:
        names = {m["modelName"] for m in await client.list_models(page_size=1)}  # forces pagination
        assert names == {"tiny", "stream"}
        assert await client.ready_workers("stream") == 1
        await client.scale("stream", 2)
        described = await client.describe("stream")
        assert len(described[0]["workers"]) == 2
        await client.scale("stream", 1)
        assert len((await client.describe("stream"))[0]["workers"]) == 1
        with pytest.raises(TorchServeError) as info:
            await client.describe("no-such-model")
        assert info.value.kind == "not_found"


async def test_http_streamed_chunks_arrive_one_by_one(torchserve: RunningTorchServe) -> None:
    chunks: list[bytes] = []
    async with http_client(torchserve) as client:
        result = await client.predict("stream", [1, 1, 1, 1], on_chunk=chunks.append)
    lines = [json.loads(line) for line in result.body.decode().splitlines() if line.strip()]
    assert [line["step"] for line in lines] == [0, 1, 2, 3]
    assert lines[-1]["output"] == expected_output([1, 1, 1, 1])
    assert len(chunks) >= 2 and result.chunks == len(chunks)


async def test_http_preview_limit_truncates_but_counts(torchserve: RunningTorchServe) -> None:
    async with http_client(torchserve) as client:
        result = await client.send("GET", "management", "/models", max_body=10)
    assert result.truncated and len(result.body) == 10 and result.total_bytes > 10


async def test_grpc_inference(torchserve: RunningTorchServe) -> None:
    async with grpc_client(torchserve) as client:
        assert "Healthy" in await client.ping()
        result = await client.predict("tiny", {"data": b"[1, 1, 1, 1]"})
        assert json.loads(result.payload) == expected_output([1, 1, 1, 1]) and result.code == "OK"
        streamed = [json.loads(p) async for p in client.stream_predict("stream", {"data": b"[1,1,1,1]"})]
        assert [s["step"] for s in streamed] == [0, 1, 2, 3]


async def test_grpc_errors(torchserve: RunningTorchServe) -> None:
    async with grpc_client(torchserve, token="wrong") as client:
        with pytest.raises(TorchServeError) as info:
            await client.predict("tiny", {"data": b"[1,1,1,1]"})
        assert info.value.kind == "auth"
    async with grpc_client(torchserve) as client:
        with pytest.raises(TorchServeError) as info:
            await client.predict("no-such-model", {"data": b"[1,1,1,1]"})
        assert info.value.kind in ("not_found", "server") and "no-such-model" in str(info.value)
    async with TorchServeGRPC(GrpcEndpoint("127.0.0.1:9"), deadline=5) as dead:
        with pytest.raises(TorchServeError) as info:
            await dead.ping()
        assert info.value.kind in ("connection", "timeout")
    async with grpc_client(torchserve, deadline=0.000001) as client:
        with pytest.raises(TorchServeError) as info:
            await client.predict("tiny", {"data": b"[1,1,1,1]"})
        assert info.value.kind == "timeout"


async def test_grpc_management(torchserve: RunningTorchServe) -> None:
    async with grpc_client(torchserve) as client:
        listed = json.loads(await client.list_models())
        assert {m["modelName"] for m in listed["models"]} == {"tiny", "stream"}
        described = json.loads(await client.describe("tiny"))
        assert described[0]["modelName"] == "tiny"


def test_generated_stubs_are_current() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_protos.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
