"""Metrics: live charts of one deployment from TorchServe's own metrics and access log.

Once a second a worker collects (concurrent scrapes, log tails); the numbers redraw each second,
the charts once per braille dot of their time axis (:func:`~tirui.widgets.chart.redraw_period`),
and only while this screen is shown and not paused. Percentiles come from the access
log (exact per-request latencies), or from a ``_bucket`` histogram where an endpoint has one; the
chart legend names the source.

Windows of 1 hour and more come from the profile's Prometheus (``prometheus_url``), through
``query_range`` (:mod:`tirui.metrics.history_range`), refreshed every minute while shown; without
one those windows say why they are empty.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.widget import Widget
from textual.widgets import Static

from tirui.locations import styles_dir
from tirui.metrics.history_range import LONG_WINDOWS
from tirui.metrics.series import AGGREGATE, MetricsPipeline
from tirui.screens.base import MainScreen
from tirui.screens.dialogs import Field, FormDialog
from tirui.screens.metrics.canary_view import CanaryView
from tirui.screens.metrics.long_windows import LongWindows
from tirui.widgets.markup import escape

LIVE_WINDOWS = {60: "1m", 300: "5m", 900: "15m"}
"""What tirui collects itself (since it started)."""
WINDOWS = (*LIVE_WINDOWS, *LONG_WINDOWS)
LABELS = {**LIVE_WINDOWS, **LONG_WINDOWS}


def _fmt(v: float | None, unit: str = "ms") -> str:
    return "-" if v is None else f"{v:.1f} {unit}" if v >= 10 else f"{v:.2f} {unit}"


class MetricsScreen(MainScreen):
    """Four charts: latency, throughput, errors, hardware (or a custom metric)."""

    CSS_PATH = styles_dir() / "metrics.tcss"

    TITLE = "Metrics"
    MODE = "metrics"
    BINDINGS = [
        Binding("w", "window", "Window 1m/5m/15m/1h/6h/24h/7d"),
        Binding("space", "pause", "Pause"),
        Binding("a", "aggregate", "All / per replica"),
        Binding("n", "next_deployment", "Next deployment"),
        Binding("c", "custom", "Custom metric"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._collecting = False
        self.deployment: str = ""
        self.window = 300
        self.paused = False
        self.per_replica = False
        self.pipeline = MetricsPipeline()
        self.collector: Any = None
        self._charts_at = 0.0
        """When the charts were last drawn (monotonic)."""
        self.canary = CanaryView()
        self.long = LongWindows()
        """1h and more: the last Prometheus range read."""

    def compose_body(self) -> Iterable[Widget]:
        from tirui.widgets.chart import SeriesChart  # plotext: imported when the screen is first shown

        with Vertical(id="metrics-body"):
            yield Static("", id="metrics-head")
            yield Static("", id="metrics-canary")
            with Grid(id="metrics-grid"):
                yield SeriesChart("latency", unit="ms", id="chart-latency")
                yield SeriesChart("throughput", unit="req/s", id="chart-throughput")
                yield SeriesChart("responses", unit="per s", id="chart-errors")
                yield SeriesChart("hardware", unit="%", id="chart-hardware")
            yield Static("", id="metrics-notes", classes="hint")

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        self._head()

    async def on_unmount(self) -> None:
        if self.collector is not None:
            await self.collector.aclose()
        self.canary.close()
        self.long.close()

    def on_profile_changed(self) -> None:
        self.long.reset()
        self.use_deployment("")

    @property
    def long_window(self) -> bool:
        return self.window in LONG_WINDOWS

    # -- what to show ------------------------------------------------------------------------
    def use_deployment(self, name: str, model: str = "") -> None:
        """Start charting ``name`` (``m`` in Deployments); the series start empty."""
        if name != self.deployment:
            self.deployment = name
            self.canary.close()
            self.pipeline = MetricsPipeline(model=model)
            if self.collector is not None:
                self.collector.reset(self.pipeline)
        self._head()
        self.redraw()

    def _tick(self) -> None:
        # one collection at a time: a slow cluster makes the next tick wait, not pile up threads
        if not self.app.clock.running:
            return
        shown = self.is_active and not self.paused
        if self.long_window and shown and self.long.due(self.deployment, self.window):
            self.read_long()
        if not self._collecting:
            self.collect()

    @work(exit_on_error=False, exclusive=True, group="metrics-long")
    async def read_long(self) -> None:
        """One Prometheus range read of the shown long window, then the charts."""
        if self.deployment or not self.app.profile.kubernetes.prometheus_url:
            width = self._chart("latency").size.width
            now = self.app.clock.now()
            await self.long.read(self.app.profile, self.deployment, self.window, now, width)
        if self.long_window:
            self.redraw()

    @work(exit_on_error=False, exclusive=True, group="metrics-collect")
    async def collect(self) -> None:
        self._collecting = True
        try:
            await self._collect()
        finally:
            self._collecting = False

    async def _collect(self) -> None:
        import asyncio

        app = self.app
        runtime = await app.get_runtime()
        if runtime is None:
            self._note(f"No Kubernetes access: {app.runtime_error}")
            return
        from tirui.core.errors import RuntimeFailure

        if not self.deployment:
            try:
                statuses = await asyncio.to_thread(runtime.list)
            except RuntimeFailure as exc:
                self._note(f"Cannot list deployments: {exc}")
                return
            if not statuses:
                self._note("No deployments: deploy one (2, then n) and its charts appear here.")
                return
            self.use_deployment(statuses[0].name, statuses[0].model)
        try:
            sources = await asyncio.to_thread(runtime.metrics_sources, self.deployment)
        except Exception as exc:  # the deployment was deleted
            self._note(f"{self.deployment}: {exc}")
            return
        if self.collector is None:
            from tirui.metrics.collector import Collector

            self.collector = Collector(self.pipeline, backfill=256 * 1024)
        if not sources:
            self._note(f"{self.deployment} is not running: no replica to scrape.")
        await self.collector.collect(sources)
        await self.canary.collect(runtime, self.deployment)
        if self.is_active and not self.paused:
            self.redraw(charts=self._charts_due())

    # -- drawing -----------------------------------------------------------------------------
    def _chart(self, name: str) -> Any:
        return self.query_one(f"#chart-{name}")

    def _note(self, text: str) -> None:
        self.query_one("#metrics-notes", Static).update(Text(text))

    def _head(self) -> None:
        p = self.pipeline
        now = self.app.clock.now()
        q = p.percentiles(self.window, now)
        mode = "per replica" if self.per_replica else "aggregate"
        state = "[b yellow]paused[/]" if self.paused else "live"
        label = LABELS[self.window]
        panel = self.query_one("#metrics-canary", Static)
        runs = self.app.canaries
        text = self.canary.render(
            self.window, now, runs.progress.get(self.deployment, ""), runs.steps.get(self.deployment)
        )
        panel.set_class(bool(text), "-shown")
        panel.update(text)
        if self.long_window:
            numbers = f"avg latency {_fmt(self.long.latest_latency())} · no p99 in Prometheus"
            mode = "Prometheus"
        else:
            numbers = (
                f"p50 {_fmt(q[0.5])} · p90 {_fmt(q[0.9])} · p99 {_fmt(q[0.99])} ({p.percentile_source()})"
            )
        self.query_one("#metrics-head", Static).update(
            f"[b]{escape(self.deployment or '(no deployment)')}[/b] · window {label} · {mode} · {state} · "
            + numbers
        )

    def _charts_due(self) -> bool:
        from tirui.widgets.chart import redraw_period

        width = self._chart("latency").size.width
        return time.monotonic() - self._charts_at >= redraw_period(self.window, width) - 0.05

    def redraw(self, now: float | None = None, *, charts: bool = True) -> None:
        """The head line and notes; the charts too unless ``charts`` is False."""
        if self.long_window:
            shown = {name: self._chart(name) for name in ("latency", "throughput", "errors", "hardware")}
            self.long.draw(shown, self.window, self.app.clock.now())
            self._head()
            self._note(self.long.note or f"reading {LABELS[self.window]} from Prometheus…")
            return
        if charts:
            self._draw_charts(now)
        self._head()
        p = self.pipeline
        notes = [f"{r.name}: {r.note}" for r in p.replicas.values() if r.note and r.note != "ok"]
        if self.collector is not None and self.collector.sampling:
            notes.insert(0, self.collector.sampling)
        self._note(" · ".join(notes) if notes else f"{len(p.replicas)} replica(s) reporting")

    def _draw_charts(self, now: float | None = None) -> None:
        self._charts_at = time.monotonic()
        now = now or self.app.clock.now()
        p = self.pipeline
        replicas = sorted(p.replicas) if self.per_replica else [AGGREGATE]
        source = "access log" if "access log" in p.percentile_source() else "histogram"
        pkey = "p" if source == "access log" else "hist_p"

        def lines(series: list[tuple[str, str]]) -> list[tuple[str, Any]]:
            out = []
            for replica in replicas:
                suffix = "" if replica == AGGREGATE else f" {replica}"
                for label, key in series:
                    out.append((label + suffix, p.points(key, replica, self.window, now)))
            return out

        w = self.window
        self._chart("latency").draw(
            lines(
                [("avg", "latency_avg"), (f"p50 ({source})", f"{pkey}50"), (f"p99 ({source})", f"{pkey}99")]
            ),
            now,
            w,
        )
        # both from the access log's inference lines (HTTP and gRPC); active = busy time / elapsed
        # in flight as the pods' auth proxies count it, when Prometheus scrapes their proxy port
        proxy = [("in flight (proxy)", "inflight")] if "inflight" in p.rings else []
        self._chart("throughput").draw(lines([("req/s", "rps"), ("active (log)", "active"), *proxy]), now, w)
        self._chart("errors").draw(lines([("2xx", "2xx"), ("4xx", "4xx"), ("5xx", "5xx")]), now, w)
        hardware = self._chart("hardware")
        if p.watch_custom:
            hardware.draw(lines([(p.watch_custom, f"custom:{p.watch_custom}")]), now, w, title=p.watch_custom)
        else:
            hardware.draw(
                lines([("cpu", "cpu"), ("mem", "mem"), ("gpu", "gpu"), ("gpu mem", "gpu_mem")]), now, w
            )

    # -- actions -----------------------------------------------------------------------------
    def action_window(self) -> None:
        self.window = WINDOWS[(WINDOWS.index(self.window) + 1) % len(WINDOWS)]
        self.redraw()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.redraw()

    def action_aggregate(self) -> None:
        self.per_replica = not self.per_replica
        self.redraw()

    @work(exit_on_error=False, group="metrics-nav")
    async def action_next_deployment(self) -> None:
        import asyncio

        runtime = await self.app.get_runtime()
        if runtime is None:
            return
        from tirui.core.errors import RuntimeFailure

        try:
            statuses = await asyncio.to_thread(runtime.list)
        except RuntimeFailure as exc:
            self._note(f"Cannot list deployments: {exc}")
            return
        names = [s.name for s in statuses]
        if names:
            i = names.index(self.deployment) + 1 if self.deployment in names else 0
            chosen = statuses[i % len(names)]
            self.use_deployment(chosen.name, chosen.model)

    def action_custom(self) -> None:
        names = sorted(self.pipeline.custom_names)
        note = "Known: " + ", ".join(names[:40]) if names else "No metric names scraped yet."

        def chosen(values: dict[str, str] | None) -> None:
            if values is not None:
                self.pipeline.watch_custom = values["name"].strip()
                self.redraw()

        fields = [
            Field("name", "Metric name (empty: back to hardware)", self.pipeline.watch_custom, required=False)
        ]
        self.app.push_screen(FormDialog("Custom metric", fields, note=note), chosen)
