"""Operations on the selected deployment — scale, autoscale, restart, rollback, stop, delete — as
a mixin of :class:`~tirui.screens.deployments.DeploymentsScreen` (which provides ``_need``,
``_op`` and ``_confirm``); each runs the runtime call in a worker after its form or question."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tirui.cluster.runtime import Autoscalable, Stoppable
from tirui.screens.dialogs import Field, FormDialog, MessageDialog

if TYPE_CHECKING:
    from tirui.cluster.runtime import DeploymentStatus, Runtime
    from tirui.screens.base import MainScreen as _Screen
else:
    _Screen = object


class DeploymentOps(_Screen):
    statuses: dict[str, DeploymentStatus]

    if TYPE_CHECKING:

        def _need(self) -> str | None: ...

        def _op(self, label: str, call: Callable[[Runtime], object]) -> Any: ...

        def _confirm(self, question: str, then: Any) -> None: ...

    def action_scale(self) -> None:
        name = self._need()
        if name is None:
            return
        current = self.statuses[name].desired

        def check(values: dict[str, str]) -> str | None:
            v = values["count"].strip()
            return None if v.isdigit() else f"{v!r} is not a whole number of 0 or more"

        def chosen(values: dict[str, str] | None) -> None:
            if values:
                count = int(values["count"])
                self._op(f"Scale {name}", lambda rt: rt.scale(name, count))

        runtime = self.app.runtime
        label = runtime.scale_label if runtime is not None else "Replicas"
        fields = [Field("count", label, str(current))]
        self.app.push_screen(FormDialog(f"Scale {name}", fields, validate=check), chosen)

    def action_autoscale(self) -> None:
        """An HPA for the selected deployment: range, metric and target; max 0 removes it."""
        name = self._need()
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
        current = self.statuses[name].desired

        def check(values: dict[str, str]) -> str | None:
            lo, hi = values["min"].strip(), values["max"].strip()
            if not (lo.isdigit() and hi.isdigit()):
                return "min and max are whole numbers (max 0 removes autoscaling)"
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
                self._op(
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

    def action_restart(self) -> None:
        name = self._need()
        if name:
            self._confirm(
                f"Restart {name}?", lambda: self._op(f"Restart {name}", lambda rt: rt.restart(name))
            )

    def action_rollback(self) -> None:
        name = self._need()
        if name is None:
            return
        previous = self.statuses[name].previous
        if not previous:
            self.notify(f"{name} has served one archive only: nothing to roll back to", title="Rollback")
            return
        self._confirm(f"Serve {previous} again on {name}?", lambda: self._rollback(name))

    def _rollback(self, name: str) -> None:
        self._op(f"Rollback {name}", lambda rt: rt.rollback(name))

    def action_stop(self) -> None:
        name = self._need()
        if name and not isinstance(self.app.runtime, Stoppable):
            self.notify("On Kubernetes, scale to 0 replicas (s) to stop serving", title="Stop")
        elif name:
            self._confirm(
                f"Stop {name}? (it stays listed; r starts it)",
                lambda: self._op(f"Stop {name}", lambda rt: rt.stop(name)),
            )

    def action_delete(self) -> None:
        name = self._need()
        runtime = self.app.runtime
        if name and runtime is not None:
            self._confirm(
                f"Delete {name}? {runtime.delete_note}",
                lambda: self._op(f"Delete {name}", lambda rt: rt.delete(name)),
            )
