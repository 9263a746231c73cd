"""The load engine's gRPC side (its own HTTP/2 client) against gRPC's C-core server and nginx.

Behaviour, not speed (``benchmarks/engine_grpc.py`` has the numbers): counts add up across
workers, statuses by kind as gRPC names them, messages larger than HTTP/2's default windows both
ways, streams' first chunks timed, TLS with ALPN, and the HPACK this side writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hpack import Decoder, Encoder

from tests.support.grpc_target import GAP, SLOW, TOKEN, GrpcTarget
from tests.support.http_target import HttpTarget
from tests.support.servers import free_port
from tirui.traffic.engine.grpc_wire import grpc_address, header_block
from tirui.traffic.engine.hpack_read import BlockReader, HpackError
from tirui.traffic.engine.load import LoadSpec
from tirui.traffic.loadtest import run_load


@pytest.fixture(scope="module")
def target() -> Iterator[GrpcTarget]:
    with GrpcTarget() as t:
        yield t


def spec(url: str, model: str = "tiny", **kw: object) -> LoadSpec:
    s = LoadSpec(protocol="grpc", url=url, model=model, body=b"[1, 1, 1, 1]", requests=20, concurrency=4)
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def test_targets_and_the_request_header_block() -> None:
    assert grpc_address("127.0.0.1:7070", False) == ("127.0.0.1", 7070)
    assert grpc_address("dns:///model.example.com", True) == ("model.example.com", 443)
    assert grpc_address("[::1]:7070", False) == ("::1", 7070)
    for bad in ("", "host:port", "a b:1", "http://x:1", "x:0", "[::1]x"):
        with pytest.raises(ValueError):
            grpc_address(bad, False)
    long = "Bearer " + "t" * 300  # lengths past HPACK's 7-bit prefix
    block = header_block("/svc/Predictions", "h:1", True, {"Authorization": long}, 2.5)
    fields = Decoder().decode(block)
    assert fields[:4] == [
        (":method", "POST"),
        (":scheme", "https"),
        (":path", "/svc/Predictions"),
        (":authority", "h:1"),
    ]
    assert (
        ("authorization", long) in fields
        and ("grpc-timeout", "2500m") in fields
        and ("te", "trailers") in fields
    )


def test_header_blocks_read_as_hpack_writes_them() -> None:
    """Huffman strings, incremental indexing, eviction and table size updates, block after block
    on one connection's state, as the ``hpack`` package's own encoder writes them."""
    encoder, reader = Encoder(), BlockReader()
    for i in range(400):
        if i == 150:
            encoder.header_table_size = 256  # a size update, then heavy eviction
        if i == 300:
            encoder.header_table_size = 4096
        fields = [(":status", "200"), ("content-type", "application/grpc"), (f"x-{i % 7}", "v" * (i % 90))]
        if i % 3:
            fields.append(("grpc-status", str(i % 17)))
        block = encoder.encode(fields)
        assert reader.read(block) == [(k.encode(), v.encode()) for k, v in fields]
    for bad in (
        b"\xff",
        b"\x80",
        b"\xfe\xff\xff\xff\xff\xff\x0f",
        b"\x00\x05ab",
        b"\x3f\xe2\x1f",
        b"\x00\x81\xff",
    ):
        with pytest.raises(HpackError):
            BlockReader().read(bad)


async def test_counts_add_up_exactly_across_workers(target: GrpcTarget) -> None:
    before = target.count()
    result = await run_load(spec(target.url, requests=1001, concurrency=7, workers=3))
    assert result.workers == 3 and result.statuses == {"OK": 1001} and result.ok == 1001
    assert target.count() - before == 1001
    assert result.bytes_received >= 1001 * len(b"[10.5, -10.5]")


async def test_statuses_are_counted_by_kind(target: GrpcTarget) -> None:
    assert (await run_load(spec(target.url, "missing"))).statuses == {"NOT_FOUND": 20}
    assert (await run_load(spec(target.url, "auth"))).statuses == {"UNAUTHENTICATED": 20}
    assert (await run_load(spec(target.url, "auth", token=TOKEN))).statuses == {"OK": 20}
    slow = await run_load(spec(target.url, "slow", requests=4, concurrency=2, timeout=0.5))
    assert slow.statuses == {"DEADLINE_EXCEEDED": 4}
    refused = await run_load(spec(f"127.0.0.1:{free_port()}", requests=6, concurrency=2))
    assert refused.statuses == {"UNAVAILABLE": 6}
    with HttpTarget() as http1:  # HTTP/1.1 answers the preface; gRPC says UNAVAILABLE too
        not_h2 = await run_load(spec(http1.url.removeprefix("http://"), requests=6, concurrency=2))
    assert not_h2.statuses == {"UNAVAILABLE": 6}


async def test_messages_larger_than_the_windows_go_both_ways(target: GrpcTarget) -> None:
    """HTTP/2 starts every window at 64 KiB: a 3 MB request waits for the server's updates, and
    3 MB answers need this side's."""
    body = bytes(range(256)) * (3 * 2**20 // 256)
    result = await run_load(spec(target.url, "echo", body=body, requests=6, concurrency=3))
    assert result.statuses == {"OK": 6}
    assert result.bytes_received >= 6 * len(body)


async def test_a_stream_times_its_first_chunk(target: GrpcTarget) -> None:
    result = await run_load(spec(target.url, stream=True, requests=8, concurrency=4, workers=1))
    assert result.statuses == {"OK": 8} and result.first_chunk.total == 8
    # Three chunks GAP apart: the first comes at least one GAP before the end of its stream.
    assert result.first_chunk.quantile(0.99) + GAP <= result.percentile(1)


async def test_calls_past_the_servers_stream_limit_wait_for_a_stream() -> None:
    with GrpcTarget(max_streams=3) as limited:
        result = await run_load(spec(limited.url, "slow", requests=9, concurrency=9, workers=1))
        assert result.statuses == {"OK": 9}
        # Three at a time, each SLOW: the last three waited for two rounds before them.
        assert result.max_latency >= 3 * SLOW


async def test_tls_with_alpn_checks_the_certificate(tmp_path: Path) -> None:
    with GrpcTarget(tls=tmp_path) as tls:
        cert = str(tmp_path / "cert.pem")
        assert (await run_load(spec(tls.url, tls=True, verify=cert))).statuses == {"OK": 20}
        assert (await run_load(spec(tls.url, tls=True, verify=False))).statuses == {"OK": 20}
        assert (await run_load(spec(tls.url, tls=True, verify=True))).statuses == {"UNAVAILABLE": 20}
        assert (await run_load(spec(tls.url))).ok == 0  # plaintext HTTP/2 to a TLS port
