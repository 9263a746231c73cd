"""``tirui top [DEPLOYMENT] [--once]``: a refreshing text summary of a deployment's metrics."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tirui.cli.parsers import Subparsers
    from tirui.metrics.series import MetricsPipeline


class TopError(Exception):
    """Printed as one line by the CLI."""


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("top", help="live metrics summary of a deployment (like top)")
    p.add_argument("deployment", nargs="?", help="deployment name (default: every deployment)")
    p.add_argument(
        "--once", action="store_true", help="take one sample (two scrapes a second apart) and exit"
    )
    p.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    p.add_argument("--window", type=int, default=60, help="percentile window in seconds (default 60)")
    p.add_argument(
        "--json", action="store_true", help="with --once: one JSON object per deployment (for scripts)"
    )


def _fmt(v: float | None, unit: str = "") -> str:
    return "-" if v is None else f"{v:.2f}{unit}"


def summary(name: str, pipeline: MetricsPipeline, window: int, now: float | None = None) -> dict[str, Any]:
    """The numbers of one deployment over the last ``window`` s (``tirui top --once --json``).
    From the access log's inference lines when there are any (gRPC included; probes and scrapes
    never count), else from TorchServe's counters (then without percentiles or protocols)."""
    now = now or time.time()
    log = pipeline.aggregate_log
    q = pipeline.percentiles(window, now)
    if log.seen:
        r = log.rates(window, now)
        rates = {k: r[k] for k in ("rps", "errors", "active", "latency_avg", "2xx", "4xx", "5xx")}
        protocols = log.protocol_summary(window, now)
    else:
        rates = {"rps": pipeline.latest("rps"), "latency_avg": pipeline.latest("latency_avg")}
        protocols = {}
    return {
        "deployment": name,
        "window_s": window,
        "requests_per_s": rates.get("rps"),
        "errors_per_s": rates.get("errors"),
        "responses_per_s": {c: rates.get(c) for c in ("2xx", "4xx", "5xx")},
        "avg_ms": rates.get("latency_avg"),
        "p50_ms": q[0.5],
        "p90_ms": q[0.9],
        "p99_ms": q[0.99],
        "queue_avg_ms": pipeline.latest("queue_avg"),
        "active_requests": rates.get("active"),
        "active_source": "access log (Little's law: busy time / elapsed time)" if log.seen else None,
        "inflight_proxy": pipeline.latest("inflight"),
        "by_protocol": protocols,
        "percentile_source": pipeline.percentile_source(),
        "replicas": {rep.name: rep.note for rep in pipeline.replicas.values()},
    }


def summary_lines(name: str, pipeline: MetricsPipeline, window: int) -> list[str]:
    s = summary(name, pipeline, window)
    lines = [
        f"{name}: {_fmt(s['requests_per_s'])} req/s · avg {_fmt(s['avg_ms'], ' ms')} · "
        f"queue {_fmt(s['queue_avg_ms'], ' ms')} · p50 {_fmt(s['p50_ms'], ' ms')} · "
        f"p90 {_fmt(s['p90_ms'], ' ms')} · p99 {_fmt(s['p99_ms'], ' ms')} "
        f"({s['percentile_source']}, {window}s)",
        f"  responses/s 2xx {_fmt(s['responses_per_s']['2xx'])} 4xx {_fmt(s['responses_per_s']['4xx'])} "
        f"5xx {_fmt(s['responses_per_s']['5xx'])} · active {_fmt(s['active_requests'])} · "
        f"cpu {_fmt(pipeline.latest('cpu'), '%')} mem {_fmt(pipeline.latest('mem'), '%')} "
        f"gpu {_fmt(pipeline.latest('gpu'), '%')}",
    ]
    if s["by_protocol"]:
        lines.append(
            "  by protocol: "
            + " · ".join(
                f"{p} {v['requests']} req p99 {_fmt(v['p99_ms'], ' ms')}" for p, v in s["by_protocol"].items()
            )
        )
    for rep, note in s["replicas"].items():
        if note and note != "ok":
            lines.append(f"  {rep}: {note}")
    return lines


def cmd_top(args: argparse.Namespace) -> int:
    from tirui.cluster.open import open_runtime
    from tirui.config import resolve_profile
    from tirui.core.errors import RuntimeFailure

    profile = resolve_profile(args.profile)
    if args.json and not args.once:
        raise TopError("--json needs --once (one sample for scripts)")
    try:
        runtime = open_runtime(profile, None)
        names = [args.deployment] if args.deployment else [s.name for s in runtime.list()]
        models = {name: runtime.get(name).model for name in names}
    except RuntimeFailure as exc:
        raise TopError(str(exc)) from None
    if not names:
        raise TopError("no deployments (tirui deploy … or the TUI's Deployments screen)")

    from tirui.metrics.sampler import Sampler

    async def run() -> None:
        sampler = Sampler(runtime, models)
        pipes = sampler.pipes
        try:
            rounds = 0
            while True:
                await sampler.round()
                rounds += 1
                if rounds >= 2 and args.once and args.json:
                    print(json.dumps([summary(n, pipes[n], args.window) for n in names], indent=2))
                    return
                if rounds >= 2 or not args.once:
                    out = [line for n in names for line in summary_lines(n, pipes[n], args.window)]
                    out += sampler.sampling
                    if not args.once and sys.stdout.isatty():
                        print("\x1b[H\x1b[2J", end="")
                    print("\n".join(out), flush=True)
                    if args.once:
                        return
                await asyncio.sleep(args.interval)
        finally:
            await sampler.aclose()
            runtime.shutdown()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


COMMANDS = {"top": cmd_top}
