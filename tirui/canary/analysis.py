"""The step analysis: raise the canary's weight step by step while it holds up against the
stable side, roll it back the moment it does not, promote it after the last step.

It runs where tirui runs (``tirui canary`` in the foreground, or a worker of the TUI): the
cluster keeps the canary at its current weight if that process goes away, and ``tirui canary
NAME --promote|--abort`` (or the analysis started again) takes it from there. Every decision,
with its numbers, goes into the deployment's events (:meth:`CanaryControl.canary_record`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from tirui.canary.control import CanaryControl
from tirui.canary.feed import Entries, SideFeed
from tirui.canary.judge import SideStats, Verdict, judge
from tirui.canary.policy import Policy


@dataclass
class Outcome:
    kind: Literal["promoted", "rolled back", "stopped", "ended elsewhere"]
    text: str
    verdicts: list[Verdict] = field(default_factory=list)


@dataclass
class Progress:
    """What the analysis is doing now (for a live display)."""

    step: int
    steps: int
    weight: int
    stable: SideStats
    canary: SideStats
    waiting: str = ""


def analyze(
    control: CanaryControl,
    name: str,
    policy: Policy,
    *,
    stop: threading.Event | None = None,
    report: Callable[[str], None] = lambda _text: None,
    progress: Callable[[Progress], None] = lambda _p: None,
    poll_s: float = 1.0,
) -> Outcome:
    """Run the steps of ``policy`` on ``name``'s canary until it is promoted or rolled back (or
    ``stop`` is set: the canary then stays at its weight). ``report`` gets each decision's line."""
    stop = stop or threading.Event()
    verdicts: list[Verdict] = []

    def record(text: str, *, warning: bool = False) -> None:
        control.canary_record(name, text, warning=warning)
        report(text)

    feed = control.canary_feed(name)
    try:
        baseline: SideStats | None = None
        for index, weight in enumerate(policy.steps, 1):
            control.canary_weight(name, weight)
            record(f"canary step {index}/{len(policy.steps)}: {weight}% of traffic ({policy.describe()})")
            feed.take()  # what came before this weight is not this step's
            failed = 0
            while True:
                checked = _check(
                    control, name, policy, feed, index, weight, baseline, stop, report, progress, poll_s
                )
                if checked is None:
                    return Outcome("stopped", f"analysis stopped: the canary stays at {weight}%", verdicts)
                if isinstance(checked, str):
                    return Outcome("ended elsewhere", checked, verdicts)
                verdict, baseline = checked
                verdicts.append(verdict)
                if verdict.kind == "pass":
                    break
                failed += 1
                if failed >= policy.failures:
                    record(f"canary rolled back at {weight}%: {verdict.text}", warning=True)
                    control.canary_abort(name)
                    return Outcome("rolled back", verdict.text, verdicts)
                record(f"canary check failed at {weight}% ({failed} of {policy.failures}): {verdict.text}")
            record(f"canary passed {weight}%: {verdict.text}")
        report(
            "promoting: the stable side takes the canary's archive; the canary goes once that has rolled out"
        )
        control.canary_promote(name)
        record("canary promoted: it serves all traffic as the new stable version")
        return Outcome("promoted", verdicts[-1].text if verdicts else "", verdicts)
    finally:
        feed.close()


def _check(
    control: CanaryControl,
    name: str,
    policy: Policy,
    feed: SideFeed,
    index: int,
    weight: int,
    baseline: SideStats | None,
    stop: threading.Event,
    report: Callable[[str], None],
    progress: Callable[[Progress], None],
    poll_s: float,
) -> tuple[Verdict, SideStats | None] | str | None:
    """One check: a fresh window of at least ``interval_s`` with enough requests on each side.
    None when stopped; a sentence when the canary went away meanwhile."""
    stable_seen: Entries = []
    canary_seen: Entries = []
    started = time.monotonic()
    told = ""
    while True:
        if stop.wait(poll_s):
            return None
        if control.canary_status(name) is None:
            return "the canary was promoted or aborted meanwhile"
        new_stable, new_canary = feed.take()
        stable_seen += new_stable
        canary_seen += new_canary
        elapsed = time.monotonic() - started
        stable = SideStats.of(stable_seen, elapsed)
        canary = SideStats.of(canary_seen, elapsed)
        if stable.requests >= policy.min_requests:
            baseline = stable
        verdict = judge(baseline, canary, policy, weight=weight)
        left = "" if elapsed >= policy.interval_s else f"{policy.interval_s - elapsed:.0f}s left"
        progress(Progress(index, len(policy.steps), weight, stable, canary, left or verdict.text))
        if elapsed < policy.interval_s:
            continue
        if verdict.kind == "wait":
            side = verdict.text.split(" has ")[0]
            if side != told:
                told = side
                report(f"waiting for traffic: {verdict.text}")
            continue
        return verdict, baseline
