"""The k9s-style ``:`` command bar: type a screen name (or ``profile NAME``) and press enter."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label

from tirui.screens.dialog_base import Dialog

SCREEN_COMMANDS = {
    "buckets": "buckets",
    "b": "buckets",
    "deploy": "deploy",
    "deployments": "deploy",
    "dp": "deploy",
    "metrics": "metrics",
    "m": "metrics",
    "play": "play",
    "playground": "play",
    "tokens": "tokens",
    "profiles": "tokens",
}
OTHER_COMMANDS = ["help", "quit", "q", "profile "]


class CommandBar(Dialog[str | None]):
    """Returns the typed command (stripped), or None on escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        yield Label(":", id="command-prompt")
        yield Input(
            placeholder="buckets · deploy · metrics · play · tokens · profile NAME · help · quit",
            id="command-input",
            suggester=SuggestFromList([*SCREEN_COMMANDS, *OTHER_COMMANDS], case_sensitive=False),
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
