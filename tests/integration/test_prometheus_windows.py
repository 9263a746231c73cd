"""Long Metrics windows (1h, 6h, 24h, 7d) from a real Prometheus over a backfilled TSDB: a day of
TorchServe series for one deployment (and its canary, which must stay out), written as
OpenMetrics, turned into blocks by ``promtool tsdb create-blocks-from openmetrics``, served by
``prometheus`` and read through ``query_range``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_runtime import FakeRuntime, status
from tests.support.helpers import text, until
from tests.support.prometheus import DAY, NS, available, backfilled_prometheus
from tirui.metrics.history_range import fetch_range, step_for
from tirui.metrics.promql import PrometheusSource

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not available():
        pytest.skip("prometheus/promtool are not installed (apt install prometheus; .ci/run does)")
    with backfilled_prometheus(tmp_path_factory.mktemp("prometheus")) as url:
        yield url


def test_a_day_of_series_comes_back_at_the_charts_step(backfilled: str) -> None:
    source = PrometheusSource(backfilled, timeout=10)
    try:
        series = fetch_range(source, NS, "tiny", DAY, time.time(), 60)
    finally:
        source.close()
    step = step_for(DAY, 60)
    assert step == 720 and abs(len(series["rps"]) - DAY / step) <= 2
    rps = [v for _, v in series["rps"][1:] if v is not None]
    latency = [v for _, v in series["latency_avg"][1:] if v is not None]
    assert min(rps) > 9.8 and max(rps) < 40.2  # the stable pod's 10/s, 40/s at the busy hour
    assert min(latency) > 4.99 and max(latency) < 20.01  # never the canary's 1000/s at 100 ms
    assert any(v > 39 for v in rps) and any(v > 19 for v in latency)
    assert {v for _, v in series["cpu"]} == {42.0}
    assert series["gpu"] == [] and series["4xx"] == []  # nothing in Prometheus: an empty line


def _profiles(home: Path, prometheus: str) -> None:
    from tirui.locations import profiles_file

    profiles_file().parent.mkdir(parents=True, exist_ok=True)
    profiles_file().write_text(
        f'[profiles.k8s.kubernetes]\nkubeconfig = "{home / "none"}"\nnamespace = "{NS}"\n'
        f'prometheus_url = "{prometheus}"\n'
    )


async def _window(pilot: Any, app: Any, label: str) -> None:
    for _ in range(7):
        if f"window {label} " in text(app, "#metrics-head"):
            return
        await pilot.press("w")
        await pilot.pause()
    raise AssertionError(f"no {label} window: {text(app, '#metrics-head')}")


async def test_the_metrics_screen_draws_24h_from_prometheus(isolated: Path, backfilled: str) -> None:
    from tirui.app import TiruiApp

    _profiles(isolated, backfilled)
    app = TiruiApp(
        profile="k8s",
        start_mode="metrics",
        open_runtime=lambda profile, tokens: FakeRuntime(status("tiny"), profile=profile),
    )
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: "tiny" in text(app, "#metrics-head"))
        await _window(pilot, app, "24h")
        chart = app.screen.query_one("#chart-latency")

        def drawn() -> bool:
            return any(len(points) > 50 for _, points in chart.lines)

        await until(pilot, drawn, timeout=30)
        labels = [label for label, _ in chart.lines]
        assert labels[0] == "avg = p99 rule"
        assert "avg latency 5.00 ms" in text(app, "#metrics-head")
        assert "24h from" in text(app, "#metrics-notes") and "query_range" in text(app, "#metrics-notes")
        rps = dict(app.screen.query_one("#chart-throughput").lines)["req/s"]
        assert rps and abs(rps[-1][1] - 10) < 0.2
        await _window(pilot, app, "1m")  # back to what tirui collects itself
        assert "p99" in text(app, "#metrics-head")


async def test_without_prometheus_the_long_windows_say_why(isolated: Path) -> None:
    from tirui.app import TiruiApp

    app = TiruiApp(start_mode="metrics", open_runtime=lambda profile, tokens: FakeRuntime(status("tiny")))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "tiny" in text(app, "#metrics-head"))
        await _window(pilot, app, "7d")
        await until(pilot, lambda: "need Prometheus" in text(app, "#metrics-notes"))
        # the local profile: no Kubernetes setting to point at, and the whole sentence in view
        assert "prometheus_url" not in text(app, "#metrics-notes")
        assert "keeps the last 15 min." in text(app, "#metrics-notes")
