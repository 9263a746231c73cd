"""The Playground driven with Pilot against the session's real TorchServe."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Select, Static, TextArea

from tests.support.helpers import engine_workers, until
from tests.support.torchserve_fixture import RunningTorchServe
from tirui.app import TiruiApp
from tirui.demo.model import expected_output
from tirui.screens.dialogs import Form, MessageDialog
from tirui.screens.playground.loadtest import LoadTestDialog
from tirui.traffic.playground import history_file, load_history


@pytest.fixture
def token_env(torchserve: RunningTorchServe, monkeypatch: pytest.MonkeyPatch) -> str:
    """The inference key as the local profile's `api` token (env backend: read-only, explicit)."""
    monkeypatch.setenv("TIRUI_SECRETS", "env")
    monkeypatch.setenv("TIRUI_TOKEN_LOCAL_API", torchserve.keys.inference)
    return torchserve.keys.inference


def status(app: TiruiApp) -> str:
    return str(app.screen.query_one("#resp-status", Static).render())


def response(app: TiruiApp) -> str:
    return app.screen.query_one("#response", TextArea).text


async def fill(app: TiruiApp, target: str, model: str, body: str) -> None:
    app.screen.query_one("#target", Input).value = target
    app.screen.query_one("#model", Input).value = model
    app.screen.query_one("#body", TextArea).text = body


async def test_http_predict_history_and_errors(torchserve: RunningTorchServe, token_env: str) -> None:
    app = TiruiApp(start_mode="play", secrets_backend="env")
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(app, torchserve.inference_url, "tiny", "[1, 1, 1, 1]")
        await pilot.pause()
        assert app.screen.query_one("#path", Input).value == "/predictions/tiny"
        await pilot.press("ctrl+j")
        try:
            await until(pilot, lambda: "200 OK" in status(app), timeout=30)
        except AssertionError:
            raise AssertionError(status(app)) from None
        assert json.loads(response(app).split("\n\n< ", 1)[0]) == expected_output([1, 1, 1, 1])
        assert "first byte" in status(app)

        await until(pilot, lambda: len(load_history("local")) == 1)  # recorded after it is shown
        entries = history_file("local").read_text()
        assert "predictions/tiny" in entries and token_env not in entries

        app.screen.query_one("#body", TextArea).text = "[1, 1,"
        await pilot.press("ctrl+j")
        await until(pilot, lambda: "Not sent" in status(app))
        assert "not valid JSON" in status(app)
        assert "[1.0" not in response(app) and "content-type" not in response(app).lower()  # not the last

        app.screen.query_one("#body", TextArea).text = "[1, 1, 1, 1]"
        app.screen.query_one("#model", Input).value = "nope"
        await pilot.press("ctrl+j")
        await until(pilot, lambda: "404" in status(app), timeout=30)

        app.screen.query_one("#model", Input).value = ""  # the path reads /predictions/MODEL
        await pilot.press("ctrl+j")
        await until(pilot, lambda: "Not sent: name the model" in status(app))
        await pilot.press("ctrl+t")  # nor a load test of 404s
        await until(pilot, lambda: "Cannot start a load test: name the model" in status(app))

        app.screen.query_one("#model", Input).value = "tiny"
        app.screen.query_one("#target", Input).value = "http://127.0.0.1:9"
        await pilot.press("ctrl+j")
        await until(pilot, lambda: "cannot connect" in status(app), timeout=30)
        await until(pilot, lambda: len(load_history("local")) == 3)
        ok, missing, refused = load_history("local")
        assert ok.status == "200 OK" and missing.status.startswith("404")
        assert refused.status == "unreachable" and refused.elapsed_ms > 0  # what happened, and when
        assert ok.elapsed_ms > 0 and missing.elapsed_ms > 0


async def test_missing_token_is_an_auth_error(
    torchserve: RunningTorchServe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIRUI_SECRETS", "env")
    app = TiruiApp(start_mode="play", secrets_backend="env")
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(app, torchserve.inference_url, "tiny", "[1, 1, 1, 1]")
        await pilot.press("ctrl+j")
        await until(pilot, lambda: "authentication failed" in status(app), timeout=30)


async def test_streaming_grpc_and_copy_as(torchserve: RunningTorchServe, token_env: str) -> None:
    app = TiruiApp(start_mode="play", secrets_backend="env")
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(app, torchserve.inference_url, "stream", "[1, 1, 1, 1]")
        await pilot.press("ctrl+j")
        await until(pilot, lambda: "200 OK" in status(app), timeout=30)
        assert "chunks" in status(app) and '"step": 3' in response(app)

        await pilot.press("ctrl+y")
        await until(pilot, lambda: isinstance(app.screen, MessageDialog))
        command = app.screen.body
        assert command.startswith("curl ") and "$TORCHSERVE_TOKEN" in command and token_env not in command
        await pilot.press("escape")

        app.screen.query_one("#protocol", Select).value = "grpc"
        await pilot.pause()
        app.screen.query_one("#target", Input).value = f"grpc://127.0.0.1:{torchserve.ports.grpc_inference}"
        app.screen.query_one("#model", Input).value = "tiny"
        await pilot.press("ctrl+j")
        await until(pilot, lambda: "gRPC OK" in status(app), timeout=30)
        assert json.loads(response(app).split("\n\n< ")[0]) == expected_output([1, 1, 1, 1])

        await pilot.press("ctrl+g")
        await until(pilot, lambda: isinstance(app.screen, MessageDialog))
        command = app.screen.body
        assert command.startswith("grpcurl ") and "InferenceAPIsService/Predictions" in command
        assert token_env not in command


async def test_load_test_panel(torchserve: RunningTorchServe, token_env: str, tmp_path: Path) -> None:
    app = TiruiApp(start_mode="play", secrets_backend="env")
    async with app.run_test(size=(100, 30)) as pilot:
        await fill(app, torchserve.inference_url, "tiny", "[1, 1, 1, 1]")
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, LoadTestDialog))
        dialog = app.screen
        dialog.query_one("#lt-requests", Input).value = "60"
        dialog.query_one("#lt-concurrency", Input).value = "4"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: dialog.result is not None and not dialog.running, timeout=60)
        summary = str(dialog.query_one("#lt-summary", Static).render())
        assert "60 requests" in summary and "60 ok" in summary and "p99" in summary
        dialog.query_one("#lt-rate", Input).focus()  # an input has focus: its "cut" is ctrl+x too
        await pilot.pause()
        assert "Export JSON" in str(dialog.query_one("#keybar", Static).render())
        await pilot.press("ctrl+x")
        await until(pilot, lambda: isinstance(app.screen, Form))
        app.screen.query_one("#field-path", Input).value = str(tmp_path / "r.json")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: (tmp_path / "r.json").exists() and app.screen is dialog)
        written = lambda: json.loads((tmp_path / "r.json").read_text() or "{}")  # noqa: E731
        await until(pilot, lambda: written().get("requests") == 60)


