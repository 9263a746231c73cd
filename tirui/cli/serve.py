"""``tirui predict`` and ``tirui bench``: one request, or a load test, against a TorchServe target."""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tirui.cli.parsers import Subparsers
    from tirui.traffic.engine.load import LoadResult


class ServeCliError(Exception):
    """Printed as one line by the CLI."""


def add_parsers(sub: Subparsers) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", default="[1, 1, 1, 1]", help="JSON text, or @file (any bytes)")
    common.add_argument("--grpc", action="store_true", help="use gRPC instead of HTTP")
    common.add_argument("--version", dest="model_version", default="", help="model version")
    common.add_argument("--token", dest="token_name", help="token name in the token store (default: api)")
    common.add_argument("--management-url", default="", help="management API URL (default: the target)")
    common.add_argument("--grpc-target", default="", help="host:port of gRPC inference (default: host:7070)")
    common.add_argument("--ca-file", default="", help="PEM bundle of a private CA")
    common.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    common.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="extra HTTP header, or gRPC metadata with --grpc (repeatable)",
    )

    p = sub.add_parser("predict", parents=[common], help="send one prediction request")
    p.add_argument("target", help="http(s)://host:port, or a deployment name")
    p.add_argument("model", help="model name")
    p.add_argument("-v", "--verbose", action="store_true", help="status, timings and headers on stderr")
    p.add_argument(
        "--stream",
        action="store_true",
        help="gRPC: StreamPredictions, each chunk printed as it arrives (HTTP chunks always are)",
    )

    b = sub.add_parser(
        "bench",
        parents=[common],
        help="load-test a model (like hey), or compare two saved runs",
        description="Closed loop by default (each connection sends when answered); with -q an open "
        "loop: requests start on schedule and their latency counts from it, so a stalling server "
        "shows in p99. Requests are sent from worker processes, one per core unless --workers.",
    )
    b.add_argument("target", nargs="?", help="http(s)://host:port, or a deployment name")
    b.add_argument("model", nargs="?", help="model name")
    b.add_argument("-n", "--requests", type=int, default=200, help="total requests (default 200)")
    b.add_argument("-z", "--duration", type=float, default=None, help="run for SECONDS instead of -n")
    b.add_argument("-c", "--concurrency", type=int, default=8, help="connections / streams (default 8)")
    b.add_argument(
        "-q", "--rate", type=float, default=None, help="open loop: requests/s in total, on schedule"
    )
    b.add_argument("--workers", type=int, default=0, help="worker processes (default: one per core)")
    b.add_argument("--stream", action="store_true", help="gRPC: StreamPredictions (first chunk timed too)")
    b.add_argument("--json", action="store_true", help="print the result as JSON (histogram included)")
    b.add_argument(
        "--compare",
        nargs=2,
        metavar=("A.json", "B.json"),
        help="compare two saved --json runs: throughput and p50/p90/p99, B against A",
    )


def _payload(data: str) -> bytes:
    if data.startswith("@"):
        path = Path(data[1:]).expanduser()
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ServeCliError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        json.loads(data)
    except ValueError as exc:
        raise ServeCliError(f"--data is not valid JSON ({exc}); use @file for other bytes") from None
    return data.encode()


def resolve(args: argparse.Namespace) -> Any:
    from tirui.config import resolve_profile
    from tirui.secrets import TokenStore
    from tirui.traffic.targets import TargetError, resolve_target

    profile = resolve_profile(args.profile)
    store = TokenStore.from_env(args.secrets)
    try:
        return resolve_target(
            args.target,
            profile=profile,
            store=store,
            token_name=args.token_name,
            management_url=args.management_url,
            grpc_target=args.grpc_target,
            verify=args.ca_file or True,
        )
    except TargetError as exc:
        raise ServeCliError(str(exc)) from None


def parse_headers(items: list[str]) -> dict[str, str]:
    """``["Name: value", ...]`` (curl's -H) → a dict; ServeCliError for a malformed one."""
    from tirui.traffic.headers import HeaderError, parse_header

    try:
        return dict(parse_header(item) for item in items)
    except HeaderError as exc:
        raise ServeCliError(f"{exc} (-H 'Name: value')") from None


def _emit(chunk: bytes) -> None:
    """Write a chunk the moment it arrives (a pipe reader sees it at once, not at the end)."""
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()


