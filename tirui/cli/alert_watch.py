"""``tirui alerts --watch`` (the evaluation loop, headless: a tmux pane, a systemd unit, a
terminal left open over the night) and ``tirui alerts --history`` (past firings with start, end
and peak). Both keep the alert book in the data dir, so the TUI's history pane shows the same."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tirui.alerting.notifier import Notifier
from tirui.alerting.service import AlertService

if TYPE_CHECKING:
    from tirui.cluster.runtime import Runtime
    from tirui.config import Profile


def alerts_folder() -> Path:
    from tirui.locations import data_dir

    return data_dir() / "alerts"


def notifier_for(args: argparse.Namespace, rules: Path, profile: Profile) -> Notifier:
    from tirui.secrets import TokenStore

    return Notifier(alerts_folder(), rules, profile.name, TokenStore.from_env(args.secrets))


def service_for(args: argparse.Namespace, rules: Path, profile: Profile) -> AlertService:
    from tirui.secrets import TokenStore

    tokens = TokenStore.from_env(args.secrets)
    backoff = float(args.backoff or 5.0)
    return AlertService(rules, alerts_folder(), profile.name, tokens, backoff_s=backoff)


def watch(args: argparse.Namespace, rules: Path, runtime: Runtime, profile: Profile) -> int:
    """Every ``--interval`` seconds: evaluate, book, deliver; print each transition and
    delivery. Ends on SIGINT/SIGTERM or after ``--rounds`` (exit 0); a rules file that breaks
    meanwhile is said and the loop goes on with the next round."""
    from tirui.metrics.alerts import AlertRuleError

    service = service_for(args, rules, profile)
    if not service.keeps_the_book():
        print(
            f"another tirui keeps the alert book in {alerts_folder()} (a TUI or another --watch) "
            "and sends the notifications; this one takes over when it ends",
            flush=True,
        )

    async def loop() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        print(f"watching {rules} every {args.interval:g}s (ctrl+c ends)", flush=True)
        rounds = 0
        try:
            while not stop.is_set():
                try:
                    lines = (await service.round(runtime, time.time())).lines
                except AlertRuleError as exc:
                    lines = [f"rules: {exc}"]
                except Exception as exc:  # the cluster went away, a scrape failed: say it, go on
                    lines = [f"round failed: {exc}"]
                for line in lines:
                    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)
                rounds += 1
                if args.rounds and rounds >= args.rounds:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), args.interval)
        finally:
            await service.aclose()

    try:
        asyncio.run(loop())
    finally:
        runtime.shutdown()
    return 0


def history(args: argparse.Namespace, rules: Path, profile: Profile) -> int:
    """Past firings, oldest first, then those firing now."""
    notifier = notifier_for(args, rules, profile)
    try:
        events = notifier.history()
    finally:
        notifier.close()
    if args.name:
        events = [e for e in events if e.deployment == args.name]
    if not events:
        print(f"no alert has fired yet (history in {alerts_folder()})")
        return 0
    from tirui.alerting.events import history_lines

    print("\n".join(history_lines(events)))
    return 0
