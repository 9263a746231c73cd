"""A full-screen text viewer for logs, events and YAML; optionally follows its source."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Log

from tirui.locations import styles_dir


class TextViewer(ModalScreen[None]):
    """Shows ``fetch()``'s lines; with ``follow`` it re-reads every second (in a worker)."""

    CSS_PATH = styles_dir() / "viewer.tcss"

    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("f", "toggle_follow", "Follow on/off"),
    ]

    def __init__(
        self,
        title: str,
        fetch: Callable[[], list[str]],
        *,
        follow: bool = False,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        """``fetch`` runs in a thread; ``on_close`` (also in a thread) releases what it follows."""
        super().__init__(classes="dialog")
        self.title_text = title
        self.fetch = fetch
        self.follow = follow
        self.on_close = on_close
        self._shown: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box viewer-box"):
            yield Label(self._title(), id="viewer-title", classes="dialog-title")
            yield Log(id="viewer-log", highlight=False)

    def _title(self) -> str:
        state = "following (f stops)" if self.follow else "f follows"
        return f"{self.title_text}  [dim]{state} · esc closes[/dim]"

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if self.follow:
            self.reload()

    @work(exclusive=True, group="viewer")
    async def reload(self) -> None:
        try:
            lines = await asyncio.to_thread(self.fetch)
        except Exception as exc:  # the source vanished (deleted deployment, dead pod)
            lines = [f"(cannot read: {exc})"]
        log = self.query_one("#viewer-log", Log)
        if lines[: len(self._shown)] == self._shown and self._shown:
            log.write_lines(lines[len(self._shown) :])
        else:
            log.clear()
            log.write_lines(lines)
        self._shown = lines

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.query_one("#viewer-title", Label).update(self._title())

    def action_close(self) -> None:
        if self.on_close is not None:
            self.run_worker(asyncio.to_thread(self.on_close), group="viewer-close")
        self.dismiss(None)
