"""``tirui top [DEPLOYMENT] [--once]``: a refreshing text summary of a deployment's metrics."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import Any


class TopError(Exception):
    """Printed as one line by the CLI."""


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("top", help="live metrics summary of a deployment (like top)")
    p.add_argument("deployment", nargs="?", help="deployment name (default: every deployment)")
    p.add_argument(
        "--once", action="store_true", help="take one sample (two scrapes a second apart) and exit"
    )
    p.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    p.add_argument("--window", type=int, default=60, help="percentile window in seconds (default 60)")


def _fmt(v: float | None, unit: str = "") -> str:
    return "-" if v is None else f"{v:.2f}{unit}"


def summary_lines(name: str, pipeline: Any, window: int) -> list[str]:
    now = time.time()
    q = pipeline.percentiles(window, now)
    lines = [
        f"{name}: {_fmt(pipeline.latest('rps'))} req/s · avg {_fmt(pipeline.latest('latency_avg'), ' ms')} · "
        f"queue {_fmt(pipeline.latest('queue_avg'), ' ms')} · p50 {_fmt(q[0.5], ' ms')} · "
        f"p90 {_fmt(q[0.9], ' ms')} · p99 {_fmt(q[0.99], ' ms')} ({pipeline.percentile_source()}, {window}s)",
        f"  responses/s 2xx {_fmt(pipeline.latest('2xx'))} 4xx {_fmt(pipeline.latest('4xx'))} "
        f"5xx {_fmt(pipeline.latest('5xx'))} · cpu {_fmt(pipeline.latest('cpu'), '%')} "
        f"mem {_fmt(pipeline.latest('mem'), '%')} gpu {_fmt(pipeline.latest('gpu'), '%')}",
    ]
    for rep in pipeline.replicas.values():
        if rep.note and rep.note != "ok":
            lines.append(f"  {rep.name}: {rep.note}")
    return lines


def cmd_top(args: argparse.Namespace) -> int:
    from tirui.cluster.runtime import RuntimeFailure
    from tirui.cluster.targets import runtime_for
    from tirui.config import resolve_profile
    from tirui.metrics.collector import Collector
    from tirui.metrics.series import MetricsPipeline

    profile = resolve_profile(args.profile)
    try:
        runtime = runtime_for(profile, None)
        names = [args.deployment] if args.deployment else [s.name for s in runtime.list()]
        models = {name: runtime.get(name).model for name in names}
    except RuntimeFailure as exc:
        raise TopError(str(exc)) from None
    if not names:
        raise TopError("no deployments (tirui deploy … or the TUI's Deployments screen)")

    async def run() -> None:
        pipes = {n: MetricsPipeline(model=models[n]) for n in names}
        collectors = {n: Collector(pipes[n], backfill=256 * 1024) for n in names}
        try:
            rounds = 0
            while True:
                for n in names:
                    sources = await asyncio.to_thread(runtime.metrics_sources, n)
                    await collectors[n].collect(sources)
                rounds += 1
                if rounds >= 2 or not args.once:
                    out = [line for n in names for line in summary_lines(n, pipes[n], args.window)]
                    if not args.once and sys.stdout.isatty():
                        print("\x1b[H\x1b[2J", end="")
                    print("\n".join(out), flush=True)
                    if args.once:
                        return
                await asyncio.sleep(args.interval)
        finally:
            for c in collectors.values():
                await c.aclose()
            if hasattr(runtime, "shutdown") and not profile.is_local:
                runtime.shutdown()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


COMMANDS = {"top": cmd_top}
