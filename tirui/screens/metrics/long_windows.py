"""The Metrics screen's long windows (1h, 6h, 24h, 7d): what the last Prometheus range read
returned, when to read again, and how the four charts draw it. Owned by
:class:`~tirui.screens.metrics.screen.MetricsScreen`, which runs :meth:`LongWindows.read` in a worker."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tirui.config import Profile
from tirui.metrics.history_range import LONG_WINDOWS, Points

REFRESH = 60.0
"""Seconds between Prometheus range reads while a long window is shown."""
NO_PROMETHEUS = "1h-7d need Prometheus: set [kubernetes] prometheus_url (tirui keeps 15 min)."
"""Short enough for one line at 80 columns."""
NO_PROMETHEUS_LOCAL = "1h-7d need Prometheus, on a Kubernetes profile; tirui keeps the last 15 min."
CHARTS = {
    "latency": [("avg = p99 rule", "latency_avg"), ("queue avg", "queue_avg")],
    "throughput": [("req/s", "rps")],
    "errors": [("2xx (all ports)", "2xx"), ("4xx", "4xx"), ("5xx", "5xx")],
    "hardware": [("cpu", "cpu"), ("mem", "mem"), ("gpu", "gpu"), ("gpu mem", "gpu_mem")],
}
"""Chart → (legend, series). The latency average is what the alert rules' p99 watches on
Prometheus (TorchServe exports no per-request latency); the note under the charts says so."""


class LongWindows:
    def __init__(self) -> None:
        self.series: dict[str, Points] = {}
        self.note = ""
        self._key: tuple[str, int] = ("", 0)
        self._at = 0.0
        self._source: Any = None

    def due(self, deployment: str, window: int) -> bool:
        """Whether to read now (another deployment or window, or :data:`REFRESH` passed);
        True marks the read as started."""
        key = (deployment, window)
        if key == self._key and time.monotonic() - self._at < REFRESH:
            return False
        self._key, self._at = key, time.monotonic()
        return True

    async def read(self, profile: Profile, deployment: str, window: int, now: float, width: int) -> None:
        """One range read (in a thread); the series stay as they were when it fails (the note
        says why)."""
        from tirui.metrics.history_range import ScrapeError, fetch_range

        url = profile.kubernetes.prometheus_url
        if not url:
            self.series, self.note = {}, NO_PROMETHEUS_LOCAL if profile.is_local else NO_PROMETHEUS
            return
        if self._source is None:
            from tirui.metrics.promql import PrometheusSource

            self._source = PrometheusSource(url, timeout=10.0)
        namespace = profile.kubernetes.namespace
        try:
            got = await asyncio.to_thread(
                fetch_range, self._source, namespace, deployment, window, now, width
            )
        except ScrapeError as exc:
            self.note = str(exc)
            return
        if self._key == (deployment, window):  # not changed meanwhile
            self.series = got
            self.note = (
                f"{LONG_WINDOWS[window]} from {url} (query_range) · TorchServe exports no per-request "
                "latency: the average is what the p99 alert rule watches on Prometheus"
            )

    def latest_latency(self) -> float | None:
        return next((v for _, v in reversed(self.series.get("latency_avg", [])) if v is not None), None)

    def draw(self, charts: dict[str, Any], window: int, fallback_now: float) -> None:
        """Each chart from the last read, ending where the data ends (x: hours ago)."""
        ends = [points[-1][0] for points in self.series.values() if points]
        now = max(ends) if ends else fallback_now
        for name, pairs in CHARTS.items():
            charts[name].draw([(label, self.series.get(key, [])) for label, key in pairs], now, window)

    def reset(self) -> None:
        """Another profile: another Prometheus."""
        self.close()
        self.series, self.note, self._key, self._at = {}, "", ("", 0), 0.0

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None
