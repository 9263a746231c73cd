"""Canaries from the TUI: ``c`` on a deployment starts one (with or without the step analysis),
or, when one runs, offers promote / abort / a new weight / the analysis.

The analysis is :class:`tirui.canary.runner.CanaryRunner`'s, run in an app thread worker, so it
goes on while the user moves between screens; each decision arrives as a :class:`CanaryDecision`
message (a notification; the events keep it). Quitting tirui stops the analysis and leaves the
canary at its weight, as the CLI's Ctrl-C does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, Static

from tirui.canary.policy import DEFAULT_STEPS, Policy, parse_interval, parse_rate, parse_steps, parse_weight
from tirui.screens.dialog_base import Dialog
from tirui.screens.dialogs import Field, FormDialog
from tirui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from tirui.canary.state import CanaryStatus


def policy_fields() -> list[Field]:
    p = Policy()
    return [
        Field(
            "steps",
            "Analysis steps, % (empty: no analysis, move it by hand)",
            ",".join(map(str, DEFAULT_STEPS)),
            required=False,
        ),
        Field("max_p99_ratio", "Max p99 ratio canary/stable", f"{p.max_p99_ratio:g}"),
        Field("max_error_rate", "Max server-error rate", f"{p.max_error_rate * 100:g}%"),
        Field("interval", "Interval per step (e.g. 60s, 5m)", "60s"),
        Field("min_requests", "Requests each side needs per step", str(p.min_requests)),
    ]


def policy_of(values: dict[str, str]) -> Policy | None:
    """The analysis the form asks for (None: none); ValueError with a sentence."""
    if not values.get("steps", "").strip():
        return None
    try:
        ratio = float(values["max_p99_ratio"])
        minimum = int(values["min_requests"])
    except ValueError:
        raise ValueError("the p99 ratio is a number (1.2) and the request count a whole number") from None
    policy = Policy(
        steps=parse_steps(values["steps"]),
        max_p99_ratio=ratio,
        max_error_rate=parse_rate(values["max_error_rate"]),
        interval_s=parse_interval(values["interval"]),
        min_requests=minimum,
    )
    problems = policy.problems()
    if problems:
        raise ValueError("; ".join(problems.values()))
    return policy


def start_form(name: str, source_hint: str) -> FormDialog:
    """Archive, first weight and the analysis."""

    def check(values: dict[str, str]) -> str | None:
        if not values["source"].strip().endswith(".mar"):
            return "the archive is a .mar (eos://bucket/key.mar, or a local path on the local profile)"
        try:
            parse_weight(values["weight"])
            policy_of(values)
        except ValueError as exc:
            return str(exc)
        return None

    fields = [
        Field("source", "New archive", source_hint, placeholder="eos://models/model-v2.mar"),
        Field("weight", "First share of traffic, % (the first step with an analysis)", "10"),
        *policy_fields(),
    ]
    return FormDialog(
        f"Canary for {name}",
        fields,
        validate=check,
        note="The new archive runs beside the serving one; the analysis raises its share step by "
        "step while its p99 and errors hold against the stable side, else rolls it back.",
    )


class CanaryDialog(Dialog[str | None]):
    """A running canary: what it is and what to do with it (dismisses with the chosen action)."""

    BINDINGS = [
        Binding("p", "choose('promote')", "Promote"),
        Binding("x", "choose('abort')", "Abort"),
        Binding("w", "choose('weight')", "Weight"),
        Binding("z", "choose('analyze')", "Analyze / stop analysis"),
        Binding("escape", "choose('')", "Close"),
    ]

    def __init__(self, name: str, status: CanaryStatus, progress: str) -> None:
        super().__init__(classes="dialog")
        self.deployment = name
        self.status = status
        self.progress = progress

    def compose(self) -> ComposeResult:
        s = self.status
        lines = [
            f"{s.text()}",
            f"split by {s.split}",
            f"analysis: {self.progress}" if self.progress else "analysis: not running in this tirui",
        ]
        if s.policy:
            lines.append(f"policy: {s.policy}")
        with Vertical(classes="dialog-box"):
            yield Label(f"Canary of {self.deployment}", classes="dialog-title", markup=False)
            yield Static("\n".join(lines), classes="dialog-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Promote (p)", id="promote", variant="primary")
                yield Button("Abort (x)", id="abort", variant="error")
                yield Button("Weight (w)", id="weight")
                yield Button("Analysis (z)", id="analyze")
        yield KeyBar(id="keybar")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)

    def action_choose(self, what: str) -> None:
        self.dismiss(what or None)


def weight_form(name: str, current: int) -> FormDialog:
    def check(values: dict[str, str]) -> str | None:
        try:
            parse_weight(values["weight"])
        except ValueError as exc:
            return str(exc)
        return None

    return FormDialog(
        f"Canary weight of {name}", [Field("weight", "Share of traffic, %", str(current))], validate=check
    )


def analyze_form(name: str) -> FormDialog:
    def check(values: dict[str, str]) -> str | None:
        try:
            if policy_of(values) is None:
                return "give the steps to pass through (e.g. 25,50,100)"
        except ValueError as exc:
            return str(exc)
        return None

    return FormDialog(f"Analyze the canary of {name}", policy_fields(), validate=check)
