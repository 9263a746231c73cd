"""Operations on the selected deployment — scale, autoscale, restart, rollback, stop, delete —
for the Deployments screen (its :class:`~tirui.screens.deployments.host.DeploymentsHost`): each
asks its form or question, then runs the runtime call in a worker of the screen and reports the
outcome (a dialog for a failure, a notification when done)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from tirui.cluster.runtime import Autoscalable, Stoppable
from tirui.core.errors import RuntimeFailure
from tirui.screens.dialogs import ConfirmDialog, Field, FormDialog, MessageDialog

if TYPE_CHECKING:
    from tirui.cluster.runtime import Runtime
    from tirui.screens.base import HostApp
    from tirui.screens.deployments.host import DeploymentsHost


class DeploymentOps:
    """The operations, bound to one screen."""

    def __init__(self, host: DeploymentsHost) -> None:
        self.host = host

    @property
    def app(self) -> HostApp:
        return self.host.app

    def op(self, label: str, call: Callable[[Runtime], object]) -> None:
        """Run ``call`` on the runtime in a worker (group ``deploy-op``); ``label`` titles the outcome."""
        self.host.start(self._op(label, call), "deploy-op")

    async def _op(self, label: str, call: Callable[[Runtime], object]) -> None:
        runtime = await self.app.get_runtime()
        if runtime is None:
            return
        try:
            await asyncio.to_thread(call, runtime)
        except RuntimeFailure as exc:
            self.app.push_screen(MessageDialog(label, str(exc)))
            return
        self.app.notify(f"{label}: done", title="Deployments")
        self.host.changed()

    def confirm(self, question: str, then: Callable[[], object]) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                then()

        self.app.push_screen(ConfirmDialog(question), answered)

    def scale(self) -> None:
        name = self.host.need()
        if name is None:
            return
        current = self.host.statuses[name].desired

        from tirui.limits import scale_limit

        runtime = self.app.runtime
        limit = scale_limit(runtime.scale_unit if runtime is not None else "replica")

        def check(values: dict[str, str]) -> str | None:
            return limit.problem_of(values["count"]) or None

        def chosen(values: dict[str, str] | None) -> None:
            if values:
                count = limit.parse(values["count"])
                self.op(f"Scale {name}", lambda rt: rt.scale(name, count))

        label = runtime.scale_label if runtime is not None else "Replicas"
        fields = [Field("count", label, str(current))]
        self.app.push_screen(FormDialog(f"Scale {name}", fields, validate=check), chosen)

    def autoscale(self) -> None:
        """An HPA for the selected deployment: range, metric and target; max 0 removes it."""
        name = self.host.need()
        if name is None:
            return
        if not isinstance(self.app.runtime, Autoscalable):
            self.app.push_screen(
                MessageDialog(
                    "Autoscale",
                    "Autoscaling is a Kubernetes HorizontalPodAutoscaler: use a Kubernetes profile "
                    "(: profile NAME). Locally, s sets the TorchServe workers.",
                )
            )
            return
        current = self.host.statuses[name].desired

        from tirui.limits import MAX_REPLICAS, MIN_REPLICAS

        def check(values: dict[str, str]) -> str | None:
            lo, hi = values["min"].strip(), values["max"].strip()
            if not (lo.isdigit() and hi.isdigit()):
                return "min and max are whole numbers (max 0 removes autoscaling)"
            if problem := MAX_REPLICAS.problem_of(hi) or (int(hi) and MIN_REPLICAS.problem_of(lo)):
                return problem
            if int(hi) and not 1 <= int(lo) <= int(hi):
                return f"min ({lo}) must be at least 1 and not above max ({hi})"
            if int(hi):
                from tirui.cluster.autoscale import AutoscaleError, parse_metric

                try:
                    parse_metric(values["metric"], values["target"])
                except AutoscaleError as exc:
                    return str(exc)
            return None

        def chosen(values: dict[str, str] | None) -> None:
            if values:
                lo, hi = int(values["min"]), int(values["max"])
                what = f"{lo}-{hi} on {values['metric'].strip()}" if hi else "off"
                from tirui.cluster.autoscale import parse_metric

                metric, target = parse_metric(values["metric"], values["target"]) if hi else ("cpu", "70")
                self.op(
                    f"Autoscale {name} {what}",
                    lambda rt: rt.autoscale(name, lo, hi, metric, target),
                )

        fields = [
            Field("min", "Min replicas", str(max(1, current))),
            Field("max", "Max replicas (0 removes autoscaling)", str(max(2, current * 2))),
            Field(
                "metric",
                "Metric: cpu, gpu, queue-latency-ms, inflight, requests-per-s (Prometheus + adapter "
                "rule: tirui deploy --adapter-rules) or a Pods metric",
                "cpu",
            ),
            Field(
                "target",
                "Target per pod: % for cpu/gpu; ms, requests or req/s; empty: default",
                "70",
                required=False,
            ),
        ]
        self.app.push_screen(FormDialog(f"Autoscale {name}", fields, validate=check), chosen)

    def restart(self) -> None:
        name = self.host.need()
        if name:
            self.confirm(f"Restart {name}?", lambda: self.op(f"Restart {name}", lambda rt: rt.restart(name)))

    def rollback(self) -> None:
        name = self.host.need()
        if name is None:
            return
        previous = self.host.statuses[name].previous
        if not previous:
            self.app.notify(f"{name} has served one archive only: nothing to roll back to", title="Rollback")
            return
        self.confirm(
            f"Serve {previous} again on {name}?",
            lambda: self.op(f"Rollback {name}", lambda rt: rt.rollback(name)),
        )

    def stop(self) -> None:
        name = self.host.need()
        if name and not isinstance(self.app.runtime, Stoppable):
            self.app.notify("On Kubernetes, scale to 0 replicas (s) to stop serving", title="Stop")
        elif name:
            self.confirm(
                f"Stop {name}? (it stays listed; r starts it)",
                lambda: self.op(f"Stop {name}", lambda rt: rt.stop(name)),
            )

    def delete(self) -> None:
        name = self.host.need()
        runtime = self.app.runtime
        if name and runtime is not None:
            self.confirm(
                f"Delete {name}? {runtime.delete_note}",
                lambda: self.op(f"Delete {name}", lambda rt: rt.delete(name)),
            )
