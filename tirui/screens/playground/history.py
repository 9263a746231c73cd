"""The Playground's request history: pick an earlier request to load it back into the form."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from tirui.locations import styles_dir
from tirui.screens.dialog_base import Dialog
from tirui.traffic.playground import HistoryEntry
from tirui.widgets.keybar import KeyBar
from tirui.widgets.text_table import TextTable


class HistoryDialog(Dialog[int | None]):
    """Newest first; enter loads the highlighted request, escape closes."""

    CSS_PATH = styles_dir() / "viewer.tcss"

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, entries: list[HistoryEntry]) -> None:
        super().__init__(classes="dialog")
        self.entries = entries

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box viewer-box"):
            yield Label("Request history (enter loads, esc closes)", classes="dialog-title")
            table = TextTable(id="history-table", cursor_type="row")
            table.add_columns("When", "Target", "Request", "Status", "ms")
            for i in range(len(self.entries) - 1, -1, -1):
                e = self.entries[i]
                r = e.request
                what = (
                    f"{r.get('method', '')} {r.get('path', '')}"
                    if r.get("protocol") == "http"
                    else (f"gRPC {r.get('preset', '')} {r.get('model', '')}")
                )
                when = time.strftime("%m-%d %H:%M:%S", time.localtime(e.ts))
                table.add_row(when, e.target, what, e.status, f"{e.elapsed_ms:.1f}", key=str(i))
            yield table
        yield KeyBar(id="keybar")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.dismiss(int(str(event.row_key.value)))

    def action_close(self) -> None:
        self.dismiss(None)
