"""``tirui canary``: a new archive beside the serving one with a share of the traffic, judged
step by step (``--steps …``) or moved by hand (``--weight``, ``--promote``, ``--abort``)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from tirui.cli.deploy import DeployCliError, open_runtime

if TYPE_CHECKING:
    from tirui.canary.policy import Policy
    from tirui.cli.parsers import Subparsers
    from tirui.cluster.runtime import Runtime

PROMOTING = "the stable side takes its archive; the canary goes once that has rolled out"
ANALYSIS_FLAGS = (
    "steps",
    "max_p99_ratio",
    "max_error_rate",
    "interval",
    "min_requests",
    "p99_slack_ms",
    "failures",
)


def add_parsers(sub: Subparsers) -> None:
    c = sub.add_parser(
        "canary",
        help="run a new archive beside the serving one with a share of traffic; promote or abort",
        description=(
            "Without NEW.mar: show the canary, or change it (--weight, --promote, --abort, --analyze). "
            "With analysis flags the command stays in the foreground, raises the weight step by step "
            "and promotes (exit 0) or rolls back (exit 1) by itself; every decision goes into the "
            "deployment's events. Locally both versions run in one TorchServe and tirui's own "
            "clients (Playground, bench, predict) split their traffic; on Kubernetes an "
            "ingress-nginx canary Ingress splits all of it (REST and gRPC)."
        ),
    )
    c.add_argument("name")
    c.add_argument("source", nargs="?", metavar="NEW.mar", help="eos://bucket/key.mar (or a local path)")
    c.add_argument("--weight", help="the canary's traffic share in %% (default 10, or the first step)")
    what = c.add_mutually_exclusive_group()
    what.add_argument("--promote", action="store_true", help="make the canary the serving version")
    what.add_argument("--abort", action="store_true", help="remove the canary; stable serves everything")
    what.add_argument("--analyze", action="store_true", help="judge the running canary step by step")
    c.add_argument("--steps", help="traffic percentages to pass through, e.g. 10,25,50,100")
    c.add_argument("--max-p99-ratio", type=float, help="canary p99 / stable p99 allowed (default 1.2)")
    c.add_argument("--max-error-rate", help="canary server-error rate allowed, e.g. 1%% (default 1%%)")
    c.add_argument("--interval", help="time per step before it is judged, e.g. 60s (default 60s)")
    c.add_argument("--failures", type=int, help="failed checks in a row that roll back (default 2)")
    c.add_argument("--min-requests", type=int, help="requests each side needs per step (default 50)")
    c.add_argument("--p99-slack-ms", type=float, help="p99 difference always tolerated, ms (default 5)")


def policy_from(args: argparse.Namespace) -> Policy:
    from tirui.canary.policy import Policy, parse_interval, parse_rate, parse_steps

    fields: dict[str, Any] = {}
    try:
        if args.steps:
            fields["steps"] = parse_steps(args.steps)
        if args.max_p99_ratio is not None:
            fields["max_p99_ratio"] = args.max_p99_ratio
        if args.max_error_rate:
            fields["max_error_rate"] = parse_rate(args.max_error_rate)
        if args.interval:
            fields["interval_s"] = parse_interval(args.interval)
        if args.min_requests is not None:
            fields["min_requests"] = args.min_requests
        if args.failures is not None:
            fields["failures"] = args.failures
        if args.p99_slack_ms is not None:
            fields["p99_slack_ms"] = args.p99_slack_ms
    except ValueError as exc:
        raise DeployCliError(str(exc)) from None
    policy = Policy(**fields)
    problems = policy.problems()
    if problems:
        raise DeployCliError("; ".join(problems.values()))
    return policy


def _runtime(args: argparse.Namespace) -> Runtime:
    from tirui.config import resolve_profile
    from tirui.secrets import TokenStore

    return open_runtime(resolve_profile(args.profile), TokenStore.from_env(args.secrets))


def cmd_canary(args: argparse.Namespace) -> int:
    from tirui.canary.policy import parse_weight
    from tirui.core.errors import RuntimeFailure

    runtime = _runtime(args)
    analyze = args.analyze or any(getattr(args, f) is not None for f in ANALYSIS_FLAGS)
    policy = policy_from(args) if analyze else None
    try:
        if args.promote or args.abort:
            if args.source:
                raise DeployCliError("--promote/--abort take no archive")
            current = runtime.canary_status(args.name)
            if args.promote and current is not None:
                print(f"{args.name}: promoting {current.version}: {PROMOTING}", flush=True)
            (runtime.canary_promote if args.promote else runtime.canary_abort)(args.name)
            runtime.canary_record(args.name, f"canary {'promoted' if args.promote else 'aborted'} by hand")
            print(f"{args.name}: canary {'promoted' if args.promote else 'aborted'}")
            return 0
        if args.source:
            first = policy.steps[0] if policy else 10
            weight = parse_weight(args.weight) if args.weight is not None else first
            status = runtime.canary_start(
                args.name,
                args.source,
                weight,
                policy.describe() if policy else "",
            )
            print(f"{args.name}: {status.text()} (split by {status.split})")
            if policy is None:
                return 0
        elif args.weight is not None:
            runtime.canary_weight(args.name, parse_weight(args.weight))
            runtime.canary_record(args.name, f"canary weight set to {parse_weight(args.weight)}% by hand")
        current = runtime.canary_status(args.name)
        if current is None:
            if policy is not None:
                raise DeployCliError(f"{args.name} has no canary to analyze: give the new archive too")
            print(f"{args.name}: no canary")
            return 0
        if policy is None:
            print(f"{args.name}: {current.text()}")
            return 0
        return _analyze(runtime, args.name, policy)
    except (RuntimeFailure, ValueError) as exc:
        raise DeployCliError(str(exc)) from None


def _analyze(runtime: Runtime, name: str, policy: Policy) -> int:
    from tirui.canary.analysis import analyze

    def report(text: str) -> None:
        print(f"{name}: {text}", flush=True)

    try:
        outcome = analyze(runtime, name, policy, report=report)
    except KeyboardInterrupt:
        status = runtime.canary_status(name)
        where = f"stays at {status.weight}%" if status else "is gone"
        print(
            f"tirui: analysis interrupted: the canary {where}; "
            f"tirui canary {name} --promote|--abort|--analyze",
            file=sys.stderr,
        )
        return 130
    if outcome.kind == "rolled back":
        print(f"tirui: canary rolled back: {outcome.text}", file=sys.stderr)
        return 1
    if outcome.kind == "ended elsewhere":
        print(f"{name}: {outcome.text}")
    return 0


COMMANDS = {"canary": cmd_canary}
