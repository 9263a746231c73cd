"""The frame shared by the five main screens: status header, body, footer of key bindings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widget import Widget

from tirui.screens.worker_failures import ReportsWorkerFailures
from tirui.widgets.keybar import KeyBar
from tirui.widgets.status_header import StatusHeader

if TYPE_CHECKING:
    from textual import getters

    from tirui.app import TiruiApp


class MainScreen(ReportsWorkerFailures, Screen[None]):
    """A main screen: subclasses set ``TITLE``/``MODE`` and implement :meth:`compose_body`."""

    if TYPE_CHECKING:  # the app, typed (a runtime import would be a cycle: the app imports us)
        app = getters.app(TiruiApp)

    MODE = ""
    """The app mode (and ``:`` command) that shows this screen."""

    def compose(self) -> ComposeResult:
        self.app.main_screens[self.MODE] = self
        yield StatusHeader(self.TITLE or self.MODE)
        yield from self.compose_body()
        yield KeyBar(id="keybar")

    def compose_body(self) -> Iterable[Widget]:
        raise NotImplementedError

    def use_deployment(self, name: str, model: str = "") -> None:
        """Aim the screen at deployment ``name`` (serving ``model``; "" when unknown): ``p`` and
        ``m`` on the Deployments screen land here. Screens about one deployment override it."""

    def on_profile_changed(self) -> None:
        """Called by the app after the active profile changed; reload what depends on it."""
