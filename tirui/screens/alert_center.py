"""The TUI's alerts: a round of the rules of ``alerts.toml`` every 10 s (the app's timer), what
fires now for the header and the Deployments table, a notification for each alert that starts
firing, the transitions booked and sent to the channels while this tirui keeps the alert book,
and the history viewer (``A``)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tirui.alerting.service import AlertService
    from tirui.metrics.alerts import Alert
    from tirui.screens.base import HostApp
    from tirui.screens.viewer import TextViewer


class AlertCenter:
    """The TUI's face of :class:`~tirui.alerting.service.AlertService`: what fires, for the
    header, the table and the notifications."""

    def __init__(self, app: HostApp) -> None:
        self.app = app
        self.firing: list[Alert] = []
        """The alerts firing now."""
        self.header = ""
        """"2 alerts firing" (or why the rules cannot be read); "" when all is well."""
        self._service: AlertService | None = None
        """The rounds of the active profile (a new profile starts afresh)."""

    async def round(self) -> None:
        """One round; the last known alerts stay while the cluster does not answer."""
        from tirui.locations import config_dir

        app = self.app
        path = config_dir() / "alerts.toml"
        if self._service is not None and self._service.profile != app.profile.name:
            await self.close()  # another profile: start afresh
            self.firing, self.header = [], ""
        if not path.exists():  # no rules: nothing to do, not even creating the runtime
            self.firing, self.header = [], ""
            return
        from tirui.core.errors import RuntimeFailure
        from tirui.metrics.alerts import AlertRuleError

        runtime = await app.get_runtime()
        if runtime is None:
            return
        if self._service is None:
            self._service = await asyncio.to_thread(self._open, path)
        try:
            result = await self._service.round(runtime, time.time())
        except AlertRuleError as exc:
            self.firing, self.header = [], f"alert rules: {exc}"
            return
        except RuntimeFailure:
            return
        for line in result.lines:  # a delivery that failed is said once per attempt
            if line.startswith(("not sent", "dropped")):
                app.notify(line, title="Alert channel", severity="warning", timeout=10)
        before = {(a.deployment, a.rule) for a in self.firing}
        for alert in result.alerts:
            if (alert.deployment, alert.rule) not in before:
                app.notify(alert.line(), title="Alert", severity="error", timeout=15)
        self.firing = result.alerts
        count = len(self.firing)
        self.header = f"{count} alert{'s' if count > 1 else ''} firing" if count else ""

    def _open(self, rules: Path) -> AlertService:
        from tirui.alerting.service import AlertService
        from tirui.locations import data_dir

        return AlertService(rules, data_dir() / "alerts", self.app.profile.name, self.app.token_store)

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
        if self._service is not None:
            service, self._service = self._service, None
            await service.aclose()
