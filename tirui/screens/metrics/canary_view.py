"""The Metrics screen's stable-vs-canary table: each side's requests from its own access log
(:meth:`~tirui.cluster.runtime.Canaries.canary_feed`), over the screen's window."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from tirui.canary.window import SideWindow, comparison
from tirui.widgets.markup import escape

if TYPE_CHECKING:
    from tirui.canary.analysis import Progress
    from tirui.canary.feed import SideFeed
    from tirui.canary.state import CanaryStatus
    from tirui.cluster.runtime import Runtime

STATUS_EVERY_S = 5.0
"""How often the canary's presence is checked (a request to the cluster on Kubernetes)."""


class CanaryView:
    def __init__(self) -> None:
        self.status: CanaryStatus | None = None
        self.feed: SideFeed | None = None
        self.window = SideWindow()
        self._checked = 0.0
        self.unattributed = 0

    def close(self) -> None:
        if self.feed is not None:
            self.feed.close()
        self.feed, self.status, self._checked = None, None, 0.0
        self.window = SideWindow()

    async def collect(self, runtime: Runtime | None, name: str) -> None:
        """Read what both sides logged since the last call (no-op without a canary)."""
        if not name or runtime is None:
            return
        if time.monotonic() - self._checked >= STATUS_EVERY_S:
            self._checked = time.monotonic()
            try:
                status = await asyncio.to_thread(runtime.canary_status, name)
            except Exception:  # the deployment went away: the screen's own note says so
                status = None
            if status is None or (self.status is not None and status.version != self.status.version):
                self.close()
                self._checked = time.monotonic()
            self.status = status
            if status is not None and self.feed is None:
                try:
                    self.feed = await asyncio.to_thread(runtime.canary_feed, name)
                except Exception:
                    self.feed = None
        if self.feed is not None:
            stable, canary = await asyncio.to_thread(self.feed.take)
            self.window.add(stable, canary, time.time())
            self.unattributed = getattr(self.feed, "unattributed", 0)

    def render(self, window_s: float, now: float, progress: str, step: Progress | None = None) -> str:
        """Rich markup; "" without a canary. With an analysis running (``step``), the numbers are
        its step's window, the requests its verdict is on; otherwise the screen's window."""
        s = self.status
        if s is None:
            return ""
        if step is not None:
            stable, canary = step.stable, step.canary
            seconds = max(step.canary.seconds, step.stable.seconds)
            where = f"this step's window ({seconds:.0f}s at {step.weight}%)"
        else:
            stable, canary = self.window.stats(window_s, now)
            where = f"the last {window_s:.0f}s"
        head = f"[b magenta]canary[/] {escape(s.version)} at [b]{s.weight}%[/]"
        if not s.ready:
            head += " [yellow](not ready)[/]"
        head += f" · {escape(progress)}" if progress else " · no analysis running here"
        lines = [head, f"[dim]{'':8}{'req/s':>8}{'p50':>10}{'p99':>10}{'errors':>9}[/]"]
        for side, rps, p50, p99, errors in comparison(stable, canary):
            lines.append(f"{side:8}{rps:>8}{p50:>10}{p99:>10}{errors:>9}")
        if stable.p99_ms and canary.p99_ms:
            lines[-1] += f"  p99 x{canary.p99_ms / stable.p99_ms:.2f}"
        note = f"{where}; split by {s.split}"
        if self.unattributed:
            note += f"; {self.unattributed} gRPC request(s) not attributed (TorchServe logs no version)"
        lines.append(f"[dim]{escape(note)}[/]")
        return "\n".join(lines)
