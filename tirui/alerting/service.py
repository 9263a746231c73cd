"""One alert round, the same for the TUI (every 10 s, the app's timer) and ``tirui alerts
--watch`` (every ``--interval``): evaluate the rules against every deployment
(:class:`~tirui.alerting.watch.AlertWatch`), book the transitions and deliver them to the
channels (:class:`~tirui.alerting.notifier.Notifier`, while this process holds the alert book's
lease). The faces only say what came of it."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tirui.alerting.book import Observation
from tirui.alerting.notifier import Notifier
from tirui.alerting.watch import AlertWatch

if TYPE_CHECKING:
    from tirui.cluster.runtime import Runtime
    from tirui.metrics.alerts import Alert
    from tirui.secrets import TokenStore


@dataclass
class RoundResult:
    alerts: list[Alert] = field(default_factory=list)
    """What fires now."""
    lines: list[str] = field(default_factory=list)
    """What the book and the channels did: transitions, deliveries, failed sends."""


class AlertService:
    def __init__(
        self, rules: Path, folder: Path, profile: str, tokens: TokenStore | None, *, backoff_s: float = 5.0
    ) -> None:
        self.profile = profile
        self._watch = AlertWatch(rules)
        self._notifier = Notifier(folder, rules, profile, tokens, backoff_s=backoff_s)

    def keeps_the_book(self) -> bool:
        """This process books and sends (no other tirui holds the alert book's lease)."""
        return self._notifier.lease.held()

    async def round(self, runtime: Runtime, now: float) -> RoundResult:
        """Evaluate, book, deliver (SMTP and HTTP block: in a thread). AlertRuleError for an
        unusable rules file; the runtime's failures as they come."""
        seen = await self._watch.round(runtime)
        observation = Observation.of(seen.alerts, seen.decided, seen.deployments)
        lines = await asyncio.to_thread(self._notifier.round, observation, now)
        return RoundResult(seen.alerts, lines)

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):  # the scrapes' clients: nothing to tell anyone
            await self._watch.aclose()
        self._notifier.close()
