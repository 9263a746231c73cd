"""Operations on existing deployments: ``tirui status|scale|restart|rollback|delete|autoscale``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from tirui.cli.deploy import DeployCliError, open_runtime

if TYPE_CHECKING:
    from tirui.cli.parsers import Subparsers
    from tirui.cluster.runtime import Runtime


def add_parsers(sub: Subparsers) -> None:
    s = sub.add_parser("status", help="deployments and their state")
    s.add_argument("name", nargs="?")
    s.add_argument("--json", action="store_true", help="one JSON document: every field, for scripts")
    sc = sub.add_parser("scale", help="set replicas (Kubernetes) or workers (local)")
    sc.add_argument("name")
    sc.add_argument("count", type=int)
    rs = sub.add_parser("restart", help="restart a deployment (a rollout restart on Kubernetes)")
    rs.add_argument("name")
    rb = sub.add_parser("rollback", help="serve the previous model archive again (no downtime)")
    rb.add_argument("name")
    dl = sub.add_parser("delete", help="delete a deployment (only what tirui manages)")
    dl.add_argument("name")
    a = sub.add_parser("autoscale", help="set autoscaling (Kubernetes)")
    a.add_argument("name")
    a.add_argument("--min", type=int, required=True)
    a.add_argument("--max", type=int, required=True)
    a.add_argument(
        "--metric",
        default="cpu",
        metavar="METRIC[=TARGET]",
        help="cpu, gpu, queue-latency-ms, inflight, requests-per-s or a Pods metric, e.g. gpu=80",
    )


def cmd_status(args: argparse.Namespace) -> int:
    from tirui.config import resolve_profile
    from tirui.torchserve.settings import settings_text

    runtime = open_runtime(resolve_profile(args.profile))
    try:
        rows = [runtime.get(args.name)] if args.name else runtime.list()
    except Exception as exc:
        raise DeployCliError(str(exc)) from None
    if args.json:
        import dataclasses
        import json

        docs = [dataclasses.asdict(s) for s in rows]
        print(json.dumps(docs[0] if args.name else docs, indent=2))
        return 0
    print(f"{'NAME':16}{'MODEL':14}{'STATUS':12}{'READY':8}{'RESTARTS':10}{'AGE':6}ENDPOINT")
    for s in rows:
        print(
            f"{s.name:16}{s.model:14}{s.status:12}{f'{s.ready}/{s.desired}':8}{s.restarts:<10}{s.age:6}{s.endpoint}"
        )
        if s.reason and args.name:
            print(f"  reason: {s.reason}")
        if s.version and args.name:
            print(f"  serving: {s.version}")
            print(f"  previous: {s.previous or '(none)'}")
        if s.settings and args.name:
            print(f"  torchserve: {settings_text(s.settings)} (as TorchServe describes it)")
        if s.canary:
            print(f"  {s.canary.text()} (split by {s.canary.split})")
        if s.autoscale and args.name:
            print(f"  autoscale: {s.autoscale}")
        if s.autoscale_problem:
            print(f"  autoscale ⚠ {s.autoscale_problem}")
    return 0


def cmd_scale(args: argparse.Namespace) -> int:
    from tirui.config import resolve_profile
    from tirui.core.errors import RuntimeFailure

    runtime = open_runtime(resolve_profile(args.profile))
    try:
        runtime.scale(args.name, args.count)
    except RuntimeFailure as exc:
        raise DeployCliError(str(exc)) from None
    print(f"{args.name}: {args.count} {runtime.scale_unit}(s)")
    return 0


def _operate(args: argparse.Namespace, call: Callable[[Runtime], object], done: str) -> int:
    """Run one operation on the profile's runtime; its failure is one line on stderr."""
    from tirui.config import resolve_profile
    from tirui.core.errors import RuntimeFailure

    try:
        call(open_runtime(resolve_profile(args.profile)))
    except RuntimeFailure as exc:
        raise DeployCliError(str(exc)) from None
    print(f"{args.name}: {done}")
    return 0


def cmd_restart(args: argparse.Namespace) -> int:
    return _operate(args, lambda rt: rt.restart(args.name), "restarting")


def cmd_rollback(args: argparse.Namespace) -> int:
    from tirui.config import resolve_profile
    from tirui.core.errors import RuntimeFailure
    from tirui.secrets import TokenStore

    runtime = open_runtime(resolve_profile(args.profile), TokenStore.from_env(args.secrets))
    try:
        result = runtime.rollback(args.name)
    except RuntimeFailure as exc:
        raise DeployCliError(str(exc)) from None
    status = result.status
    print(f"{args.name}: now serving {status.version if status else '(unknown)'}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    return _operate(args, lambda rt: rt.delete(args.name), "deleted")


def cmd_autoscale(args: argparse.Namespace) -> int:
    from tirui.cluster.runtime import Autoscalable
    from tirui.config import resolve_profile
    from tirui.core.errors import RuntimeFailure

    runtime = open_runtime(resolve_profile(args.profile))
    if not isinstance(runtime, Autoscalable):
        raise DeployCliError(
            "autoscaling is a Kubernetes feature; locally, scale the workers with tirui scale"
        )
    from tirui.cluster.autoscale import AutoscaleError, parse_metric

    try:
        metric, target = parse_metric(args.metric)
        runtime.autoscale(args.name, args.min, args.max, metric, target)
        warning = runtime.autoscale_warning(metric) if args.max else ""
    except (RuntimeFailure, AutoscaleError) as exc:
        raise DeployCliError(str(exc)) from None
    if warning:
        print(f"{args.name}: warning: {warning}", file=sys.stderr)
    print(
        f"{args.name}: autoscaling {args.min}-{args.max} on {metric}"
        if args.max
        else f"{args.name}: autoscaling off"
    )
    return 0


COMMANDS = {
    "status": cmd_status,
    "scale": cmd_scale,
    "restart": cmd_restart,
    "rollback": cmd_rollback,
    "delete": cmd_delete,
    "autoscale": cmd_autoscale,
}
