"""The one-line header of every main screen: app, screen, profile, where it points, connection."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

_STATE_STYLE = {"connected": "green", "local": "green", "checking": "yellow", "offline": "red"}


class StatusHeader(Widget):
    """Shows the active profile, its kube context/namespace with the API server's state (Kubernetes
    profiles), and the object store's state.

    The values live on the app (``profile_name``, ``location``, ``cluster``, ``connection``,
    ``size_warning``);
    the header watches them, so every screen's header stays in step without messages.
    """

    DEFAULT_CSS = ""
    screen_title: reactive[str] = reactive("")
    profile_name: reactive[str] = reactive("")
    location: reactive[str] = reactive("")
    connection: reactive[str] = reactive("")
    cluster: reactive[str] = reactive("")
    size_warning: reactive[str] = reactive("")
    alerts: reactive[str] = reactive("")

    def __init__(self, screen_title: str) -> None:
        super().__init__(id="status-header")
        self.screen_title = screen_title

    def on_mount(self) -> None:
        for name in ("profile_name", "location", "connection", "cluster", "size_warning", "alerts"):
            self.watch(self.app, name, self._mirror(name), init=True)

    def _mirror(self, name: str) -> Callable[[str], None]:
        def update(value: str) -> None:
            setattr(self, name, value)

        return update

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.size_warning:  # first, so a narrow terminal shows it (the rest is cut)
            text.append(f"⚠ {self.size_warning} ", style="bold reverse red")
        text.append(" tirui ", style="bold reverse")
        text.append(f" {self.screen_title} ", style="bold")
        text.append("│ profile ")
        text.append(self.profile_name, style="bold cyan")
        text.append(f" │ {self.location}")
        if self.cluster:  # Kubernetes profiles: the API server, then the object store
            text.append(f" ● {self.cluster}", style=_STATE_STYLE.get(self.cluster.split(":", 1)[0], "yellow"))
            text.append(" │ eos")
        text.append(" │ ")
        state = self.connection.split(":", 1)[0]
        text.append(f"● {self.connection}", style=_STATE_STYLE.get(state, "yellow"))
        if self.alerts:
            text.append(f" │ 🔔 {self.alerts}", style="bold red")
        return text
