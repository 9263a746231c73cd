"""``c`` on the Deployments screen: the canary of the selected deployment (a mixin of
:class:`~tirui.screens.deployments.DeploymentsScreen`, which provides the helpers used here)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work

from tirui.canary.policy import parse_weight
from tirui.cluster.runtime import RuntimeFailure
from tirui.screens.canary import CanaryDialog, analyze_form, policy_of, start_form, weight_form
from tirui.screens.dialogs import MessageDialog
from tirui.storage.base import StorageError

if TYPE_CHECKING:
    from tirui.cluster.runtime import DeploymentStatus, Runtime


if TYPE_CHECKING:
    from tirui.screens.base import MainScreen as _Screen
else:
    _Screen = object


class CanaryActions(_Screen):
    statuses: dict[str, DeploymentStatus]

    if TYPE_CHECKING:

        def _need(self) -> str | None: ...

        def _op(self, label: str, call: Callable[[Runtime], object]) -> Any: ...

        def _confirm(self, question: str, then: Any) -> None: ...

        async def runtime(self) -> Runtime | None: ...

    def action_canary(self) -> None:
        """Start a canary, or act on the running one."""
        name = self._need()
        if name is None:
            return
        status = self.statuses[name]
        if status.canary is None:

            def chosen(values: dict[str, str] | None) -> None:
                if values:
                    self._start_canary(name, values)

            self.app.push_screen(start_form(name, ""), chosen)
            return
        runs = self.app.canaries
        dialog = CanaryDialog(name, status.canary, runs.progress.get(name, ""))
        self.app.push_screen(dialog, lambda what: self._canary_choice(name, what))

    def _canary_choice(self, name: str, what: str | None) -> None:
        status = self.statuses.get(name)
        canary = status.canary if status is not None else None
        if not what or canary is None:
            return
        runs = self.app.canaries

        def by_hand(label: str, call: Callable[[Any], object], text: str) -> None:
            runs.stop(name, why=text)  # a decision by hand ends the analysis

            def both(rt: Any) -> None:
                call(rt)
                rt.canary_record(name, text)

            self._op(label, both)

        if what == "promote":

            def promote() -> None:
                self.notify(
                    f"Promoting {canary.version}: the stable side takes its archive; the canary goes "
                    "once that has rolled out",
                    title="Canary",
                )
                by_hand(
                    f"Promote canary of {name}", lambda rt: rt.canary_promote(name), "canary promoted by hand"
                )

            self._confirm(f"Promote {canary.version} to serve all of {name}?", promote)
        elif what == "abort":
            self._confirm(
                f"Abort the canary {canary.version} of {name}?",
                lambda: by_hand(
                    f"Abort canary of {name}", lambda rt: rt.canary_abort(name), "canary aborted by hand"
                ),
            )
        elif what == "weight":

            def weighed(values: dict[str, str] | None) -> None:
                if values:
                    w = parse_weight(values["weight"])
                    by_hand(
                        f"Canary of {name} at {w}%",
                        lambda rt: rt.canary_weight(name, w),
                        f"canary weight set to {w}% by hand",
                    )

            self.app.push_screen(weight_form(name, canary.weight), weighed)
        elif what == "analyze":
            if runs.running(name):
                runs.stop(name)
                self.notify(f"{name}: analysis stopped; the canary stays at {canary.weight}%", title="Canary")
                return

            def chosen(values: dict[str, str] | None) -> None:
                policy = policy_of(values) if values else None
                if policy is not None:
                    runs.start(self.app.runtime, name, policy)
                    self.notify(f"{name}: analysis started ({policy.describe()})", title="Canary")

            self.app.push_screen(analyze_form(name), chosen)

    @work(exit_on_error=False, group="deploy-op")
    async def _start_canary(self, name: str, values: dict[str, str]) -> None:
        app = self.app
        runtime = await self.runtime()
        if runtime is None:
            return
        policy = policy_of(values)
        weight = policy.steps[0] if policy else parse_weight(values["weight"])
        source = values["source"].strip()
        self.notify(f"Starting {source} as the canary of {name}…", title="Canary")
        described = policy.describe() if policy else ""
        try:
            status = await asyncio.to_thread(runtime.canary_start, name, source, weight, described)
        except (RuntimeFailure, StorageError, OSError) as exc:
            app.push_screen(MessageDialog("Canary failed", str(exc)))
            return
        self.notify(f"{name}: {status.text()}", title="Canary")
        if policy is not None:
            app.canaries.start(runtime, name, policy)
        self.refresh_status()

    if TYPE_CHECKING:

        def refresh_status(self) -> Any: ...
