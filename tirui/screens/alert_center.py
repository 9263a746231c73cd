"""The TUI's alerts: a round of the rules of ``alerts.toml`` every 10 s (the app's timer), what
fires now for the header and the Deployments table, a notification for each alert that starts
firing, the transitions booked and sent to the channels while this tirui keeps the alert book,
and the history viewer (``A``)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tirui.alerting.notifier import Notifier
    from tirui.app import TiruiApp
    from tirui.metrics.alert_watch import AlertWatch, Round
    from tirui.metrics.alerts import Alert
    from tirui.screens.viewer import TextViewer


class AlertCenter:
    def __init__(self, app: TiruiApp) -> None:
        self.app = app
        self.firing: list[Alert] = []
        """The alerts firing now."""
        self.header = ""
        """"2 alerts firing" (or why the rules cannot be read); "" when all is well."""
        self._watch: tuple[str, AlertWatch] | None = None
        self._notifier: Notifier | None = None
        """Books what fires and notifies the channels while this tirui holds the alert book
        (no ``tirui alerts --watch`` runs on the data dir)."""

    async def round(self) -> None:
        """One evaluation, booked and delivered; the last known alerts stay while the cluster
        does not answer."""
        from tirui.locations import config_dir

        app = self.app
        path = config_dir() / "alerts.toml"
        if self._watch is not None and self._watch[0] != app.profile.name:
            await self.close()  # another profile: start afresh
            self.firing, self.header = [], ""
        if not path.exists():  # no rules: nothing to do, not even creating the runtime
            self.firing, self.header = [], ""
            return
        from tirui.cluster.runtime import RuntimeFailure
        from tirui.metrics.alert_watch import AlertWatch
        from tirui.metrics.alerts import AlertRuleError

        if self._watch is None:
            self._watch = (app.profile.name, AlertWatch(path))
        runtime = await app.get_runtime()
        if runtime is None:
            return
        try:
            seen = await self._watch[1].round(runtime)
            await self._send(seen)
        except AlertRuleError as exc:
            self.firing, self.header = [], f"alert rules: {exc}"
            return
        except RuntimeFailure:
            return
        before = {(a.deployment, a.rule) for a in self.firing}
        for alert in seen.alerts:
            if (alert.deployment, alert.rule) not in before:
                app.notify(alert.line(), title="Alert", severity="error", timeout=15)
        self.firing = seen.alerts
        count = len(self.firing)
        self.header = f"{count} alert{'s' if count > 1 else ''} firing" if count else ""

    async def _send(self, seen: Round) -> None:
        """Book the round and deliver (threads: SMTP and HTTP block); a delivery that failed is
        said once per attempt (the outbox retries with back-off)."""
        from tirui.alerting.book import Observation

        if self._notifier is None:
            from tirui.alerting.notifier import Notifier
            from tirui.locations import config_dir, data_dir

            rules = config_dir() / "alerts.toml"
            self._notifier = Notifier(
                data_dir() / "alerts", rules, self.app.profile.name, self.app.token_store
            )
        observation = Observation.of(seen.alerts, seen.decided, seen.deployments)
        lines = await asyncio.to_thread(self._notifier.round, observation, time.time())
        for line in lines:
            if line.startswith(("not sent", "dropped")):
                self.app.notify(line, title="Alert channel", severity="warning", timeout=10)

    def history(self) -> TextViewer:
        """Past firings with start, end and peak, then those firing now (the book as saved,
        whoever keeps it: this tirui or ``tirui alerts --watch``)."""
        from tirui.alerting.book import AlertBook
        from tirui.alerting.events import history_lines
        from tirui.locations import data_dir
        from tirui.screens.viewer import TextViewer

        folder = data_dir() / "alerts"

        def fetch() -> list[str]:
            events = AlertBook(folder).history()
            return history_lines(events) if events else ["No alert has fired yet."]

        return TextViewer("Alert history", fetch, follow=True)

    async def close(self) -> None:
        if self._watch is not None:
            with contextlib.suppress(Exception):
                await self._watch[1].aclose()
            self._watch = None
        if self._notifier is not None:
            self._notifier.close()
            self._notifier = None
