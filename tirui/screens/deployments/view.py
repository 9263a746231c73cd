"""How a deployment reads on the Deployments screen: its table row and its detail pane, from a
:class:`~tirui.cluster.runtime.DeploymentStatus` and what the app knows beside it (firing
alerts, the canary analysis' progress). Pure functions, no widgets: every text from the
runtime, the cluster or the user is escaped before it meets markup."""

from __future__ import annotations

from collections.abc import Iterable

from rich.markup import escape as rich_escape
from rich.text import Text

from tirui.cluster.runtime import DeploymentStatus
from tirui.metrics.alerts import Alert
from tirui.torchserve.settings import settings_text
from tirui.widgets.markup import escape

STATUS_STYLE = {
    "Ready": "green",
    "Starting": "yellow",
    "Progressing": "yellow",
    "Degraded": "dark_orange",
    "NotReady": "yellow",
    "Restarting": "dark_orange",
    "Failed": "red",
    "Stopped": "dim",
}

COLUMNS = ("Name", "Model", "Status", "Ready", "Restarts", "Endpoint", "Age")


def row(s: DeploymentStatus, stale: int | None = None, alerts: int = 0) -> tuple[str | Text, ...]:
    """The table row (cells in :data:`COLUMNS` order). ``stale``: seconds since the last good
    read when the cluster does not answer (-1: never); ``alerts``: how many rules fire for it."""
    style = STATUS_STYLE.get(s.status, "")
    status = f"[{style}]{s.status}[/]" if style else s.status
    if s.autoscale_problem:
        status += " [yellow]autoscale ⚠[/]"
    if alerts:
        status += f" [bold red]🔔 {alerts}[/]"
    if stale is not None:
        status = f"[dim]{s.status}[/] [red]stale {f'{stale}s' if stale >= 0 else ''}[/]"
    model = rich_escape(f"{s.model} v{s.model_version}" if s.model_version else s.model)
    if s.canary is not None:  # (a table cell: Rich markup)
        model += f" [magenta]+v{rich_escape(s.canary.model_version or '?')} {s.canary.weight}%[/]"
    cells = (Text.from_markup(model), Text.from_markup(status))
    return (s.name, *cells, f"{s.ready}/{s.desired}", str(s.restarts), s.endpoint, s.age)


def detail(
    s: DeploymentStatus,
    *,
    firing: Iterable[Alert] = (),
    progress: str = "",
    on_exit: str = "",
) -> str:
    """The detail pane (Textual markup). ``progress``: the canary analysis' last step;
    ``on_exit``: what happens to it when tirui exits ("" for a cluster's deployments)."""
    lines = [f"[b]{escape(s.name)}[/b]  {escape(s.source)}  ({escape(s.image)})"]
    if s.reason:
        lines.append(f"[b]Reason:[/b] {escape(s.reason)}")
    if s.version:
        lines.append(f"[b]Serving:[/b] {escape(s.version)}")
    if s.settings:
        described = escape(settings_text(s.settings))
        lines.append(f"[b]TorchServe:[/b] {described} [dim](as it describes the model)[/dim]")
    if s.previous:
        lines.append(f"[b]Previous:[/b] {escape(s.previous)} [dim](b rolls back)[/dim]")
    if s.canary is not None:
        c = s.canary
        doing = f"; {escape(progress)}" if progress else ""
        lines.append(
            f"[b]Canary:[/b] {escape(c.version)} at {c.weight}%"
            + ("" if c.ready else " [yellow](not ready)[/]")
            + f" [dim](c: promote, abort, weight, analysis{doing})[/dim]"
        )
    if s.autoscale:
        lines.append(f"[b]Autoscale:[/b] {escape(s.autoscale)}")
    if s.autoscale_problem:
        lines.append(f"[yellow]⚠ {escape(s.autoscale_problem)}[/]")
    for alert in firing:
        if alert.deployment == s.name:
            lines.append(f"[bold red]🔔 {escape(alert.line())}[/]")
    for r in s.replicas:
        why = f", {r.reason}" if r.reason and r.reason != s.reason else ""
        workers = f"{r.ready_workers}/{r.workers} workers READY"
        lines.append(escape(f"  {r.name}: {r.phase}, {workers}, restarts {r.restarts}{why}"))
    if on_exit:
        lines.append(f"[dim]On exit, local deployments this tirui started are {on_exit} (k toggles).[/dim]")
    else:
        lines.append(f"[dim]Endpoint {escape(s.endpoint)} · {s.gpus} GPU(s) per replica[/dim]")
    return "\n".join(lines)