def cmd_predict(args: argparse.Namespace) -> int:
    from tirui.torchserve.errors import TorchServeError
    from tirui.torchserve.grpc import TorchServeGRPC
    from tirui.torchserve.http import TorchServeHTTP

    body = _payload(args.data)
    headers = parse_headers(args.header)
    target = resolve(args)
    if not args.model_version:  # a local canary takes its share of tirui's own requests
        args.model_version = target.pick_version()
    last = [b""]

    def emit(chunk: bytes) -> None:
        last[0] = chunk
        _emit(chunk)

    async def run() -> None:
        if args.grpc:
            metadata = [(k.lower(), v) for k, v in headers.items()]
            async with TorchServeGRPC(target.grpc, deadline=args.timeout) as g:
                if args.stream:
                    started, count = time.perf_counter(), 0
                    stream = g.stream_predict(
                        args.model, {"data": body}, version=args.model_version, metadata=metadata
                    )
                    async for part in stream:
                        count += 1
                        emit(part)
                    if args.verbose:
                        print(
                            f"gRPC OK: {count} chunk(s) in {(time.perf_counter() - started) * 1000:.1f} ms",
                            file=sys.stderr,
                        )
                    return
                r = await g.predict(args.model, {"data": body}, version=args.model_version, metadata=metadata)
                if args.verbose:
                    print(f"gRPC {r.code} in {r.elapsed * 1000:.1f} ms", file=sys.stderr)
                emit(r.payload)
                return
        async with TorchServeHTTP(target.http, timeout=args.timeout) as h:
            res = await h.predict(
                args.model, body, version=args.model_version or None, on_chunk=emit, headers=headers
            )
            if args.verbose:
                print(
                    f"HTTP {res.status} in {res.elapsed * 1000:.1f} ms (first byte {res.ttfb * 1000:.1f} ms, "
                    f"{res.chunks} chunk(s))",
                    file=sys.stderr,
                )

    try:
        asyncio.run(run())
    except TorchServeError as exc:
        raise ServeCliError(str(exc)) from None
    if not last[0].endswith(b"\n"):
        _emit(b"\n")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from tirui.traffic.loadtest import run_load, spec_for_model

    if args.compare:
        return _compare(*args.compare)
    if not args.target or not args.model:
        raise ServeCliError("bench needs a target and a model (or --compare A.json B.json)")
    if args.stream and not args.grpc:
        raise ServeCliError("--stream is gRPC's StreamPredictions: add --grpc")
    body = _payload(args.data)
    target = resolve(args)
    spec = spec_for_model(
        target,
        args.model,
        body,
        version=args.model_version or "",
        grpc=args.grpc,
        headers=parse_headers(args.header),
    )
    runtime = None
    if not args.model_version and target.canary_version:  # a local canary: follow its weight
        from tirui.cluster.open import open_runtime
        from tirui.config import resolve_profile
        from tirui.secrets import TokenStore

        runtime = open_runtime(resolve_profile(args.profile), TokenStore.from_env(args.secrets))
        spec.with_canary(target, follow=functools.partial(runtime.target, args.target))
    spec.requests = None if args.duration else args.requests
    spec.duration = args.duration
    spec.concurrency = args.concurrency
    spec.rate = args.rate
    spec.timeout = args.timeout
    spec.workers = args.workers
    spec.stream = args.stream
    try:
        spec.validate()
    except ValueError as exc:
        raise ServeCliError(str(exc)) from None

    def progress(r: LoadResult) -> None:
        if sys.stderr.isatty():
            print(f"\r{r.count} requests, {r.rps:.0f} req/s, {r.errors} errors", end="", file=sys.stderr)

    from tirui.traffic.engine.pool import EngineError

    try:
        result = asyncio.run(run_load(spec, progress=progress))
    except KeyboardInterrupt:
        raise ServeCliError("interrupted") from None
    except EngineError as exc:
        raise ServeCliError(str(exc)) from None
    finally:
        if runtime is not None:
            runtime.shutdown()
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if args.json:
        print(result.to_json())
    else:
        print(format_result(result))
    return 0 if result.ok else 1


def format_result(result: LoadResult) -> str:
    s = result.summary()
    lat = s["latency_ms"]
    mode = f"open loop at {s['rate']:g} req/s" if s["mode"] == "open" else "closed loop"
    lines = [
        f"Requests:   {s['requests']} in {s['elapsed_s']:.2f} s  ({s['rps']:.1f} req/s)",
        f"Load:       {mode}, {s['concurrency']} connections, {s['workers']} worker process(es)",
        f"OK/errors:  {s['ok']} / {s['errors']}",
        f"Latency:    p50 {lat['p50']:.2f} ms  p90 {lat['p90']:.2f} ms  p99 {lat['p99']:.2f} ms  "
        f"max {lat['max']:.2f} ms",
    ]
    if "first_chunk_ms" in s:
        first = s["first_chunk_ms"]
        lines.append(
            f"1st chunk:  p50 {first['p50']:.2f} ms  p90 {first['p90']:.2f} ms  p99 {first['p99']:.2f} ms"
        )
    lines.append("Statuses:   " + ", ".join(f"{k}: {v}" for k, v in sorted(s["statuses"].items())))
    return "\n".join(lines)


def _load_saved(path: str) -> Any:
    from tirui.traffic.engine.load import LoadResult

    try:
        doc = json.loads(Path(path).expanduser().read_text())
    except OSError as exc:
        raise ServeCliError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ServeCliError(f"{path} is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ServeCliError(f"{path}: not a tirui load test result (a JSON object from bench --json)")
    try:
        return LoadResult.from_summary(doc)
    except ValueError as exc:
        raise ServeCliError(f"{path}: {exc}") from None


def _compare(path_a: str, path_b: str) -> int:
    from tirui.traffic.loadtest import compare

    rows = compare(_load_saved(path_a), _load_saved(path_b))
    print(f"A: {path_a}\nB: {path_b}\n")
    print(f"{'':18} {'A':>12} {'B':>12}  change (B against A)")
    for what, a, b, change in rows:
        print(f"{what:18} {a:>12.2f} {b:>12.2f}  {change}")
    return 0


COMMANDS = {"predict": cmd_predict, "bench": cmd_bench}
