"""The ``?`` screen: every key that works where the user pressed ``?``, generated from bindings."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Label, Static

from tirui.screens.dialog_base import Dialog
from tirui.widgets.keybar import KeyBar
from tirui.widgets.text_table import TextTable

COMMANDS_HELP = "Command bar (:) — " + ", ".join(
    ["buckets", "deploy", "metrics", "play", "tokens", "help", "quit", "profile NAME"]
)


GLOBAL_KEYS = "Everywhere: 1-5 screens · : commands · ^p palette · ? help · ^q quit"
"""The keys of every screen, on one line above the table (the table lists them too)."""


def format_key(key: str) -> str:
    """``ctrl+d`` → ``^d``, ``right_square_bracket`` → ``]``; comma-separated alternatives joined
    with `` `` (a key may itself be ``/``)."""
    from textual.keys import format_key as textual_key

    def one(k: str) -> str:
        *mods, last = k.split("+")
        shown = textual_key(last)
        return "".join(("^" if m == "ctrl" else f"{m}+") for m in mods) + shown

    return " ".join(one(k.strip()) for k in key.split(","))


class HelpScreen(Dialog[None]):
    """Lists (key, what it does, where it applies) rows; escape closes."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "Close help")]

    def __init__(self, rows: list[tuple[str, str, str]], screen_name: str) -> None:
        super().__init__(classes="dialog")
        self.rows = rows
        self.screen_name = screen_name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box help-box"):
            yield Label(f"Keys — {self.screen_name}", classes="dialog-title", markup=False)
            yield Static(GLOBAL_KEYS, id="help-global", markup=False)  # above the fold at 80x24
            table = TextTable(id="help-table", cursor_type="row", zebra_stripes=True)
            table.add_columns("Key", "Action", "Scope")
            for key, description, scope in self.rows:
                table.add_row(format_key(key), description, scope)
            yield table
            yield Static(COMMANDS_HELP + "   ·   ctrl+p: command palette   ·   /: filter tables")
        yield KeyBar(id="keybar")

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()

    def action_close(self) -> None:
        self.dismiss(None)
