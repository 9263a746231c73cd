"""Main screens whose features are not built yet: each says so instead of pretending."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widget import Widget

from tirui.screens.base import MainScreen
from tirui.widgets.empty_state import EmptyState


class MetricsScreen(MainScreen):
    """Live latency / throughput / hardware charts."""

    TITLE = "Metrics"
    MODE = "metrics"

    def compose_body(self) -> Iterable[Widget]:
        yield EmptyState(
            "Metrics — not built yet",
            "Live charts of requests/s, average and p50/p90/p99 latency, errors and CPU/GPU use,\n"
            "scraped from TorchServe's metrics endpoint, arrive with the metrics pipeline.",
        )
