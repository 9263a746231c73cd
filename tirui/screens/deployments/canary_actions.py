"""``c`` on the Deployments screen: the canary of the selected deployment (start one, or
promote, abort, re-weigh or analyse the running one), for the screen's
:class:`~tirui.screens.deployments.host.DeploymentsHost`. The dialogs run in order in one worker
(``push_screen_wait``); the change itself runs as a deployment operation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from tirui.canary.policy import parse_weight
from tirui.core.errors import RuntimeFailure
from tirui.screens.deployments.canary import CanaryDialog, analyze_form, policy_of, start_form, weight_form
from tirui.screens.dialogs import ConfirmDialog, MessageDialog
from tirui.storage.base import StorageError

if TYPE_CHECKING:
    from tirui.cluster.runtime import Runtime
    from tirui.screens.base import HostApp
    from tirui.screens.deployments.host import DeploymentsHost
    from tirui.screens.deployments.ops import DeploymentOps


class CanaryActions:
    """The canary dialogs, bound to one screen; decisions run through its operations."""

    def __init__(self, host: DeploymentsHost, ops: DeploymentOps) -> None:
        self.host = host
        self.ops = ops

    @property
    def app(self) -> HostApp:
        return self.host.app

    def open(self) -> None:
        """Start a canary, or act on the running one."""
        name = self.host.need()
        if name is not None:
            self.host.start(self._dialogs(name), "canary-dialogs", exclusive=True)

    async def _dialogs(self, name: str) -> None:
        """The dialogs in order: the start form, or what to do with the running canary and, for
        a promotion or an abort, the confirmation; then the change, in the ``deploy-op`` worker."""
        app = self.app
        status = self.host.statuses[name]
        if status.canary is None:
            values = await app.push_screen_wait(start_form(name, ""))
            if values:
                self.host.start(self._start(name, values), "deploy-op")
            return
        runs = app.canaries
        what = await app.push_screen_wait(CanaryDialog(name, status.canary, runs.progress.get(name, "")))
        canary = status.canary
        if what == "promote":
            if await app.push_screen_wait(ConfirmDialog(f"Promote {canary.version} to serve all of {name}?")):
                self.app.notify(
                    f"Promoting {canary.version}: the stable side takes its archive; the canary goes "
                    "once that has rolled out",
                    title="Canary",
                )
                self._by_hand(
                    name, "Promote canary", lambda rt: rt.canary_promote(name), "canary promoted by hand"
                )
        elif what == "abort":
            if await app.push_screen_wait(ConfirmDialog(f"Abort the canary {canary.version} of {name}?")):
                self._by_hand(
                    name, "Abort canary", lambda rt: rt.canary_abort(name), "canary aborted by hand"
                )
        elif what == "weight":
            values = await app.push_screen_wait(weight_form(name, canary.weight))
            if values:
                w = parse_weight(values["weight"])
                self._by_hand(
                    name,
                    f"Canary at {w}%",
                    lambda rt: rt.canary_weight(name, w),
                    f"canary weight set to {w}% by hand",
                )
        elif what == "analyze":
            if runs.running(name):
                runs.stop(name)
                self.app.notify(
                    f"{name}: analysis stopped; the canary stays at {canary.weight}%", title="Canary"
                )
                return
            values = await app.push_screen_wait(analyze_form(name))
            policy = policy_of(values) if values else None
            if policy is not None and app.runtime is not None:
                runs.start(app.runtime, name, policy)
                self.app.notify(f"{name}: analysis started ({policy.describe()})", title="Canary")

    def _by_hand(self, name: str, label: str, call: Callable[[Runtime], object], text: str) -> None:
        """A decision by hand: it ends the analysis, is applied, and is recorded beside the canary."""
        self.app.canaries.stop(name, why=text)

        def both(rt: Runtime) -> None:
            call(rt)
            rt.canary_record(name, text)

        self.ops.op(f"{label} of {name}", both)

    async def _start(self, name: str, values: dict[str, str]) -> None:
        app = self.app
        runtime = await app.get_runtime()
        if runtime is None:
            return
        policy = policy_of(values)
        weight = policy.steps[0] if policy else parse_weight(values["weight"])
        source = values["source"].strip()
        self.app.notify(f"Starting {source} as the canary of {name}…", title="Canary")
        described = policy.describe() if policy else ""
        try:
            status = await asyncio.to_thread(runtime.canary_start, name, source, weight, described)
        except (RuntimeFailure, StorageError, OSError) as exc:
            app.push_screen(MessageDialog("Canary failed", str(exc)))
            return
        self.app.notify(f"{name}: {status.text()}", title="Canary")
        if policy is not None:
            app.canaries.start(runtime, name, policy)
        self.host.changed()
