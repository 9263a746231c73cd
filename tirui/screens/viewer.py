"""A full-screen text viewer for logs, events and YAML; optionally follows its source.

``/`` filters the lines (a pod name shows that pod's log alone in a merged pod log); esc in the
filter clears it.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Callable

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label, Log

from tirui.locations import styles_dir
from tirui.screens.dialog_base import Dialog
from tirui.screens.worker_failures import ReportsWorkerFailures
from tirui.widgets.keybar import KeyBar
from tirui.widgets.markup import escape


class TextViewer(ReportsWorkerFailures, Dialog[None]):
    """Shows ``fetch()``'s lines; with ``follow`` it re-reads every second (in a worker)."""

    CSS_PATH = styles_dir() / "viewer.tcss"

    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("f", "toggle_follow", "Follow on/off"),
        Binding("slash", "filter", "Filter"),
        Binding("w", "toggle_wrap", "Wrap on/off"),
    ]

    def __init__(
        self,
        title: str,
        fetch: Callable[[], list[str]],
        *,
        follow: bool = False,
        followable: bool | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        """``fetch`` runs in a thread; ``on_close`` (also in a thread) releases what it follows.
        ``followable`` (default: ``follow``): the source changes, so ``f`` means something."""
        super().__init__(classes="dialog")
        self.title_text = title
        self.fetch = fetch
        self.follow = follow
        self.followable = follow if followable is None else followable
        self.wrap = False
        self.on_close = on_close
        self.filter_text = ""
        self._lines: list[str] = []
        self._shown: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box viewer-box"):
            yield Label(self._title(), id="viewer-title", classes="dialog-title")
            yield Log(id="viewer-log", highlight=False)
            yield Input(placeholder="show lines containing… (enter applies, esc clears)", id="viewer-filter")
        yield KeyBar(id="keybar")

    def _title(self) -> str:
        state = ("following" if self.follow else "paused") if self.followable else ""
        shown = f"lines with {escape(repr(self.filter_text))}" if self.filter_text else ""
        extra = " · ".join(x for x in (state, shown, "wrapped" if self.wrap else "") if x)
        title = escape(self.title_text)
        return f"{title}  [dim]{extra}[/dim]" if extra else title

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``f`` only where the text can change (logs, events), not for a fixed text (YAML)."""
        return self.followable if action == "toggle_follow" else True

    def on_mount(self) -> None:
        self.query_one("#viewer-filter", Input).display = False
        self.query_one("#viewer-log", Log).focus()  # arrows scroll, sideways too
        self.reload()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if self.follow:
            self.reload()

    @work(exit_on_error=False, exclusive=True, group="viewer")
    async def reload(self) -> None:
        try:
            lines = await asyncio.to_thread(self.fetch)
        except Exception as exc:  # the source vanished (deleted deployment, dead pod)
            lines = [f"(cannot read: {exc})"]
        self._lines = lines
        self._show()

    def _show(self) -> None:
        lines = (
            [line for line in self._lines if self.filter_text in line] if self.filter_text else self._lines
        )
        log = self.query_one("#viewer-log", Log)
        if self.wrap:  # long lines (events, tracebacks) folded to the width instead of cut off
            width = max(20, log.scrollable_content_region.width - 1)
            lines = [
                part
                for line in lines
                for part in (textwrap.wrap(line, width, subsequent_indent="  ") or [""])
            ]
        if lines[: len(self._shown)] == self._shown and self._shown:
            log.write_lines(lines[len(self._shown) :])
        else:
            log.clear()
            log.write_lines(lines, scroll_end=self.followable)  # a fixed text opens at its top
        self._shown = lines

    def action_filter(self) -> None:
        box = self.query_one("#viewer-filter", Input)
        box.display = True
        box.value = self.filter_text
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._set_filter(event.value.strip())

    def _set_filter(self, text: str) -> None:
        self.filter_text = text
        box = self.query_one("#viewer-filter", Input)
        box.display = False
        self.query_one("#viewer-log", Log).focus()
        self.query_one("#viewer-title", Label).update(self._title())
        self._show()

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self._shown = []
        self.query_one("#viewer-title", Label).update(self._title())
        self._show()

    def on_resize(self) -> None:
        if self.wrap:
            self._shown = []
            self._show()

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.query_one("#viewer-title", Label).update(self._title())

    def action_close(self) -> None:
        if self.focused is self.query_one("#viewer-filter", Input):  # esc in the filter clears it
            self._set_filter("")
            return
        if self.on_close is not None:
            self.run_worker(asyncio.to_thread(self.on_close), group="viewer-close", exit_on_error=False)
        self.dismiss(None)