async def test_a_running_load_test_draws_live_and_ends_with_the_app(
    torchserve: RunningTorchServe, token_env: str
) -> None:
    app = TiruiApp(start_mode="play", secrets_backend="env")
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(app, torchserve.inference_url, "tiny", "[1, 1, 1, 1]")
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, LoadTestDialog))
        dialog = app.screen
        dialog.query_one("#lt-duration", Input).value = "3600"
        dialog.query_one("#lt-workers", Input).value = "2"
        await pilot.press("ctrl+s")
        progress = lambda: str(dialog.query_one("#lt-progress", Static).render())  # noqa: E731
        await until(pilot, lambda: "2 worker process(es)" in progress(), timeout=60)
        assert len(engine_workers()) == 2
        await until(pilot, lambda: dialog.drawn_seconds >= 2, timeout=60)  # the line grows live
        assert dialog.running
        await pilot.press("ctrl+q")  # quits from the dialog too, the run still going
        for _ in range(600):  # a hang guard only
            if not app.is_running:
                break
            await asyncio.sleep(0.05)
        assert not app.is_running, "ctrl+q did not quit from the load test dialog"
    # The app is gone with its run: so are the run's worker processes.
    assert not engine_workers()


async def test_bad_ports_and_headers_are_judged_before_sending(
    torchserve: RunningTorchServe, token_env: str
) -> None:
    """A port outside 1-65535, a non-ASCII header value, an illegal header name: each is said in
    the status line as not sent, naming what is wrong (before: a worker failure and "Sending…"
    forever, or "unreachable"); then a good request goes through."""
    from tirui.crash_guard import crash_log

    app = TiruiApp(start_mode="play", secrets_backend="env")
    async with app.run_test(size=(80, 24)) as pilot:
        cases = [
            ("http://127.0.0.1:99999", "", "port must be 1-65535, not 99999"),
            (torchserve.inference_url, "X-Note: café", "'é'; header values are printable ASCII"),
            (torchserve.inference_url, "Bad Name: 1", "' ' is not allowed in a header name"),
            (torchserve.inference_url, "X: a\x00b", "header values are printable ASCII"),
        ]
        for target, headers, said in cases:
            await fill(app, target, "tiny", "[1, 1, 1, 1]")
            app.screen.query_one("#headers", Input).value = headers
            await pilot.press("ctrl+j")
            await until(pilot, lambda: "Not sent" in status(app))
            assert said in status(app), status(app)
        await fill(app, torchserve.inference_url, "tiny", "[1, 1, 1, 1]")
        app.screen.query_one("#headers", Input).value = "X-Note: plain"
        await pilot.press("ctrl+j")
        await until(pilot, lambda: "200 OK" in status(app), timeout=30)
    assert not crash_log().exists()


async def test_a_stream_load_test_sends_stream_predictions(
    torchserve: RunningTorchServe, token_env: str
) -> None:
    """The load test of the StreamPredictions preset repeats StreamPredictions (TorchServe's
    access log names the RPC), on the session's streaming model."""
    app = TiruiApp(start_mode="play", secrets_backend="env")
    log = torchserve.access_log
    before = log.read_text().count("/StreamPredictions ")
    async with app.run_test(size=(100, 30)) as pilot:
        await fill(app, f"grpc://127.0.0.1:{torchserve.ports.grpc_inference}", "stream", "[1, 1, 1, 1]")
        app.screen.query_one("#protocol", Select).value = "grpc"
        await pilot.pause()
        app.screen.query_one("#preset", Select).value = "StreamPredictions"
        await pilot.pause()
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, LoadTestDialog))
        dialog = app.screen
        dialog.query_one("#lt-requests", Input).value = "6"
        dialog.query_one("#lt-concurrency", Input).value = "2"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: dialog.result is not None and not dialog.running, timeout=120)
        assert dialog.result is not None and dialog.result.count == 6 and dialog.result.errors == 0
    await until_logged(lambda: log.read_text().count("/StreamPredictions ") - before >= 6)


async def until_logged(cond: Any) -> None:
    for _ in range(200):
        if cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("TorchServe's access log never showed the streamed calls")
