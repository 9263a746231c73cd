"""Deployments: the live table of the profile's deployments, their details and operations.

The runtime's calls block (processes, HTTP, Kubernetes API), so the table refreshes from a
thread worker and every operation runs in a worker too. On Kubernetes the runtime keeps a
watch-backed model: watch threads signal changes and the table re-renders from the cache at once
(the once-a-second tick then costs no API request); locally the tick re-reads the runtime.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterable
from typing import Any

from textual import on, work
from textual.binding import Binding
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tirui.cluster.runtime import (
    ApplyResult,
    Autoscalable,
    DeploymentStatus,
    DeployOptions,
    Reachable,
    Runtime,
    Stoppable,
    Watchable,
)
from tirui.cluster.spec import DeploymentSpec, SpecError
from tirui.core.errors import RuntimeFailure
from tirui.locations import styles_dir
from tirui.screens.base import MainScreen
from tirui.screens.deployments import view
from tirui.screens.deployments.canary_actions import CanaryActions
from tirui.screens.deployments.deploy_form import DeployRequest, deploy_form
from tirui.screens.deployments.ops import DeploymentOps
from tirui.screens.dialogs import MessageDialog
from tirui.screens.viewer import TextViewer
from tirui.storage.base import StorageError
from tirui.widgets.markup import escape
from tirui.widgets.text_table import TextTable


class DeploymentsScreen(MainScreen):
    """Table of deployments with a detail pane for the selected one. What the keys do to the
    selection lives in two collaborators built over this screen as their
    :class:`~tirui.screens.deployments.host.DeploymentsHost`: :class:`DeploymentOps` and
    :class:`CanaryActions`."""

    CSS_PATH = styles_dir() / "deployments.tcss"

    TITLE = "Deployments"
    MODE = "deploy"
    BINDINGS = [
        Binding("n", "new", "Deploy"),
        Binding("s", "scale", "Scale"),
        Binding("a", "autoscale", "Autoscale", show=False),
        Binding("r", "restart", "Restart"),
        Binding("b", "rollback", "Rollback", show=False),
        Binding("c", "canary", "Canary", show=False),
        Binding("l", "logs", "Logs"),
        Binding("e", "events", "Events"),
        Binding("p", "playground", "Playground"),
        Binding("m", "metrics", "Metrics"),
        Binding("y", "yaml", "YAML/config", show=False),
        Binding("i", "endpoint", "Endpoint & sample requests", show=False),
        Binding("x", "stop", "Stop", show=False),
        Binding("ctrl+d", "delete", "Delete"),
        Binding("k", "toggle_keep", "Keep running on exit", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.statuses: dict[str, DeploymentStatus] = {}
        self._watched: Any = None
        self._change_pending = threading.Event()
        self._refreshing = False
        self._bound: object = None
        self.ops = DeploymentOps(self)
        self.canary = CanaryActions(self, self.ops)

    def compose_body(self) -> Iterable[Widget]:
        with Vertical(id="deploy-body"):
            table = TextTable(id="deployments", cursor_type="row", zebra_stripes=True)
            table.add_columns(*view.COLUMNS)
            yield table
            yield Static("", id="deploy-detail")
            yield Static("", id="deploy-message", classes="hint")

    def on_mount(self) -> None:
        self.refresh_status()
        self.set_interval(1.0, self._tick)

    def on_profile_changed(self) -> None:
        self._watched = None
        self.statuses = {}
        self.query_one("#deployments", DataTable).clear()
        self.refresh_status()

    def _tick(self) -> None:
        # one refresh at a time: a slow answer makes the next tick wait instead of piling up threads
        if self.is_active and not self._refreshing:
            self.refresh_status()

    # -- runtime -----------------------------------------------------------------------------
    async def runtime(self) -> Runtime | None:
        return await self.app.get_runtime()

    def _start_watch(self, runtime: Runtime) -> None:
        """Once per runtime: changes seen by its watch threads re-render the table."""
        if self._watched is runtime or not isinstance(runtime, Watchable):
            return
        self._watched = runtime
        loop = asyncio.get_running_loop()

        def changed() -> None:  # on a watch thread: coalesce bursts into one refresh
            if not self._change_pending.is_set():
                self._change_pending.set()
                loop.call_soon_threadsafe(self._on_watch_change)

        runtime.watch(changed)

    def _on_watch_change(self) -> None:
        self._change_pending.clear()
        if self.is_attached:
            self.refresh_status()

    @work(exit_on_error=False, exclusive=True, group="deploy-status")
    async def refresh_status(self) -> None:
        self._refreshing = True
        try:
            await self._refresh()
        finally:
            self._refreshing = False

    async def _refresh(self) -> None:
        app = self.app
        runtime = await self.runtime()
        if runtime is None:
            self.query_one("#deployments", DataTable).clear()
            msg = (
                f"Profile {app.profile.name} ({app.profile.location}): no Kubernetes access.\n"
                f"{app.runtime_error}\n"
                "Fix the profile's kubeconfig/context, or use the local profile (: profile local)."
            )
            self._message(escape(msg))
            return
        if self._bound is not runtime:  # keys follow the runtime's capabilities (check_action)
            self._bound = runtime
            self.refresh_bindings()
        self._start_watch(runtime)
        try:
            statuses = await asyncio.to_thread(runtime.list)
        except RuntimeFailure as exc:
            self._show(list(self.statuses.values()), stale=self._stale_age(runtime))
            self._message(f"[red]{escape(str(exc))}[/]\n{self._stale_note(runtime)}")
            return
        problem = runtime.watch_problem() if isinstance(runtime, Watchable) else ""
        offline = str(app.cluster).startswith("offline")
        if problem or offline:
            self._show(statuses, stale=self._stale_age(runtime))
            contact = runtime.contact_error if isinstance(runtime, Reachable) else ""
            why = problem or contact or "the API server does not answer"
            self._message(f"[red]{escape(why)}[/]\n{self._stale_note(runtime)}")
        else:
            self._show(statuses)

    @staticmethod
    def _stale_age(runtime: Runtime) -> int:
        """Seconds since the cluster last answered (-1: never, or no server to answer)."""
        last = runtime.last_contact if isinstance(runtime, Reachable) else 0.0
        return int(time.time() - last) if last else -1

    def _stale_note(self, runtime: Runtime) -> str:
        age = self._stale_age(runtime)
        when = f"{age} s ago" if age >= 0 else "before the API server became unreachable"
        return f"Rows are stale: the last good read was {when}; they refresh by themselves when it answers."

    def _show(self, statuses: list[DeploymentStatus], stale: int | None = None) -> None:
        table = self.query_one("#deployments", DataTable)
        new = {s.name: s for s in statuses}
        current = self.selected_name()
        firing = self.app.firing
        rows = [view.row(s, stale, sum(a.deployment == s.name for a in firing)) for s in statuses]
        if list(new) != list(self.statuses) or table.row_count != len(rows):
            table.clear()
            for s, row in zip(statuses, rows, strict=True):
                table.add_row(*row, key=s.name)
            if current in new:
                table.move_cursor(row=list(new).index(current))
        else:
            for s, row in zip(statuses, rows, strict=True):
                for col, value in zip(table.ordered_columns, row, strict=True):
                    table.update_cell(s.name, col.key, value)
        self.statuses = new
        if stale is None:  # (stale rows keep the message that says why)
            self._message(
                ""
                if statuses
                else "No deployments yet. Press n to deploy a model, or d on a .mar in Buckets (1)."
            )
        self._detail()

    def _detail(self) -> None:
        name = self.selected_name()
        s = self.statuses.get(name or "")
        pane = self.query_one("#deploy-detail", Static)
        if s is None:
            pane.update("")
            return
        runtime, app = self.app.runtime, self.app
        on_exit = ""
        if runtime is not None and runtime.stops_on_exit:
            on_exit = "kept running" if app.keep_deployments else "stopped"
        progress = app.canaries.progress.get(s.name, "")
        pane.update(view.detail(s, firing=app.firing, progress=progress, on_exit=on_exit))

    def _message(self, text: str) -> None:
        self.query_one("#deploy-message", Static).update(text)

    def selected_name(self) -> str | None:
        table = self.query_one("#deployments", DataTable)
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    @on(DataTable.RowHighlighted, "#deployments")
    def _highlighted(self) -> None:
        self._detail()

    # -- the DeploymentsHost contract --------------------------------------------------------
    def need(self) -> str | None:
        name = self.selected_name()
        if name is None:
            self.notify("No deployment selected", severity="warning")
        return name

    def start(self, work: Coroutine[Any, Any, object], group: str, *, exclusive: bool = False) -> object:
        return self.run_worker(work, exit_on_error=False, group=group, exclusive=exclusive)

    def changed(self) -> None:
        self.refresh_status()

    # -- deploy ------------------------------------------------------------------------------
    def action_new(self) -> None:
        self.open_deploy_form("")

    def open_deploy_form(self, source: str, values: dict[str, str] | None = None, error: str = "") -> None:
        """The deploy form (``values`` and ``error``: reopened after a refused deploy). It checks
        before it closes: the archive (local), a server-side dry run (Kubernetes)."""
        app = self.app

        def chosen(request: DeployRequest | None) -> None:
            if request is not None:
                self.deploy(request.spec, request.how, request.values)

        if app.profile.is_local:
            form = deploy_form(
                source,
                runtime_label="local TorchServe on this machine",
                dry_run=self._dry_run,
                values=values,
                error=error,
            )
        else:
            form = deploy_form(
                source,
                runtime_label=f"Kubernetes {app.profile.location}",
                kube=True,
                defaults=app.profile.defaults,
                dry_run=self._dry_run,
                render=self._render_yaml,
                values=values,
                error=error,
            )
        self.app.push_screen(form, chosen)

    def _dry_run(self, spec: DeploymentSpec, force: bool, prune_disk: bool) -> ApplyResult:
        """The deploy form's check before it closes (runs in a thread): an ApplyResult."""
        app = self.app
        if app.runtime is None:
            where = "local runtime" if app.profile.is_local else "Kubernetes access"
            raise RuntimeFailure(f"no {where}: {app.runtime_error or 'the runtime is starting'}")
        how = DeployOptions(dry_run=True, force=force, prune_disk=prune_disk)
        return app.runtime.deploy(spec, how)

    def _render_yaml(self, spec: DeploymentSpec) -> str:
        """The YAML the deploy form previews: exactly what is applied, Secret values redacted."""
        from tirui.cluster.manifests.build import build_for_profile, to_yaml

        return to_yaml(build_for_profile(spec, self.app.profile))

    @work(exit_on_error=False, group="deploy-op")
    async def deploy(
        self, spec: DeploymentSpec, how: DeployOptions | None = None, values: dict[str, str] | None = None
    ) -> None:
        """The same deploy as ``tirui deploy``: ``runtime.deploy`` on either runtime. Refused, the
        form opens again with ``values`` (what was typed) and the reason."""
        app = self.app
        runtime = await self.runtime()
        if runtime is None:
            self.app.push_screen(MessageDialog("Deploy failed", f"no runtime: {app.runtime_error}"))
            return
        self.notify(f"Deploying {spec.name} from {spec.source}…", title="Deploy")
        try:
            result = await asyncio.to_thread(runtime.deploy, spec, how or DeployOptions())
        except (RuntimeFailure, StorageError, SpecError, OSError) as exc:
            if values:
                self.open_deploy_form(spec.source, values, f"Deploy failed: {exc}")
            else:
                self.app.push_screen(MessageDialog("Deploy failed", str(exc)))
            return
        for line in result.lines()[1:]:
            self.notify(line, title="Deploy", timeout=10)
        if result.status is not None:
            self.notify(f"{result.status.name}: {result.status.status}", title="Deploy")
        self.refresh_status()

    # -- operations (DeploymentOps, CanaryActions) -------------------------------------------
    def action_scale(self) -> None:
        self.ops.scale()

    def action_autoscale(self) -> None:
        self.ops.autoscale()

    def action_restart(self) -> None:
        self.ops.restart()

    def action_rollback(self) -> None:
        self.ops.rollback()

    def action_stop(self) -> None:
        self.ops.stop()

    def action_delete(self) -> None:
        self.ops.delete()

    def action_canary(self) -> None:
        self.canary.open()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys by what the runtime can do: autoscale needs an autoscaler (Kubernetes), stop a
        runtime that keeps stopped deployments listed, keep-running one whose deployments end with
        tirui. Unknown until the runtime exists: shown disabled."""
        needs = {"autoscale": Autoscalable, "stop": Stoppable}
        if action not in needs and action != "toggle_keep":
            return True
        runtime = self.app.runtime
        if runtime is None:
            return None
        if action == "toggle_keep":
            return runtime.stops_on_exit
        return isinstance(runtime, needs[action])

    def action_toggle_keep(self) -> None:
        app = self.app
        app.keep_deployments = not app.keep_deployments
        state = "kept running" if app.keep_deployments else "stopped"
        self.notify(
            f"Local deployments this tirui started will be {state} when it exits", title="Deployments"
        )
        self._detail()

    def _viewer(self, what: str, follow: bool = False) -> None:
        name = self.need()
        if name is None or self.app.runtime is None:
            return
        runtime = self.app.runtime
        on_close = None
        if what == "logs":
            follower = runtime.follow_logs(name)  # starts nothing until the first fetch
            fetch, on_close = follower.lines, follower.close
        elif what == "events":
            fetch = lambda: [  # noqa: E731
                f"{time.strftime('%H:%M:%S', time.localtime(ts))}  {text}"
                for ts, text in runtime.events(name)
            ]
        else:
            fetch = lambda: runtime.config_text(name).splitlines()  # noqa: E731
        title = runtime.config_title if what == "config" else what.capitalize()
        self.app.push_screen(TextViewer(f"{title} of {name}", fetch, follow=follow, on_close=on_close))

    def action_logs(self) -> None:
        self._viewer("logs", follow=True)

    def action_events(self) -> None:
        self._viewer("events", follow=True)

    def action_yaml(self) -> None:
        self._viewer("config")

    async def action_endpoint(self) -> None:
        """Where the deployment answers, its header, and curl / Python / grpcurl lines."""
        name, runtime = self.need(), self.app.runtime
        if name is None or runtime is None:
            return
        store = await self.app.get_token_store()
        profile = self.app.profile

        def fetch() -> list[str]:
            from tirui.traffic.samples import endpoint_samples
            from tirui.traffic.targets import TargetError, resolve_target

            try:
                target = resolve_target(name, profile=profile, store=store, runtime=runtime)
                status = runtime.get(name)
                return endpoint_samples(target, status.model, protocol=status.protocol).lines()
            except (TargetError, RuntimeFailure) as exc:
                return [f"{name}: {exc}"]

        self.app.push_screen(TextViewer(f"Endpoint of {name}", fetch))

    async def action_playground(self) -> None:
        name = self.need()
        if name:
            await self.app.open_for_deployment("play", name)

    async def action_metrics(self) -> None:
        name = self.need()
        if name:
            await self.app.open_for_deployment("metrics", name)
