"""The load-test panel: settings, live progress, results and a latency histogram; JSON export."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static
from textual.worker import Worker

from tirui.locations import styles_dir
from tirui.screens.dialog_base import Dialog
from tirui.screens.dialogs import Field, FormDialog
from tirui.screens.worker_failures import ReportsWorkerFailures
from tirui.traffic.engine.load import LoadResult, LoadSpec
from tirui.traffic.engine.pool import EngineError
from tirui.traffic.loadtest import run_load, spec_for_request
from tirui.traffic.playground import PlaygroundRequest
from tirui.widgets.keybar import KeyBar
from tirui.widgets.markup import escape

if TYPE_CHECKING:
    from tirui.torchserve.target import Target

CHART_PERIOD = 1.0
"""Seconds between redraws of the charts during a run (the progress line follows every report)."""


class LoadTestDialog(ReportsWorkerFailures, Dialog[None]):
    """ctrl+s starts, esc cancels a running test (or closes), ctrl+x exports the result."""

    CSS_PATH = [styles_dir() / "viewer.tcss", styles_dir() / "loadtest.tcss"]

    BINDINGS = [
        Binding("ctrl+s", "start", "Start"),
        Binding("escape", "cancel_or_close", "Cancel / close"),
        Binding("ctrl+x", "export", "Export JSON", priority=True),  # over the inputs' "cut"
    ]

    def __init__(self, req: PlaygroundRequest, target: Target) -> None:
        super().__init__(classes="dialog")
        self.req = req
        self.target = target
        self.cancel_event = asyncio.Event()
        self.result: LoadResult | None = None
        self.running = False
        self.drawn_seconds = 0
        """Seconds of the run the latency-over-time line shows."""

    def compose(self) -> ComposeResult:
        from textual_plotext import PlotextPlot

        what = (
            f"{self.req.method} {self.req.path}" if self.req.protocol == "http" else f"gRPC {self.req.preset}"
        )
        with Vertical(classes="dialog-box viewer-box"):
            yield Label(f"Load test: {what} on {self.target.name}", classes="dialog-title", markup=False)
            with Horizontal(classes="lt-row"):
                yield Label("requests")
                yield Input("200", id="lt-requests", compact=True)
                yield Label("or s")
                yield Input("", id="lt-duration", placeholder="-", compact=True)
                yield Label("conns")
                yield Input("8", id="lt-concurrency", compact=True)
                yield Label("rate/s")
                yield Input("", id="lt-rate", placeholder="closed", compact=True)
                yield Label("workers")
                yield Input("", id="lt-workers", placeholder="auto", compact=True)
            yield Static(
                "ctrl+s starts · esc cancels/closes · ctrl+x exports JSON · a rate runs an open loop",
                id="lt-progress",
            )
            yield Static("", id="lt-summary")
            with Horizontal(id="lt-charts"):
                yield PlotextPlot(id="lt-hist")
                yield PlotextPlot(id="lt-timeline")
        yield KeyBar(id="keybar")

    def read_spec(self) -> LoadSpec:
        def number(widget_id: str, kind: type) -> Any:
            """Digits (a whole number), or digits with a decimal point where ``kind`` is float:
            ``1e3``, ``inf`` and ``nan`` are refused in every field alike."""
            text = self.query_one(widget_id, Input).value.strip()
            if not text:
                return None
            from tirui.limits import is_whole_number

            whole, dot, frac = text.partition(".")
            digits = is_whole_number(whole) and (not dot or is_whole_number(frac))
            if not digits or (dot and kind is int):
                what = "a whole number" if kind is int else "a number (digits and one '.')"
                raise ValueError(f"{text[:40]!r} is not {what}")
            return kind(text)

        spec = spec_for_request(self.req, self.target)
        duration = number("#lt-duration", float)
        spec.requests = None if duration else number("#lt-requests", int)
        spec.duration = duration
        spec.concurrency = number("#lt-concurrency", int) or 1
        spec.rate = number("#lt-rate", float)
        spec.workers = number("#lt-workers", int) or 0
        spec.validate()
        return spec

    def action_start(self) -> None:
        if self.running:
            return
        try:
            spec = self.read_spec()
        except ValueError as exc:
            self.query_one("#lt-progress", Static).update(f"[red]Not started: {escape(str(exc))}[/]")
            return
        self.cancel_event = asyncio.Event()
        self.run_test(spec)

    @work(exit_on_error=False, exclusive=True, group="loadtest")
    async def run_test(self, spec: LoadSpec) -> None:
        self.running = True
        progress = self.query_one("#lt-progress", Static)
        total = spec.requests

        drawn = [0.0]

        def live(r: LoadResult) -> None:
            done = f"{r.count}/{total}" if total else f"{r.elapsed:.1f}/{spec.duration:.0f} s"
            progress.update(
                f"Running… {done} · {r.rps:.0f} req/s · {r.errors} errors · "
                f"{r.workers} worker process(es) · esc cancels"
            )
            if r.elapsed - drawn[0] >= CHART_PERIOD:  # the line moves by the second; drawing costs
                drawn[0] = r.elapsed
                self.show_result(r)

        started = time.monotonic()
        try:
            self.result = await run_load(spec, progress=live, cancel=self.cancel_event)
        except EngineError as exc:
            progress.update(Text(f"Not run: {exc}", style="red"))
            return
        finally:
            self.running = False
        state = "Cancelled" if self.result.cancelled else "Done"
        progress.update(f"{state} in {time.monotonic() - started:.1f} s · ctrl+s runs again · ctrl+x exports")
        self.show_result(self.result)

    def worker_failed(self, worker: Worker[Any], text: str) -> None:
        if worker.group == "loadtest":
            self.running = False
            self.query_one("#lt-progress", Static).update(Text(text, style="red"))

    def show_result(self, r: LoadResult) -> None:
        s = r.summary()
        lat = s["latency_ms"]
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(s["statuses"].items()))
        self.query_one("#lt-summary", Static).update(
            f"[b]{s['rps']:.1f} req/s[/b] · {s['requests']} requests · {s['ok']} ok · {s['errors']} errors "
            f"({statuses})\nlatency p50 {lat['p50']:.2f} ms · p90 {lat['p90']:.2f} ms · "
            f"p99 {lat['p99']:.2f} ms · max {lat['max']:.2f} ms"
        )
        from textual_plotext import PlotextPlot

        plot = self.query_one("#lt-hist", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        bins = r.histogram(12)
        if bins:
            plt.bar([f"{b * 1000:.1f}" for b, _ in bins], [c for _, c in bins])
            plt.title("latency histogram (ms)")
        plot.refresh()
        line = self.query_one("#lt-timeline", PlotextPlot)
        plt = line.plt
        plt.clear_data()
        seconds = r.timeline() or r.timeline_saved
        self.drawn_seconds = len(seconds)
        if len(seconds) >= 2:
            xs = [float(entry["second"]) for entry in seconds]
            plt.plot(xs, [float(entry["p99_ms"]) for entry in seconds], label="p99")
            plt.plot(xs, [float(entry["p50_ms"]) for entry in seconds], label="p50")
            plt.ylim(0, None)
            plt.title("latency over time (ms by second)")
        elif seconds:
            plt.title("latency over time: drawn from 2 s on")
        line.refresh()

    def action_cancel_or_close(self) -> None:
        if self.running:
            self.cancel_event.set()
        else:
            self.dismiss(None)

    def action_export(self) -> None:
        if self.result is None:
            self.notify("Run a test first", severity="warning")
            return
        result = self.result

        def chosen(values: dict[str, str] | None) -> None:
            if values:
                self._export(Path(values["path"]).expanduser(), result)

        from tirui.locations import exports_dir

        default = str(exports_dir() / f"tirui-loadtest-{time.strftime('%Y%m%d-%H%M%S')}.json")
        self.app.push_screen(FormDialog("Export result", [Field("path", "Write JSON to", default)]), chosen)

    @work(exit_on_error=False, group="loadtest-export")
    async def _export(self, path: Path, result: LoadResult) -> None:
        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(result.to_json())

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            self.notify(f"Cannot write {path}: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"Wrote {path}", title="Load test")
