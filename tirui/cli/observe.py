"""``tirui logs`` and ``tirui events``: what the Deployments screen's ``l`` and ``e`` show, for
scripts and for terminals without the TUI (kubectl habits: ``-f``, ``--since``, ``--tail``)."""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING

from tirui.cli.deploy import DeployCliError, open_runtime

if TYPE_CHECKING:
    from tirui.cli.parsers import Subparsers

STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})")
DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def add_parsers(sub: Subparsers) -> None:
    lg = sub.add_parser("logs", help="a deployment's TorchServe logs (every pod on Kubernetes)")
    lg.add_argument("name")
    lg.add_argument("-f", "--follow", action="store_true", help="keep printing new lines (ctrl+c stops)")
    lg.add_argument("--pod", default="", help="only this pod's lines (Kubernetes)")
    lg.add_argument("--since", default="", metavar="DURATION", help="only lines of the last 10s, 5m, 2h, 1d")
    lg.add_argument("--tail", type=int, default=200, help="lines of history to start with (default 200)")
    ev = sub.add_parser(
        "events", help="what happened to a deployment (Kubernetes events; local starts, exits)"
    )
    ev.add_argument("name")


def seconds(text: str) -> float:
    m = DURATION.match(text.strip())
    if m is None:
        raise DeployCliError(f"--since {text!r}: write a duration such as 30s, 10m, 2h or 1d")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


class LineFilter:
    """Keeps the lines of one pod and/or newer than a moment. A line without a timestamp (a
    traceback's continuation) goes with the line before it."""

    def __init__(self, pod: str, since: float | None) -> None:
        self.pod, self.since = pod, since
        self._keep_unstamped = since is None

    def __call__(self, line: str) -> bool:
        if self.pod and not line.startswith(f"[{self.pod}]"):
            return False
        if self.since is None:
            return True
        m = STAMP.search(line)
        if m is None:
            return self._keep_unstamped
        try:
            at = datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}").timestamp()
        except ValueError:
            return self._keep_unstamped
        self._keep_unstamped = at >= self.since
        return self._keep_unstamped


def _print(lines: list[str]) -> None:
    if lines:
        sys.stdout.write("".join(f"{line}\n" for line in lines))
        sys.stdout.flush()


def cmd_logs(args: argparse.Namespace) -> int:
    from tirui.config import resolve_profile
    from tirui.core.errors import RuntimeFailure

    runtime = open_runtime(resolve_profile(args.profile))
    keep = LineFilter(args.pod, time.time() - seconds(args.since) if args.since else None)
    try:
        if not args.follow:
            _print([line for line in runtime.logs(args.name, args.tail) if keep(line)])
            return 0
        runtime.get(args.name)  # a clear "no deployment" before following nothing
        follower = runtime.follow_logs(args.name)
    except RuntimeFailure as exc:
        raise DeployCliError(str(exc)) from None
    try:
        _print([line for line in follower.lines() if keep(line)][-args.tail :] if args.tail else [])
        seen = follower.appended
        while True:
            time.sleep(0.5)
            new, seen = follower.since(seen)
            _print([line for line in new if keep(line)])
    except KeyboardInterrupt:
        return 0
    finally:
        follower.close()


def cmd_events(args: argparse.Namespace) -> int:
    from tirui.config import resolve_profile
    from tirui.core.errors import RuntimeFailure

    runtime = open_runtime(resolve_profile(args.profile))
    try:
        events = runtime.events(args.name)
    except RuntimeFailure as exc:
        raise DeployCliError(str(exc)) from None
    _print([f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(at))}  {text}" for at, text in events])
    return 0


COMMANDS = {"logs": cmd_logs, "events": cmd_events}
