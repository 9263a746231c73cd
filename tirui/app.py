"""The Textual application: five main screens (modes), the ``:`` bar, ``?`` help, the palette."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from tirui import locations
from tirui.config import Profile, ProfileError, ProfileSet, load_profiles, local_profile
from tirui.core.clock import Clock
from tirui.messages import CanaryDecision, DeployRequested
from tirui.screens.alert_center import AlertCenter
from tirui.screens.base import HostApp, MainScreen
from tirui.screens.registry import SCREENS, factory
from tirui.screens.typeahead import TypeAhead

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from textual.actions import ActionParseResult
    from textual.command import Provider
    from textual.dom import DOMNode
    from textual.notifications import SeverityLevel
    from textual.timer import Timer

    from tirui.canary.runner import CanaryRunner
    from tirui.cluster.runtime import Runtime
    from tirui.metrics.alerts import Alert
    from tirui.screens.deployments.screen import DeploymentsScreen
    from tirui.secrets import TokenStore

MIN_WIDTH, MIN_HEIGHT = 80, 24


def _open_supervised(profile: Profile, tokens: TokenStore | None) -> Runtime:
    """The app's runtime: local deployments are restarted and probed while the app runs."""
    from tirui.cluster.open import open_runtime

    return open_runtime(profile, tokens, supervise=True)


def _tirui_commands() -> type[Provider]:
    from tirui.commands import TiruiCommands

    return TiruiCommands


