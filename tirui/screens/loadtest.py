"""The load-test panel: settings, live progress, results and a latency histogram; JSON export."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Static

from tirui.locations import styles_dir
from tirui.screens.dialog_base import Dialog
from tirui.screens.dialogs import Field, FormDialog
from tirui.screens.worker_failures import ReportsWorkerFailures
from tirui.traffic.loadtest import LoadResult, LoadSpec, run_load
from tirui.traffic.playground import PlaygroundRequest
from tirui.widgets.keybar import KeyBar
from tirui.widgets.markup import escape


def spec_for(req: PlaygroundRequest, target: Any) -> LoadSpec:
    """The load spec that repeats the Playground's request (inference requests only)."""
    if req.protocol == "grpc":
        return LoadSpec(
            protocol="grpc",
            url=target.grpc.inference_target,
            model=req.model,
            body=req.body,
            token=target.grpc.inference_token,
            tls=target.grpc.tls,
            headers={k: v for k, v in req.headers.items() if k.lower() != "content-type"},
        ).with_canary(target if not req.version else None)
    api = "management" if req.api == "management" else "inference"
    return LoadSpec(
        url=target.http.base(api) + "/" + req.path.lstrip("/"),
        method=req.method,
        body=req.body,
        headers=dict(req.headers),
        token=target.http.token(api),
    ).with_canary(target)


class LoadTestDialog(ReportsWorkerFailures, Dialog[None]):
    """ctrl+s starts, esc cancels a running test (or closes), ctrl+x exports the result."""

    CSS_PATH = [styles_dir() / "viewer.tcss", styles_dir() / "loadtest.tcss"]

    BINDINGS = [
        Binding("ctrl+s", "start", "Start"),
        Binding("escape", "cancel_or_close", "Cancel / close"),
        Binding("ctrl+x", "export", "Export JSON", priority=True),  # over the inputs' "cut"
    ]

    def __init__(self, req: PlaygroundRequest, target: Any) -> None:
        super().__init__(classes="dialog")
        self.req = req
        self.target = target
        self.cancel_event = asyncio.Event()
        self.result: LoadResult | None = None
        self.running = False

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
                yield Label("or seconds")
                yield Input("", id="lt-duration", placeholder="-", compact=True)
                yield Label("concurrency")
                yield Input("8", id="lt-concurrency", compact=True)
                yield Label("rate/s")
                yield Input("", id="lt-rate", placeholder="max", compact=True)
            yield Static("ctrl+s starts · esc cancels/closes · ctrl+x exports JSON", id="lt-progress")
            yield Static("", id="lt-summary")
            yield PlotextPlot(id="lt-hist")
        yield KeyBar(id="keybar")

    def read_spec(self) -> LoadSpec:
        def number(widget_id: str, kind: type) -> Any:
            text = self.query_one(widget_id, Input).value.strip()
            if not text:
                return None
            try:
                return kind(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a number") from None

        spec = spec_for(self.req, self.target)
        duration = number("#lt-duration", float)
        spec.requests = None if duration else number("#lt-requests", int)
        spec.duration = duration
        spec.concurrency = number("#lt-concurrency", int) or 1
        spec.rate = number("#lt-rate", float)
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

        def live(r: LoadResult) -> None:
            done = f"{r.count}/{total}" if total else f"{r.elapsed:.1f}/{spec.duration:.0f} s"
            progress.update(f"Running… {done} · {r.rps:.0f} req/s · {r.errors} errors · esc cancels")

        started = time.monotonic()
        self.result = await run_load(spec, progress=live, cancel=self.cancel_event)
        self.running = False
        state = "Cancelled" if self.result.cancelled else "Done"
        progress.update(f"{state} in {time.monotonic() - started:.1f} s · ctrl+s runs again · ctrl+x exports")
        self.show_result(self.result)

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
        bins = r.histogram(16)
        if bins:
            plt.bar([f"{b * 1000:.1f}" for b, _ in bins], [c for _, c in bins])
            plt.title("latency histogram (ms, upper bound of each bin)")
        plot.refresh()

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

        default = str(Path.cwd() / f"tirui-loadtest-{time.strftime('%Y%m%d-%H%M%S')}.json")
        self.app.push_screen(FormDialog("Export result", [Field("path", "Write JSON to", default)]), chosen)

    @work(exit_on_error=False, group="loadtest-export")
    async def _export(self, path: Path, result: LoadResult) -> None:
        try:
            await asyncio.to_thread(path.write_text, result.to_json())
        except OSError as exc:
            self.notify(f"Cannot write {path}: {exc.strerror or exc}", severity="error")
            return
        self.notify(f"Wrote {path}", title="Load test")
