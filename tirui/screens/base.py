"""The frame shared by the five main screens (status header, body, footer of key bindings) and
:class:`HostApp`, what screens, dialogs and the palette may ask of the app they run in.

The app (:class:`tirui.app.TiruiApp`) implements :class:`HostApp` and imports the screens; the
screens know only :class:`HostApp`, so no import, not even a type-level one, goes back up."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.app import App, ComposeResult
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget

from tirui.screens.worker_failures import ReportsWorkerFailures
from tirui.widgets.keybar import KeyBar
from tirui.widgets.status_header import StatusHeader

if TYPE_CHECKING:
    from textual import getters
    from textual.worker import Worker

    from tirui.canary.runner import CanaryRunner
    from tirui.cluster.runtime import Runtime
    from tirui.config import Profile, ProfileSet
    from tirui.core.clock import Clock
    from tirui.metrics.alerts import Alert
    from tirui.screens.typeahead import TypeAhead
    from tirui.secrets import TokenStore


class HostApp(App[None]):
    """The app as the screens see it: its state and the services it opens lazily (in workers)."""

    profile_name: reactive[str] = reactive("")
    location: reactive[str] = reactive("")
    connection: reactive[str] = reactive("checking")
    """The object store's state (set by the Buckets screen)."""
    cluster: reactive[str] = reactive("")
    """The Kubernetes API server's state on Kubernetes profiles: checking, connected, offline."""
    size_warning: reactive[str] = reactive("")
    alerts: reactive[str] = reactive("")
    """"2 alerts firing" (or why the rules cannot be read) for the header; "" when all is well."""

    clock: Clock
    """The wall clock the Metrics screen draws against."""
    profile: Profile
    profile_set: ProfileSet
    token_store: TokenStore | None
    """The keyring, once :meth:`get_token_store` opened it."""
    runtime: Runtime | None
    """The active profile's runtime, once :meth:`get_runtime` opened it."""
    runtime_error: str
    """Why the runtime could not be opened ("" when it could)."""
    keep_deployments: bool
    """Quitting leaves this tirui's local deployments running."""
    main_screens: dict[str, MainScreen]
    """The main screens made so far, by mode."""
    typeahead: TypeAhead

    @property
    def canaries(self) -> CanaryRunner:
        """The canary analyses running in this tirui."""
        raise NotImplementedError

    @property
    def firing(self) -> list[Alert]:
        """The alerts firing now."""
        raise NotImplementedError

    async def get_runtime(self) -> Runtime | None:
        """The active profile's runtime, opened on first use (None, with ``runtime_error``, when
        it cannot be)."""
        raise NotImplementedError

    async def get_token_store(self) -> TokenStore:
        raise NotImplementedError

    def switch_profile(self, name: str) -> None:
        raise NotImplementedError

    def set_token_backend(self, backend: str, passphrase: str | None) -> None:
        raise NotImplementedError

    async def open_for_deployment(self, mode: str, name: str) -> None:
        """The Playground or Metrics screen aimed at deployment ``name``."""
        raise NotImplementedError

    async def run_screen_action(self, mode: str, action: str) -> None:
        raise NotImplementedError

    def report_worker_failure(self, worker: Worker[object]) -> None:
        """A worker's exception in the user's terms, with its traceback in the crash log."""
        raise NotImplementedError


class MainScreen(ReportsWorkerFailures, Screen[None]):
    """A main screen: subclasses set ``TITLE``/``MODE`` and implement :meth:`compose_body`."""

    if TYPE_CHECKING:  # the app, typed
        app = getters.app(HostApp)

    MODE = ""
    """The app mode (and ``:`` command) that shows this screen."""

    def __init__(self) -> None:
        super().__init__()
        try:
            app = self.app
        except RuntimeError:  # Textual's NoActiveAppError: made outside a running app
            return
        if not app.main_screens:
            # The app's first screen. The first time a mode's screen is shown, Textual re-parses
            # every stylesheet source, uncached, and restyles every node, so that screens made
            # before a stylesheet change get restyled. There are none yet: the first frame skips
            # that second parse and only styles the app node before this screen mounts (its
            # widgets' colours are computed from their ancestors' styles as they mount).
            app.stylesheet.apply(app)
            self._css_update_count = app._css_update_count

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
