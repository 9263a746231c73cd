"""Playground: HTTP and gRPC requests to a deployment or a URL, history, copy-as, load tests.

All request logic is in :mod:`tirui.traffic.playground`; this screen gathers the form, sends from an
async worker (the clients are async) and streams chunks into the response pane as they arrive.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, TextArea
from textual.worker import Worker

from tirui.locations import styles_dir
from tirui.screens.base import MainScreen
from tirui.screens.dialogs import ConfirmDialog, Field, FormDialog, MessageDialog
from tirui.screens.playground.history import HistoryDialog
from tirui.screens.playground.loadtest import LoadTestDialog
from tirui.torchserve.target import Target
from tirui.traffic.playground import (
    GRPC_INFERENCE,
    GRPC_MANAGEMENT,
    GRPC_WARNINGS,
    HTTP_PRESETS,
    PlaygroundRequest,
    PlaygroundResponse,
    execute,
    fill_path,
    load_history,
    record,
    request_from,
    to_curl,
    to_grpcurl,
)

if TYPE_CHECKING:
    from tirui.traffic.playground import HistoryEntry

METHODS = ("GET", "POST", "PUT", "DELETE")


def parse_headers(text: str) -> dict[str, str]:
    """``A: 1; B: 2`` → ``{"A": "1", "B": "2"}``; raises ValueError naming a bad part
    (:mod:`tirui.traffic.headers`)."""
    from tirui.traffic.headers import parse_header_list

    return parse_header_list(text)


STREAMING = ("StreamPredictions", "StreamPredictions2")
"""The gRPC RPCs that can break a worker (see :meth:`PlaygroundScreen._stream_ok`)."""


class PlaygroundScreen(MainScreen):
    """Send requests; the target is a deployment name or a URL."""

    CSS_PATH = styles_dir() / "playground.tcss"

    TITLE = "Playground"
    MODE = "play"
    AUTO_FOCUS = ""
    """Nothing focused on arrival, so 1-5 and : still switch screens; tab enters the form."""
    BINDINGS = [
        Binding("ctrl+j,f5", "send", "Send", priority=True),
        Binding("ctrl+t", "load_test", "Load test", priority=True),
        Binding("ctrl+e", "history", "History", priority=True),
        # The bar shows the copy of the protocol chosen; both keys work in either mode (the
        # hidden pair below takes a key when its shown binding is off).
        Binding("ctrl+y", "copy_curl", "Copy curl", priority=True),
        Binding("ctrl+g", "copy_grpcurl", "Copy grpcurl", priority=True),
        Binding("ctrl+y", "copy_as('curl')", "Copy curl", show=False, priority=True),
        Binding("ctrl+g", "copy_as('grpcurl')", "Copy grpcurl", show=False, priority=True),
        Binding("ctrl+o", "body_file", "Body from file", show=False, priority=True),
        Binding("ctrl+k", "toggle_token_in_copies", "Token in copies on/off", show=False, priority=True),
        Binding("escape", "leave_field", "Leave the field (then 1-5, : work)", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.include_token = False
        self.body_file: Path | None = None
        self.last_response: PlaygroundResponse | None = None
        self._streamed: list[bytes] = []
        self._stream_confirmed: set[tuple[str, str, str]] = set()
        """(RPC, target, model) the user agreed to send a streaming RPC to."""

    def compose_body(self) -> Iterable[Widget]:
        with Vertical(id="play-body"):
            with Horizontal(classes="play-row"):
                yield Input(
                    placeholder="deployment, http(s)://host:port or grpc://host:port",
                    id="target",
                    compact=True,
                )
                yield Select(
                    [("HTTP", "http"), ("gRPC", "grpc")],
                    value="http",
                    id="protocol",
                    allow_blank=False,
                    compact=True,
                )
                yield Select(
                    [(p, p) for p in HTTP_PRESETS],
                    value="Predict",
                    id="preset",
                    allow_blank=False,
                    compact=True,
                )
            with Horizontal(classes="play-row"):
                yield Select(
                    [(m, m) for m in METHODS], value="POST", id="method", allow_blank=False, compact=True
                )
                yield Input(fill_path("/predictions/{model}", "", ""), id="path", compact=True)
                yield Input(placeholder="model", id="model", compact=True)
                yield Input(placeholder="version", id="version", compact=True)
            yield Input(
                placeholder="extra headers / metadata: Name: value; Other: value", id="headers", compact=True
            )
            yield Label("Body (JSON, or ctrl+o for a file)", classes="play-label")
            yield TextArea("[1, 1, 1, 1]", id="body", compact=True, soft_wrap=True)
            yield Static("tab enters the form, esc leaves it · ctrl+j (or F5) sends", id="resp-status")
            yield TextArea("", id="response", read_only=True, compact=True)

    def action_leave_field(self) -> None:
        self.set_focus(None)

    # -- form state --------------------------------------------------------------------------
    def use_deployment(self, name: str, model: str = "") -> None:
        """Aim at a deployment (``p`` in Deployments) and fill in its model."""
        self.query_one("#target", Input).value = name
        if model:
            self.query_one("#model", Input).value = model
        self._apply_preset()
        self.set_focus(None)  # keys stay global: f5 sends, 1-5 switch; tab enters the form

    @on(Select.Changed, "#protocol")
    def _protocol_changed(self, event: Select.Changed) -> None:
        self._show_protocol(str(event.value))

    def _show_protocol(self, protocol: str, preset_name: str = "") -> None:
        """The presets of ``protocol`` (and ``preset_name`` chosen, else its first one)."""
        preset = self.query_one("#preset", Select)
        names = list(GRPC_INFERENCE + GRPC_MANAGEMENT) if protocol == "grpc" else list(HTTP_PRESETS)
        preset.set_options([(p, p) for p in names])
        preset.value = (
            preset_name if preset_name in names else ("Predictions" if protocol == "grpc" else "Predict")
        )
        http = protocol == "http"
        self.query_one("#method", Select).display = http
        self.query_one("#path", Input).display = http
        self.refresh_bindings()  # the key bar's copy follows the protocol

    @on(Select.Changed, "#preset")
    def _preset_changed(self) -> None:
        self._apply_preset()
        name = str(self.query_one("#preset", Select).value)
        if name in GRPC_WARNINGS and self.query_one("#protocol", Select).value == "grpc":
            self.notify(GRPC_WARNINGS[name], title="gRPC", severity="warning", timeout=10)

    @on(Input.Changed, "#model")
    @on(Input.Changed, "#version")
    def _model_changed(self) -> None:
        self._apply_preset(keep_method=True)

    def _apply_preset(self, keep_method: bool = False) -> None:
        if self.query_one("#protocol", Select).value != "http":
            return
        name = str(self.query_one("#preset", Select).value)
        if name not in HTTP_PRESETS or name == "Custom":
            return
        model = self.query_one("#model", Input).value.strip()
        version = self.query_one("#version", Input).value.strip()
        preset = PlaygroundRequest(protocol="http", model=model, version=version)
        preset.apply_preset(name)
        self.query_one("#path", Input).value = preset.path
        if not keep_method:
            self.query_one("#method", Select).value = preset.method

    def build_request(self) -> PlaygroundRequest:
        """The request the form describes; raises ValueError with a sentence for bad input."""
        if self.body_file is not None:
            try:
                body = self.body_file.read_bytes()
            except OSError as exc:
                raise ValueError(f"cannot read {self.body_file}: {exc.strerror or exc}") from None
        else:
            body = self.query_one("#body", TextArea).text.encode()
        return PlaygroundRequest.from_form(
            str(self.query_one("#protocol", Select).value),
            str(self.query_one("#preset", Select).value),
            model=self.query_one("#model", Input).value.strip(),
            version=self.query_one("#version", Input).value.strip(),
            method=str(self.query_one("#method", Select).value),
            path=self.query_one("#path", Input).value.strip(),
            headers=parse_headers(self.query_one("#headers", Input).value),
            body=body,
            binary=self.body_file is not None,
        )

    async def resolve(self) -> Any:
        """The target the form names (a deployment or a URL), with its token."""
        from tirui.traffic.targets import TargetError, resolve_target

        text = self.query_one("#target", Input).value.strip()
        if not text:
            raise ValueError("type a target: a deployment name or an http(s):// URL")
        app = self.app
        store = await app.get_token_store()
        runtime = None
        if "://" not in text:
            runtime = await app.get_runtime()
            if runtime is None:
                raise ValueError(f"{text!r}: no runtime for this profile ({app.runtime_error}); give a URL")
        try:
            return await asyncio.to_thread(
                resolve_target, text, profile=app.profile, store=store, runtime=runtime
            )
        except TargetError as exc:
            raise ValueError(str(exc)) from None

    # -- send --------------------------------------------------------------------------------
    def _status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#resp-status", Static)
        status.update(Text(text))  # what servers and users said: never markup
        status.set_class(error, "error")

    def action_send(self) -> None:
        self.send()

    @work(exit_on_error=False, exclusive=True, group="play-send")
    async def send(self) -> None:
        try:
            req = self.build_request()
            target = await self.resolve()
        except ValueError as exc:
            self._not_sent(str(exc), error=True)
            return
        if req.protocol == "grpc" and req.preset in STREAMING and not await self._stream_ok(req, target):
            self._not_sent(f"{req.preset} cancelled")
            return
        response_box = self.query_one("#response", TextArea)
        response_box.text = ""
        self._streamed = []
        self._status(f"Sending to {target.redacted()}…")
        started = time.perf_counter()

        def on_chunk(chunk: bytes) -> None:
            self._streamed.append(chunk)
            if len(self._streamed) > 1:  # a streamed answer: show the parts as they come
                response_box.insert(chunk.decode("utf-8", "replace"), response_box.document.end)
                self._status(
                    f"Streaming… {len(self._streamed)} chunks, {time.perf_counter() - started:.2f} s"
                )

        resp = await execute(req, target, on_chunk)
        self.last_response = resp
        self._show(resp)
        app = self.app
        text = self.query_one("#target", Input).value.strip()
        await asyncio.to_thread(record, app.profile.name, text, req, resp)

    def worker_failed(self, worker: Worker[Any], text: str) -> None:
        if worker.group == "play-send":
            self._status(text, error=True)

    def _not_sent(self, why: str, *, error: bool = False) -> None:
        """Say why nothing went out; the last answer goes too (it is not this request's)."""
        self._status(f"Not sent: {why}", error=error)
        self.query_one("#response", TextArea).text = ""
        self.last_response = None

    async def _stream_ok(self, req: PlaygroundRequest, target: Target) -> bool:
        """The streaming RPCs can break a worker: ask first, once per RPC, target and model.
        StreamPredictions kills the worker of a handler that does not stream (nothing TorchServe
        reports tells which handlers stream); StreamPredictions2 wedges an ordinary model's worker
        (asked unless TorchServe describes the model as stateful, a sequence model)."""
        key = (req.preset, target.name, req.model)
        if key in self._stream_confirmed:
            return True
        if req.preset == "StreamPredictions":
            question = (
                f"StreamPredictions needs a handler that streams (send_intermediate_predict_response): "
                f"if {req.model or 'the model'}'s does not, TorchServe loses the worker (gRPC INTERNAL: "
                "Worker died) and restarts it. Send it anyway?"
            )
            ok = await self._ask(question)
        else:
            ok = await self._sequence_ok(req, target)
        if ok:
            self._stream_confirmed.add(key)
        return ok

    async def _sequence_ok(self, req: PlaygroundRequest, target: Target) -> bool:
        from tirui.torchserve.errors import TorchServeError
        from tirui.torchserve.http import TorchServeHTTP

        try:
            async with TorchServeHTTP(target.http, timeout=10) as client:
                described = await client.describe(req.model, req.version or None)
            if any(m.get("stateful") for m in described):
                return True
            why = f"{req.model} is not a sequence (stateful) model."
        except (TorchServeError, OSError) as exc:
            why = f"tirui cannot tell whether {req.model} is a sequence model ({exc})."
        question = (
            f"{why} StreamPredictions2 is for sequence models: on an ordinary model it wedges the "
            "worker until it is scaled to 0 and back. Send it anyway?"
        )
        return await self._ask(question)

    async def _ask(self, question: str) -> bool:
        answer: bool = await self.app.push_screen_wait(ConfirmDialog(question))
        return answer

    def _show(self, resp: PlaygroundResponse) -> None:
        if resp.error and not resp.headers:
            self._status(f"{resp.status}: {resp.error}", error=True)
            self.query_one("#response", TextArea).text = resp.error
            return
        size = f"{resp.total_bytes:,} B"
        chunks = f" · {resp.chunks} chunks" if resp.chunks > 1 else ""
        timing = f"{resp.elapsed * 1000:.1f} ms (first byte {resp.ttfb * 1000:.1f} ms)"
        line = f"{resp.status} · {timing} · {size}{chunks}"
        if resp.error:
            line += f" · {resp.error}"
        self._status(line, error=not resp.ok)
        # the answer first, in view at 80x24; the response headers below it
        head = "\n".join(f"< {k}: {v}" for k, v in resp.headers)
        self.query_one("#response", TextArea).text = resp.preview() + (f"\n\n{head}" if head else "")

    # -- extras ------------------------------------------------------------------------------
    def action_body_file(self) -> None:
        def check(values: dict[str, str]) -> str | None:
            path = values["path"].strip()
            if not path:
                return None
            return None if Path(path).expanduser().is_file() else f"{path} is not a readable file"

        def chosen(values: dict[str, str] | None) -> None:
            if values is None:
                return
            path = values["path"].strip()
            self.body_file = Path(path).expanduser() if path else None
            label = self.query_one(".play-label", Label)
            label.update(
                Text(
                    f"Body: file {self.body_file}" if self.body_file else "Body (JSON, or ctrl+o for a file)"
                )
            )
            self.query_one("#body", TextArea).disabled = self.body_file is not None

        fields = [Field("path", "Send this file as the body (empty: use the editor)", required=False)]
        self.app.push_screen(FormDialog("Body from file", fields, validate=check), chosen)

    async def _copy(self, kind: str) -> None:
        try:
            req = self.build_request()
            target = await self.resolve()
        except ValueError as exc:
            self._status(f"Cannot copy: {exc}", error=True)
            return
        if kind == "curl" and req.protocol != "http":
            req.protocol = "http"
        if kind == "grpcurl":
            try:
                req = req.as_grpc()
            except ValueError as exc:
                self._status(f"Cannot copy as grpcurl: {exc}", error=True)
                return
        command = (to_curl if kind == "curl" else to_grpcurl)(req, target, include_token=self.include_token)
        self.app.copy_to_clipboard(command)
        note = "includes the token" if self.include_token else "token as $TORCHSERVE_TOKEN"
        self.app.push_screen(MessageDialog(f"Copied as {kind} ({note})", command))

    async def action_copy_curl(self) -> None:
        await self._copy("curl")

    async def action_copy_grpcurl(self) -> None:
        await self._copy("grpcurl")

    async def action_copy_as(self, kind: str) -> None:
        await self._copy("grpcurl" if kind == "grpcurl" else "curl")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The key bar offers the copy that matches the protocol chosen."""
        if action in ("copy_curl", "copy_grpcurl"):
            try:
                protocol = str(self.query_one("#protocol", Select).value)
            except Exception:  # not composed yet
                return action == "copy_curl"
            return (protocol == "grpc") == (action == "copy_grpcurl")
        return True

    def action_toggle_token_in_copies(self) -> None:
        if self.include_token:
            self.include_token = False
            self.notify("Copies use $TORCHSERVE_TOKEN again", title="Playground")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.include_token = True
                self.notify("Copies now include the token itself", title="Playground", severity="warning")

        self.app.push_screen(
            ConfirmDialog("Put the real token into copied commands (they may end up in shell history)?"),
            answered,
        )

    def action_history(self) -> None:
        app = self.app
        entries = load_history(app.profile.name)
        if not entries:
            self.notify("No requests sent yet with this profile", title="History")
            return

        def chosen(index: int | None) -> None:
            if index is not None:
                self.load_entry(entries[index])

        self.app.push_screen(HistoryDialog(entries), chosen)

    def load_entry(self, entry: HistoryEntry) -> None:
        """Fill the form from a history entry, of either protocol: the presets are switched here
        (not by the Changed handlers, which would reset the preset afterwards)."""
        req = request_from(entry)
        with self.prevent(Select.Changed):
            self.query_one("#target", Input).value = entry.target
            self.query_one("#protocol", Select).value = req.protocol
            self.query_one("#model", Input).value = req.model
            self.query_one("#version", Input).value = req.version
            self._show_protocol(req.protocol, req.preset)
        self.call_after_refresh(self._finish_load, req)

    def _finish_load(self, req: PlaygroundRequest) -> None:
        if req.protocol == "http":
            self.query_one("#method", Select).value = req.method
            self.query_one("#path", Input).value = req.path
        self.query_one("#headers", Input).value = "; ".join(f"{k}: {v}" for k, v in req.headers.items())
        self.query_one("#body", TextArea).text = req.body.decode("utf-8", "replace")

    async def action_load_test(self) -> None:
        try:
            req = self.build_request()
            target = await self.resolve()
        except ValueError as exc:
            self._status(f"Cannot start a load test: {exc}", error=True)
            return
        self.app.push_screen(LoadTestDialog(req, target))
