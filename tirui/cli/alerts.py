"""``tirui alerts``: which alert rules fire now (exit 1 while any does, for scripts and cron);
``--watch``: the evaluation loop that notifies the channels of ``alerts.toml``; ``--history``:
past firings; ``--render``: the same rules as a PrometheusRule for clusters that run the
Prometheus operator."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tirui.cli.parsers import Subparsers
    from tirui.metrics.alerts import Rule


class AlertsError(Exception):
    """One line on stderr, exit 1."""


def add_parsers(sub: Subparsers) -> None:
    a = sub.add_parser(
        "alerts", help="alert rules firing now (exit 1 while any fires); --render: PrometheusRule"
    )
    a.add_argument("name", nargs="?", help="only this deployment")
    a.add_argument("--rules", default="", help="rules file (default: alerts.toml in the config dir)")
    a.add_argument(
        "--render", action="store_true", help="print the rules as a PrometheusRule; no metrics read"
    )
    a.add_argument("--namespace", default=None, help="with --render: default the profile's namespace")
    a.add_argument(
        "--watch",
        action="store_true",
        help="evaluate every --interval and notify the [[channel]]s of the rules file when an alert "
        "starts firing and when it resolves (until ctrl+c)",
    )
    a.add_argument("--interval", type=float, default=10.0, help="with --watch: seconds between rounds")
    a.add_argument(
        "--backoff", type=float, default=5.0, help="with --watch: first retry after a failed delivery, s"
    )
    a.add_argument("--history", action="store_true", help="past firings: start, end and peak")
    a.add_argument(
        "--rounds", type=int, default=0, help="with --watch: end after this many rounds (0: never)"
    )
    a.add_argument(
        "--render-job",
        action="store_true",
        help="print a CronJob (with its ServiceAccount, read-only Role, ConfigMap and disk) that runs "
        "the alert rounds in the profile's namespace",
    )
    a.add_argument("--image", default="", help="with --render-job: an image with tirui installed")
    a.add_argument("--schedule", default="* * * * *", help="with --render-job: the CronJob's schedule")
    a.add_argument(
        "--kube-version",
        default=None,
        metavar="1.MINOR",
        help="with --render-job: the API versions that Kubernetes version serves (default: the "
        "profile's kube_version, else the newest)",
    )


def rules_path(given: str) -> Path:
    from tirui.locations import config_dir

    return Path(given).expanduser() if given else config_dir() / "alerts.toml"


def cmd_alerts(args: argparse.Namespace) -> int:
    from tirui.cluster.open import open_runtime
    from tirui.config import resolve_profile
    from tirui.core.errors import RuntimeFailure
    from tirui.metrics.alerts import AlertRuleError, firing, load_rules
    from tirui.metrics.sampler import Sampler

    path = rules_path(args.rules)
    if args.history:
        from tirui.cli.alert_watch import history

        return history(args, path, resolve_profile(args.profile))
    if args.interval <= 0 or args.backoff <= 0 or args.rounds < 0:
        raise AlertsError("--interval and --backoff are seconds, more than 0; --rounds is 0 or more")
    if args.render_job:
        return _render_job(args, path)
    try:
        rules = load_rules(path)
        if args.watch:
            from tirui.alerting.notifier import load_channels

            load_channels(path)  # a broken channel is said before the loop starts
    except AlertRuleError as exc:
        raise AlertsError(str(exc)) from None
    if not rules:
        print(f"no alert rules in {path} (one [[alert]] table per rule: deployment, kind, above, for)")
        return 0
    profile = resolve_profile(args.profile)
    if args.render and not any(r.deployment == "*" for r in rules):  # the rules name them all
        names = [args.name] if args.name else sorted({r.deployment for r in rules})
        return _render(rules, names, args.namespace or profile.kubernetes.namespace)
    if args.watch:
        from tirui.cli.alert_watch import watch
        from tirui.secrets import TokenStore

        try:
            runtime = open_runtime(profile, TokenStore.from_env(args.secrets))
        except RuntimeFailure as exc:
            raise AlertsError(str(exc)) from None
        return watch(args, path, runtime, profile)
    try:
        runtime = open_runtime(profile, None)
        statuses = {s.name: s for s in runtime.list() if not args.name or s.name == args.name}
    except RuntimeFailure as exc:
        raise AlertsError(str(exc)) from None
    if args.render:
        runtime.shutdown()
        return _render(rules, sorted(statuses), args.namespace or profile.kubernetes.namespace)
    if args.name and args.name not in statuses:
        raise AlertsError(f"no deployment named {args.name!r}")

    async def sample() -> dict[str, Any]:
        sampler = Sampler(runtime, {n: s.model for n, s in statuses.items()})
        try:
            for i in range(2):  # the second round has rates; the logs' history fills the windows
                if i:
                    await asyncio.sleep(1.0)
                await sampler.round()
            return sampler.pipes
        finally:
            await sampler.aclose()

    try:
        pipes = asyncio.run(sample()) if statuses else {}
    finally:
        runtime.shutdown()
    now = time.time()
    alerts = [a for n, s in statuses.items() for a in firing(rules, n, pipes[n], s, now)]
    for alert in alerts:
        print(f"FIRING {alert.line()}")
    if not alerts:
        print(f"no alert fires ({len(rules)} rule(s), {len(statuses)} deployment(s))")
    return 1 if alerts else 0


def _render(rules: list[Rule], names: list[str], namespace: str) -> int:
    from tirui.cluster.manifests.build import to_yaml
    from tirui.metrics.alerts import prometheus_rule

    print(to_yaml([prometheus_rule(rules, names, namespace)]), end="")
    return 0


def _render_job(args: argparse.Namespace, path: Path) -> int:
    from tirui.alerting.notifier import load_channels
    from tirui.cli.deploy import DeployCliError, for_kube_version
    from tirui.cluster.manifests.alert_job import alert_job
    from tirui.cluster.manifests.build import to_yaml
    from tirui.config import resolve_profile
    from tirui.metrics.alerts import AlertRuleError, load_rules

    if not args.image:
        raise AlertsError("--render-job needs --image: an image with tirui installed (pip install tirui)")
    try:
        text = path.read_text()
        load_rules(path)
        load_channels(path)
    except FileNotFoundError:
        raise AlertsError(f"no rules file {path}: the job runs its rules and channels") from None
    except AlertRuleError as exc:
        raise AlertsError(str(exc)) from None
    profile = resolve_profile(args.profile)
    k = profile.kubernetes
    objects = alert_job(
        namespace=args.namespace or k.namespace,
        image=args.image,
        profile=profile.name,
        rules_text=text,
        prometheus_url=k.prometheus_url,
        schedule=args.schedule,
    )
    try:
        shown = for_kube_version(objects, args.kube_version, profile)
    except DeployCliError as exc:
        raise AlertsError(str(exc)) from None
    print(to_yaml(shown), end="")
    return 0


COMMANDS = {"alerts": cmd_alerts}