class TiruiApp(HostApp):
    """tirui's TUI. Services are created lazily (in workers) so the first frame comes fast."""

    TITLE = "tirui"
    CSS_PATH: ClassVar = [locations.styles_dir() / "app.tcss"]
    MODES: ClassVar = {mode: factory(mode) for mode in SCREENS}
    """Screens are imported when first shown (see tirui.screens.registry)."""
    DEFAULT_MODE = "buckets"
    COMMANDS: ClassVar = App.COMMANDS | {_tirui_commands}
    """tirui's palette entries, imported when the palette first opens."""
    BINDINGS: ClassVar = [
        Binding("1", "switch_mode('buckets')", "Buckets", show=False),
        Binding("2", "switch_mode('deploy')", "Deployments", show=False),
        Binding("3", "switch_mode('metrics')", "Metrics", show=False),
        Binding("4", "switch_mode('play')", "Playground", show=False),
        Binding("5", "switch_mode('tokens')", "Tokens & profiles", show=False),
        Binding("colon", "command_bar", "Command"),
        Binding("question_mark", "help", "Help"),
        Binding("A", "alert_history", "Alert history", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),  # from dialogs too
    ]

    def __init__(
        self,
        profile: str | None = None,
        *,
        secrets_backend: str | None = None,
        start_mode: str = "buckets",
        hint: str = "",
        keep_deployments: bool = False,
        clock: Clock | None = None,
        open_runtime: Callable[[Profile, TokenStore | None], Runtime] | None = None,
    ) -> None:
        """``clock``: the wall clock the Metrics screen draws against (a frozen one stops
        collection: snapshot tests draw injected series at a fixed instant);
        ``open_runtime``: how a profile's runtime is opened (blocking, run in a thread; by
        default :func:`~tirui.cluster.open.open_runtime`, supervised). Screen tests pass a
        fake runtime where a real one adds nothing."""
        self.clock = clock or Clock()
        self._open_runtime = open_runtime
        self.DEFAULT_MODE = start_mode if start_mode in SCREENS else "buckets"  # type: ignore[misc]
        super().__init__()
        self.main_screens: dict[str, MainScreen] = {}
        self.typeahead = TypeAhead(self, self.on_event)
        self.startup_errors: list[str] = []
        try:
            self.profile_set = load_profiles()
        except ProfileError as exc:
            self.startup_errors.append(f"{exc}\nUsing the built-in 'local' profile.")
            self.profile_set = ProfileSet({"local": local_profile()}, "local", locations.profiles_file())
        requested = profile or os.environ.get("TIRUI_PROFILE") or self.profile_set.default
        try:
            self.profile: Profile = self.profile_set.get(requested)
        except ProfileError as exc:
            self.startup_errors.append(f"{exc}\nUsing the built-in 'local' profile.")
            self.profile = self.profile_set.get("local")
        self._secrets_backend = secrets_backend
        self._passphrase: str | None = None
        self.token_store: TokenStore | None = None
        self._token_store_lock = asyncio.Lock()
        self._hint = hint
        self.keep_deployments = keep_deployments
        """Leave local deployments running when tirui exits (``--keep-running`` or ``k``)."""
        self.runtime: Runtime | None = None
        self.alert_center = AlertCenter(self)
        self._alert_timer: Timer | None = None
        self.runtime_error = ""
        self._runtime_lock = asyncio.Lock()
        self._canaries: CanaryRunner | None = None

    @property
    def canaries(self) -> CanaryRunner:
        """The canary analyses running in this tirui (app thread workers: they go on across
        screens; each decision comes back as a :class:`CanaryDecision`)."""
        if self._canaries is None:
            from tirui.canary.runner import CanaryRunner

            def spawn(work: Callable[[], None], group: str, description: str) -> object:
                return self.run_worker(work, thread=True, group=group, name=description, exit_on_error=False)

            def decided(name: str, text: str, warning: bool) -> None:
                self.post_message(CanaryDecision(name, text, warning=warning))

            self._canaries = CanaryRunner(spawn, decided)
        return self._canaries

    # -- lifecycle ---------------------------------------------------------------------------
    def on_mount(self) -> None:
        from tirui import crash_guard

        crash_guard.install(self.report_crash)
        self._apply_profile()
        self._start_cluster()
        for error in self.startup_errors:
            self.notify(error, title="Profile error", severity="error", timeout=15)
        if self._hint:
            self.notify(self._hint, title="tirui", timeout=12)
        self._check_size(self.size.width, self.size.height)

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int, height: int) -> None:
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        warning = f"{width}x{height} < {MIN_WIDTH}x{MIN_HEIGHT}" if small else ""
        if warning and not self.size_warning:
            self.notify(
                f"The terminal is {width}x{height}, smaller than {MIN_WIDTH}x{MIN_HEIGHT}: some panes "
                "are cut off.",
                severity="warning",
            )
        self.size_warning = warning

    # -- profile -----------------------------------------------------------------------------
    def _apply_profile(self) -> None:
        self.profile_name = self.profile.name
        self.location = self.profile.location
        self.connection = "local" if self.profile.storage.kind == "local" else "checking"
        self.cluster = "" if self.profile.is_local else "checking"

    def switch_profile(self, name: str) -> None:
        """Make ``name`` the active profile; every open main screen reloads."""
        try:
            self.profile = self.profile_set.get(name)
        except ProfileError as exc:
            self.notify(str(exc), title="Profile", severity="error")
            return
        self._apply_profile()
        old, self.runtime, self.runtime_error = self.runtime, None, ""
        if old is not None:
            # Local deployments keep running; switching back adopts them from their state files.
            self.run_worker(
                asyncio.to_thread(old.shutdown),
                group="runtime-switch",
                exit_on_error=False,
            )
        self._start_cluster()
        for screen in self.main_screens.values():
            screen.on_profile_changed()
        self.notify(f"Profile {name} ({self.profile.location})", title="Profile")

    # -- workers and the cluster connection ---------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.report_worker_failure(event.worker)

    def report_worker_failure(self, worker: Worker[Any]) -> None:
        """The one place an unexpected worker failure ends up (every worker runs with
        ``exit_on_error=False``; screens forward theirs): as a handler's failure, a notification
        naming it and the traceback in the crash log, while the screen that started it stays
        usable."""
        error = worker.error
        if error is None:
            return
        self.report_crash(f"worker {worker.group or worker.name}", error)

    def report_crash(self, where: str, error: BaseException) -> None:
        """Where an unexpected exception of a handler or an action ends up (see
        :mod:`tirui.crash_guard`): the crash log gets the traceback, the user a notification
        naming it; the app and the screen go on."""
        from tirui.crash_guard import record

        try:
            path = str(record(where, error))
        except OSError as exc:  # a crash log that cannot be written must not hide the error
            path = f"(crash log unwritable: {exc.strerror})"
        self.log.error(f"unexpected error in {where}", error)
        detail = (str(error).strip().splitlines() or [""])[0][:300]
        with contextlib.suppress(Exception):
            self.notify(
                f"{type(error).__name__}: {detail}\nThe app goes on; details in {path}",
                title="Unexpected error",
                severity="error",
                timeout=15,
            )

    async def on_event(self, event: events.Event) -> None:
        """Keys from the terminal pass the type-ahead gate (:mod:`tirui.screens.typeahead`):
        those typed while a key's action is still opening a screen wait for it."""
        if not isinstance(event, events.Key) or event.is_forwarded:
            await super().on_event(event)
            return
        if not self.typeahead.admit(event):
            return
        bound = self.typeahead.bound(event)
        await super().on_event(event)
        self.typeahead.follow(event, bound)

    def action_command_palette(self) -> None:
        from tirui.commands import Palette

        if self.use_command_palette and self.screen.id != "--command-palette":  # not open yet
            self.push_screen(Palette(id="--command-palette"))

    async def run_action(
        self,
        action: str | ActionParseResult,
        default_namespace: DOMNode | None = None,
        namespaces: Mapping[str, DOMNode] | None = None,
    ) -> bool:
        """Every action (keys, palette, command bar) runs here: one that fails unexpectedly is
        reported by :meth:`report_crash` instead of ending the app."""
        try:
            return await super().run_action(action, default_namespace, namespaces)
        except Exception as error:
            self.report_crash(f"action {action!r}", error)
            return True

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Notifications are plain text, whoever asks (a widget's ``notify`` passes
        ``markup=True`` by default): what they say comes from users, files and servers, and a
        ``[/x]`` typed into a form would end the app when the toast renders."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def _start_cluster(self) -> None:
        """On Kubernetes profiles: create the runtime at once (off the event loop) and keep the
        header's connection state current, whichever screen is open. On every profile: watch the
        alert rules."""
        if not self.profile.is_local:
            self.monitor_cluster(self.profile.name)
        self.check_alerts()
        if self._alert_timer is None:
            self._alert_timer = self.set_interval(10.0, self.check_alerts)

    @work(exclusive=True, group="alerts", exit_on_error=False)
    async def check_alerts(self) -> None:
        """One round of the rules in ``alerts.toml`` (every 10 s, from a timer: the header counts
        what fires, the Deployments table marks it, each alert that starts firing notifies)."""
        await self.alert_center.round()
        self.alerts = self.alert_center.header

    @property
    def firing(self) -> list[Alert]:
        """The alerts firing now."""
        return self.alert_center.firing

    def action_alert_history(self) -> None:
        """Past firings with start, end and peak, then those firing now."""
        self.push_screen(self.alert_center.history())

    @work(exclusive=True, group="cluster-connection", exit_on_error=False)
    async def monitor_cluster(self, profile_name: str) -> None:
        """One updater: a cheap request every 2 s, the next only after the last one answered."""
        from tirui.cluster.runtime import Reachable
        from tirui.core.errors import RuntimeFailure

        runtime = await self.get_runtime()
        if not isinstance(runtime, Reachable):
            self.cluster = "offline: no kube context"
            return
        self.location = f"{runtime.context or '(current context)'}/{self.profile.kubernetes.namespace}"

        while self.runtime is runtime and self.profile.name == profile_name:
            try:
                await asyncio.to_thread(runtime.ping)
                self.cluster = "connected"
            except RuntimeFailure:
                self.cluster = "offline"
            await asyncio.sleep(2.0)

    # -- secrets -----------------------------------------------------------------------------
    async def get_token_store(self) -> TokenStore:
        """The token store, created off the event loop on first use (it probes D-Bus)."""
        from tirui.secrets import SecretStoreError, TokenStore

        async with self._token_store_lock:
            if self.token_store is None:
                try:
                    self.token_store = await asyncio.to_thread(
                        TokenStore.from_env, self._secrets_backend, self._passphrase
                    )
                except SecretStoreError as exc:
                    self.notify(str(exc), title="Keyring", severity="error")
                    self.token_store = await asyncio.to_thread(TokenStore, "env")
            return self.token_store

    async def get_runtime(self) -> Runtime | None:
        """The profile's runtime, created off the event loop on first use.

        :func:`~tirui.cluster.open.open_runtime`, supervised (local deployments restart on
        failure while the app runs), or None with ``runtime_error`` saying why (missing context,
        unreadable kubeconfig).
        """
        async with self._runtime_lock:
            if self.runtime is None:
                from tirui.core.errors import RuntimeFailure

                tokens = await self.get_token_store()
                opener = self._open_runtime or _open_supervised
                try:
                    self.runtime = await asyncio.to_thread(opener, self.profile, tokens)
                    self.runtime_error = ""
                except RuntimeFailure as exc:
                    self.runtime_error = str(exc)
            return self.runtime

    async def on_unmount(self) -> None:
        """Stop the supervisor, and the local deployments unless the user chose to keep them.
        A failure here is logged: it must not turn quitting into a traceback."""
        from tirui import crash_guard

        crash_guard.uninstall()
        if self._canaries is not None:  # the canaries stay at their weights
            self._canaries.stop_all()
        await self.alert_center.close()
        if self.runtime is not None:
            try:
                await asyncio.to_thread(self.runtime.shutdown, keep_running=self.keep_deployments)
            except Exception as exc:
                self.log.error("runtime shutdown failed", exc)

    def set_token_backend(self, backend: str, passphrase: str | None) -> None:
        """Switch to another backend for this session (the explicit opt-in of the Tokens screen)."""
        self._secrets_backend = backend
        self._passphrase = passphrase
        self.token_store = None

    # -- actions -----------------------------------------------------------------------------
    def action_command_bar(self) -> None:
        from tirui.screens.command_bar import CommandBar

        self.push_screen(CommandBar(), self.run_command)

    def run_command(self, command: str | None) -> None:
        """Run a ``:`` command; unknown ones are reported, never fatal."""
        if not command:
            return
        word, _, arg = command.partition(" ")
        word = word.lower()
        from tirui.screens.command_bar import SCREEN_COMMANDS

        if word in SCREEN_COMMANDS:
            self.switch_mode(SCREEN_COMMANDS[word])
        elif word in {"q", "quit"}:
            self.run_worker(self.action_quit(), group="quit", exclusive=True, exit_on_error=False)
        elif word == "help":
            self.action_help()
        elif word == "profile" and arg.strip():
            self.switch_profile(arg.strip())
        else:
            known = "buckets, deploy, metrics, play, tokens, profile NAME, help, quit"
            self.notify(f"Unknown command ':{command}'. Known: {known}", title="Command", severity="error")

    async def action_quit(self) -> None:
        """Quit, asking first when quitting would stop deployments this tirui started (ctrl+q and
        ``:q`` alike): stop them, keep them running, or stay."""
        from tirui.screens.dialogs import QuitDialog

        runtime = self.runtime
        stops: list[str] = []
        if runtime is not None and runtime.stops_on_exit and not self.keep_deployments:
            stops = await asyncio.to_thread(runtime.quitting_stops)
        if not stops:
            self.exit()
            return
        if any(isinstance(s, QuitDialog) for s in self.screen_stack):
            return

        def answered(choice: str | None) -> None:
            if choice is None:
                return
            self.keep_deployments = choice == "keep"
            self.exit()

        self.push_screen(QuitDialog(stops), answered)

    def action_help(self) -> None:
        from tirui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        rows: list[tuple[int, str, str, str]] = []
        seen: set[str] = set()
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            node = active.node
            rank = 0 if isinstance(node, Screen) else 1 if node is self else 2
            scope = "global" if node is self else type(node).__name__.removesuffix("Screen")
            rows.append((rank, binding.key if "," in binding.key else key, binding.description, scope))
        rows.sort(key=lambda r: r[0])
        self.push_screen(HelpScreen([r[1:] for r in rows], getattr(self.screen, "TITLE", "") or "tirui"))

    def on_canary_decision(self, message: CanaryDecision) -> None:
        """A canary analysis decided: say so wherever the user is; the table shows the result."""
        self.notify(
            message.text,
            title=f"Canary of {message.name}",
            severity="warning" if message.warning else "information",
            timeout=12,
        )
        deployments = self._deployments_screen()
        if deployments is not None:
            deployments.refresh_status()

    async def on_deploy_requested(self, message: DeployRequested) -> None:
        """``d`` on a ``.mar``: the Deployments screen's deploy form, with the source filled in."""
        try:
            await self.switch_mode("deploy")
            deployments = self._deployments_screen()
            if deployments is not None:
                deployments.open_deploy_form(message.source)
        finally:
            self.typeahead.arrived()

    async def open_for_deployment(self, mode: str, name: str) -> None:
        """``p``/``m`` on a deployment: the Playground or Metrics screen aimed at it.

        The model name comes from the Deployments table's last refresh, so no runtime call
        (which may be an HTTP request to the cluster) happens on the event loop.
        """
        deployments = self._deployments_screen()
        status = deployments.statuses.get(name) if deployments is not None else None
        await self.switch_mode(mode)
        screen = self.main_screens.get(mode)
        if screen is not None:
            screen.use_deployment(name, status.model if status is not None else "")

    def _deployments_screen(self) -> DeploymentsScreen | None:
        """The Deployments screen once it exists (it holds the last table the others read)."""
        from tirui.screens.deployments.screen import DeploymentsScreen

        screen = self.main_screens.get("deploy")
        return screen if isinstance(screen, DeploymentsScreen) else None

    async def run_screen_action(self, mode: str, action: str) -> None:
        """Palette entry for a screen's action: show that screen, then run the action there."""
        await self.switch_mode(mode)
        await self.screen.run_action(action)
