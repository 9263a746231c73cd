"""The Metrics screen with deterministic data: Pilot keys and an SVG snapshot."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from tirui.app import TiruiApp
from tirui.core.clock import Clock
from tirui.metrics.accesslog import AccessEntry
from tirui.metrics.scrape import parse
from tirui.metrics.series import MetricsPipeline, TickInput

T0 = 1_800_000_000.0


def synthetic() -> MetricsPipeline:
    """Two replicas over two minutes: 10 and 5 req/s, ~4 ms average, one replica down for 10 s."""
    p = MetricsPipeline(model="tiny")
    latency_total = {"tiny-0": 0.0, "tiny-1": 0.0}
    for i in range(121):
        now = T0 + i
        inputs: dict[str, TickInput] = {}
        for name, rate, cpu in (("tiny-0", 10, 40.0), ("tiny-1", 5, 25.0)):
            latency_total[name] += rate * (4000 + 500 * (i % 7))  # µs: 4.0-7.0 ms per request
            if name == "tiny-1" and 60 <= i < 70:
                inputs[name] = TickInput(error="connection refused")
                continue
            n = rate * (i + 1)
            text = (
                "# TYPE ts_inference_requests_total counter\n"
                f'ts_inference_requests_total{{model_name="tiny",model_version="1",hostname="{name}"}} {n}\n'
                "# TYPE ts_inference_latency_microseconds counter\n"
                f'ts_inference_latency_microseconds{{model_name="tiny",model_version="1",hostname="{name}"}} '
                f"{latency_total[name]}\n"
                "# TYPE Requests2XX counter\n"
                f'Requests2XX{{Level="Host",Hostname="{name}"}} {n}\n'
                "# TYPE CPUUtilization gauge\n"
                f'CPUUtilization{{Level="Host",Hostname="{name}"}} {cpu + (i % 10)}\n'
            )
            entries = [AccessEntry(now, "POST", "/predictions/tiny", 200, 3 + (k % 5)) for k in range(rate)]
            inputs[name] = TickInput(parse(text, now), entries=entries)
        p.tick(now, inputs)
    return p


async def prepare(pilot: Any) -> None:
    await pilot.press("3")
    await pilot.pause()
    screen = pilot.app.screen
    screen.deployment = "tiny"
    screen.pipeline = synthetic()
    screen.redraw()
    await pilot.pause()


def test_metrics_snapshot(snap_compare: Any) -> None:
    assert snap_compare(TiruiApp(clock=Clock(T0 + 120)), terminal_size=(100, 30), run_before=prepare)


async def test_metrics_keys() -> None:
    app = TiruiApp(clock=Clock(T0 + 120))
    async with app.run_test(size=(100, 30)) as pilot:
        await prepare(pilot)
        head = lambda: str(app.screen.query_one("#metrics-head", Static).render())  # noqa: E731
        assert "window 5m" in head() and "aggregate" in head() and "(access log)" in head()
        assert "p50 5.0" in head() or "p50 4.9" in head() or "p50 5.1" in head()
        await pilot.press("w")
        assert "window 15m" in head()
        for label in ("1h", "6h", "24h", "7d"):  # from Prometheus: the local profile has none
            await pilot.press("w")
            assert f"window {label} " in head() and "no p99 in Prometheus" in head()
        await pilot.press("w")
        assert "window 1m" in head()
        await pilot.press("a")
        assert "per replica" in head()
        await pilot.press("space")
        assert "paused" in head()
        p = app.screen.pipeline
        assert p.latest("rps") == 15.0 and p.latest("rps", "tiny-1") == 5.0
        gap = [v for t, v in p.points("rps", "tiny-1", 300, T0 + 120) if T0 + 60 <= t < T0 + 70]
        assert gap == [None] * 10


async def test_charts_of_quantities_never_go_below_zero() -> None:
    """A flat rate (0 req/s while idle) and a small one: the y axis starts at 0, not -0.33."""
    import re

    from rich.text import Text
    from textual.app import App, ComposeResult

    from tirui.widgets.chart import SeriesChart

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield SeriesChart("rate", unit="req/s", id="c")

    for ys in ([0.0, 0.0, 0.0], [0.1, 0.3, 0.2], [None, None, None]):
        app = One()
        async with app.run_test(size=(60, 16)) as pilot:
            chart = app.query_one("#c", SeriesChart)
            chart.draw([("all", [(T0 - 20, ys[0]), (T0 - 10, ys[1]), (T0, ys[2])])], T0, 60)
            await pilot.pause()
            plain = Text.from_ansi(chart.plt.build()).plain
            ticks = [float(m) for m in re.findall(r"^\s*(-?[\d.]+)┤", plain, re.M)]
            assert ticks and min(ticks) == 0.0, plain
            if ys[1]:
                assert max(ticks) >= 0.3, plain
