"""``tirui predict`` and ``tirui bench``: one request, or a load test, against a TorchServe target."""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys
import time
from pathlib import Path
from typing import Any


class ServeCliError(Exception):
    """Printed as one line by the CLI."""


def add_parsers(sub: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("target", help="http(s)://host:port, or a deployment name")
    common.add_argument("model", help="model name")
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
    p.add_argument("-v", "--verbose", action="store_true", help="status, timings and headers on stderr")
    p.add_argument(
        "--stream",
        action="store_true",
        help="gRPC: StreamPredictions, each chunk printed as it arrives (HTTP chunks always are)",
    )

    b = sub.add_parser("bench", parents=[common], help="load-test a model (like hey)")
    b.add_argument("-n", "--requests", type=int, default=200, help="total requests (default 200)")
    b.add_argument("-z", "--duration", type=float, default=None, help="run for SECONDS instead of -n")
    b.add_argument("-c", "--concurrency", type=int, default=8, help="concurrent workers (default 8)")
    b.add_argument("-q", "--rate", type=float, default=None, help="rate limit, requests/s in total")
    b.add_argument("--json", action="store_true", help="print the result as JSON")


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
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
            raise ServeCliError(f"{item!r} is not a header: write -H 'Name: value'")
        out[name.strip()] = value.strip()
    return out


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
    from tirui.traffic.loadtest import LoadSpec, run_load

    body = _payload(args.data)
    target = resolve(args)
    if args.grpc:
        spec = LoadSpec(
            protocol="grpc",
            url=target.grpc.inference_target,
            model=args.model,
            body=body,
            token=target.grpc.inference_token,
            tls=target.grpc.tls,
        )
    else:
        path = f"/predictions/{args.model}" + (f"/{args.model_version}" if args.model_version else "")
        spec = LoadSpec(
            url=target.http.inference_url + path,
            body=body,
            headers={"Content-Type": "application/json", **parse_headers(args.header)},
            token=target.http.inference_token,
        )
    runtime = None
    if not args.model_version and target.canary_version:  # a local canary: follow its weight
        from tirui.cluster.targets import runtime_for
        from tirui.config import resolve_profile
        from tirui.secrets import TokenStore

        runtime = runtime_for(resolve_profile(args.profile), TokenStore.from_env(args.secrets))
        spec.with_canary(target, follow=functools.partial(runtime.target, args.target))
    spec.requests = None if args.duration else args.requests
    spec.duration = args.duration
    spec.concurrency = args.concurrency
    spec.rate = args.rate
    spec.timeout = args.timeout
    try:
        spec.validate()
    except ValueError as exc:
        raise ServeCliError(str(exc)) from None

    def progress(r: Any) -> None:
        if sys.stderr.isatty():
            print(f"\r{r.count} requests, {r.rps:.0f} req/s, {r.errors} errors", end="", file=sys.stderr)

    try:
        result = asyncio.run(run_load(spec, progress=progress))
    except KeyboardInterrupt:
        raise ServeCliError("interrupted") from None
    finally:
        if runtime is not None:
            runtime.shutdown(keep_running=True)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if args.json:
        print(result.to_json())
    else:
        print(format_result(result))
    return 0 if result.ok else 1


def format_result(result: Any) -> str:
    s = result.summary()
    lat = s["latency_ms"]
    lines = [
        f"Requests:   {s['requests']} in {s['elapsed_s']:.2f} s  ({s['rps']:.1f} req/s)",
        f"OK/errors:  {s['ok']} / {s['errors']}",
        f"Latency:    p50 {lat['p50']:.2f} ms  p90 {lat['p90']:.2f} ms  p99 {lat['p99']:.2f} ms  "
        f"max {lat['max']:.2f} ms",
        "Statuses:   " + ", ".join(f"{k}: {v}" for k, v in sorted(s["statuses"].items())),
    ]
    return "\n".join(lines)


COMMANDS = {"predict": cmd_predict, "bench": cmd_bench}
