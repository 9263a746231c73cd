"""The canary analyses one tirui runs beside its other work, one per deployment: start, stop
(with the reason a decision by hand gives), and what each is doing, in words and numbers.

No Textual and no threads of its own: ``spawn`` runs a blocking call where the caller runs such
calls (the TUI: an app thread worker, so the analysis goes on across screens) and ``decided``
hears each decision and the last word. ``tirui canary`` runs :func:`~tirui.canary.analysis.analyze`
in the foreground instead and reads the same :class:`~tirui.canary.analysis.Outcome`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from tirui.canary.analysis import Outcome, Progress, analyze

if TYPE_CHECKING:
    from tirui.canary.control import CanaryControl
    from tirui.canary.policy import Policy

Spawn = Callable[[Callable[[], None], str, str], object]
"""``spawn(work, group, description)``: run the blocking ``work`` away from the caller."""
Decided = Callable[[str, str, bool], None]
"""``decided(deployment, text, warning)``."""

WARNINGS = ("canary rolled back", "canary check failed")


def ending(outcome: Outcome, why: str = "") -> tuple[str, bool]:
    """The last word of an analysis, and whether it is a warning; ``why``: it was stopped for
    a decision by hand."""
    if outcome.kind == "stopped" and why:
        return f"analysis ended: {why}", False
    return f"analysis ended, {outcome.kind}: {outcome.text}", outcome.kind == "rolled back"


class CanaryRunner:
    def __init__(self, spawn: Spawn, decided: Decided) -> None:
        self._spawn = spawn
        self._decided = decided
        self.progress: dict[str, str] = {}
        """What each running analysis is doing, in words."""
        self.steps: dict[str, Progress] = {}
        """The running step's numbers: the canary table shows the window the verdict is on."""
        self._stops: dict[str, threading.Event] = {}
        self._why: dict[str, str] = {}

    def running(self, name: str) -> bool:
        return name in self._stops

    def start(self, control: CanaryControl, name: str, policy: Policy) -> None:
        if self.running(name):
            return
        stop = threading.Event()
        self._stops[name] = stop
        self.progress[name] = "starting"
        work = partial(self._run, control, name, policy, stop)
        self._spawn(work, f"canary-{name}", f"canary analysis of {name}")

    def stop(self, name: str, why: str = "") -> None:
        """End ``name``'s analysis; ``why`` (a decision by hand) is what its last message says
        instead of "the canary stays at its weight"."""
        stop = self._stops.get(name)
        if stop is not None:
            if why:
                self._why[name] = why
            stop.set()

    def stop_all(self) -> None:
        for stop in self._stops.values():
            stop.set()

    def _run(self, control: CanaryControl, name: str, policy: Policy, stop: threading.Event) -> None:
        from tirui.core.errors import RuntimeFailure

        def report(text: str) -> None:
            self._decided(name, text, text.startswith(WARNINGS))

        def progress(p: Progress) -> None:
            self.steps[name] = p
            self.progress[name] = f"step {p.step}/{p.steps} at {p.weight}%: {p.waiting}"

        try:
            outcome = analyze(control, name, policy, stop=stop, report=report, progress=progress)
            text, warning = ending(outcome, self._why.get(name, ""))
        except RuntimeFailure as exc:
            text, warning = f"analysis failed: {exc} (the canary stays as it is)", True
        finally:
            self._stops.pop(name, None)
            self._why.pop(name, None)
            self.progress.pop(name, None)
            self.steps.pop(name, None)
        self._decided(name, text, warning)
