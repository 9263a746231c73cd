"""A modal progress panel for one upload or download: bar, bytes, rate, ETA and cancel.

The transfer runs in a thread worker that calls :meth:`TransferDialog.add` from boto3's callback
threads; the dialog only reads that counter on a 10 Hz timer, so a fast transfer cannot flood the
event loop with messages.
"""

from __future__ import annotations

import threading
import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Button, Label, ProgressBar, Static

from tirui.screens.dialog_base import Dialog
from tirui.screens.worker_failures import ReportsWorkerFailures
from tirui.storage.base import CancelToken, human_size
from tirui.widgets.keybar import KeyBar


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}:{seconds % 60:02d}"


class TransferDialog(ReportsWorkerFailures, Dialog[None]):
    """Shows the progress of a transfer; escape or the button cancels it (the worker finishes)."""

    BINDINGS = [Binding("escape,c", "cancel", "Cancel transfer")]

    def __init__(self, title: str, total: int, cancel: CancelToken) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.total = max(total, 0)
        self.cancel_token = cancel
        self._done = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box", id="transfer-box"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield ProgressBar(total=self.total or None, show_eta=False, id="transfer-bar")
            yield Static("starting…", id="transfer-stats")
            yield Button("Cancel (esc)", id="transfer-cancel", variant="error")
        yield KeyBar(id="keybar")

    def on_mount(self) -> None:
        self.set_interval(0.1, self._refresh_stats)

    def add(self, nbytes: int) -> None:
        """Progress callback: safe to call from any thread."""
        with self._lock:
            self._done += nbytes

    @property
    def done(self) -> int:
        with self._lock:
            return self._done

    def _refresh_stats(self) -> None:
        done = self.done
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = done / elapsed
        self.query_one("#transfer-bar", ProgressBar).update(progress=done)
        text = f"{human_size(done)} of {human_size(self.total)}  ·  {human_size(rate)}/s"
        if rate > 0 and self.total > done:
            text += f"  ·  ETA {_duration((self.total - done) / rate)}"
        if self.cancel_token.cancelled:
            text += "\nCancelling: removing what was transferred…"
        self.query_one("#transfer-stats", Static).update(text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_cancel(self) -> None:
        self.cancel_token.cancel()
        self._refresh_stats()
