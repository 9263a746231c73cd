"""Keys that teach themselves and a CLI that does what the TUI does (issue: keys and CLI)."""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from textual.widgets import Input, Select, Static

from tests.support.helpers import until
from tests.support.torchserve_fixture import RunningTorchServe
from tirui.app import TiruiApp
from tirui.screens.deployments.deploy_form import DeployForm
from tirui.screens.dialogs import ConfirmDialog
from tirui.screens.viewer import TextViewer
from tirui.torchserve.errors import classify_status
from tirui.widgets.keybar import KeyBar


def keys(app: TiruiApp) -> str:
    """The key bar of the screen on top ("" while it is still being composed)."""
    bars = app.screen.query("#keybar").results(KeyBar)
    return "".join(str(bar.render()) for bar in bars)


async def test_deploy_form_shows_its_own_keys_at_80x24_and_names_itself_after_the_archive(
    isolated: Path,
) -> None:
    app = TiruiApp(start_mode="deploy")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, DeployForm))
        form = app.screen
        await until(pilot, lambda: "Deploy" in keys(app))
        bar = keys(app)
        assert "^s\xa0Deploy" in bar and "esc\xa0Cancel" in bar
        assert "Scale" not in bar and "Restart" not in bar  # not the Deployments screen's keys
        assert "Preview" not in bar  # the local runtime renders no YAML: the key is not offered
        # one line per input: the archive, name and the first fields fit in the first screen
        assert form.query_one("#field-source", Input).size.height == 1
        source, name = form.query_one("#field-source", Input), form.query_one("#field-name", Input)
        source.value = "eos://models/ResNet_50.mar"
        await until(pilot, lambda: name.value == "resnet-50")
        name.value = "mine"
        await pilot.pause()
        source.value = "eos://models/other.mar"
        await pilot.pause()
        assert name.value == "mine"  # a typed name stays
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DeployForm))
        assert "Deploy" in keys(app) and "Scale" in keys(app)  # the screen's own bar again


async def test_deploy_form_errors_are_in_view_at_80x24(isolated: Path) -> None:
    """ctrl+s with an invalid name on a form taller than the terminal: the error is on screen at
    once (not after tabbing down to the end of the form), with the field to change."""
    app = TiruiApp(start_mode="deploy")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, DeployForm))
        form = app.screen
        form.query_one("#field-source", Input).value = "eos://models/tiny.mar"
        form.query_one("#field-name", Input).value = "Bad_Name[/x]"
        await pilot.pause()
        await pilot.press("ctrl+s")
        error = form.query_one("#form-error", Static)
        await until(pilot, lambda: "Bad_Name[/x]" in str(error.render()))
        await pilot.pause()

        def on_screen(widget: Static) -> bool:
            geometry = form.find_widget(widget)
            return geometry.region.intersection(geometry.clip).area > 0

        assert on_screen(error), "the error is below the fold"
        assert on_screen(form.query_one("#field-name", Input))  # next to the field to change


async def test_viewers_offer_only_keys_that_apply_and_wrap_long_lines(isolated: Path) -> None:
    app = TiruiApp(start_mode="deploy")
    long_line = "event " + "x" * 200
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: bool(app.screen.query("#deployments")))
        app.push_screen(TextViewer("YAML", lambda: ["kind: Deployment", long_line]))
        await until(pilot, lambda: isinstance(app.screen, TextViewer))
        viewer = app.screen
        await until(pilot, lambda: "Wrap" in keys(app))
        assert "Follow" not in keys(app) and viewer.check_action("toggle_follow", ()) is False
        log = viewer.query_one("#viewer-log")
        await until(pilot, lambda: len(log.lines) == 2)
        await pilot.press("w")
        await until(pilot, lambda: len(log.lines) > 3)  # the long line folded to the width
        assert all(len(line) < 80 for line in log.lines)
        await pilot.press("escape")
        app.push_screen(TextViewer("Logs", lambda: ["a"], follow=True))
        await until(pilot, lambda: isinstance(app.screen, TextViewer) and "Follow" in keys(app))


async def test_stream_predictions2_asks_before_it_can_wedge_a_worker(
    torchserve: RunningTorchServe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIRUI_TOKEN_LOCAL_API", torchserve.keys.inference)
    app = TiruiApp(start_mode="play", secrets_backend="env")
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one("#protocol", Select).value = "grpc"
        await pilot.pause()
        app.screen.query_one("#target", Input).value = f"grpc://127.0.0.1:{torchserve.ports.grpc_inference}"
        app.screen.query_one("#model", Input).value = "tiny"
        app.screen.query_one("#preset", Select).value = "StreamPredictions2"
        await pilot.pause()
        await pilot.press("ctrl+j")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "sequence" in app.screen.question and "wedges" in app.screen.question
        await pilot.press("n")
        status = lambda: str(app.screen.query_one("#resp-status", Static).render())  # noqa: E731
        await until(pilot, lambda: "Not sent" in status())
    import httpx

    r = httpx.post(  # nothing was sent: the worker still answers
        f"{torchserve.inference_url}/predictions/tiny",
        json=[1, 1, 1, 1],
        headers={"Authorization": f"Bearer {torchserve.keys.inference}"},
        timeout=30,
    )
    assert r.status_code == 200


def test_a_failing_handler_is_not_called_a_missing_worker() -> None:
    kind, text = classify_status(
        503, b'{"code": 503, "type": "InternalServerException", "message": "Prediction failed"}'
    )
    assert "no worker" not in text and "Prediction failed" in text
    kind, text = classify_status(
        503, b'{"code": 503, "message": "Model tiny has no worker to serve inference request."}'
    )
    assert kind == "unavailable" and "no worker ready" in text


def _cli_env(ts: RunningTorchServe) -> dict[str, str]:
    return {**os.environ, "TIRUI_SECRETS": "env", "TIRUI_TOKEN_LOCAL_API": ts.keys.inference}


@pytest.mark.parametrize("grpc", [True, False], ids=["grpc", "http"])
def test_predict_prints_each_streamed_chunk_as_it_arrives(torchserve: RunningTorchServe, grpc: bool) -> None:
    """The handler sleeps 0.3 s between its chunks: printed as they arrive, the first line comes
    well before the last; buffered until the end, they would come together."""
    args = [sys.executable, "-m", "tirui", "predict", torchserve.inference_url, "stream", "-H", "X-Trace: 1"]
    if grpc:
        args += ["--grpc", "--grpc-target", f"127.0.0.1:{torchserve.ports.grpc_inference}", "--stream"]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_cli_env(torchserve)
    )
    assert proc.stdout is not None
    arrivals = [(time.monotonic(), line) for line in proc.stdout]
    assert proc.wait() == 0, proc.stderr.read() if proc.stderr else ""
    lines = [line for _, line in arrivals if line.strip()]
    assert len(lines) == 4 and '"step": 0' in lines[0] and '"step": 3' in lines[-1], lines
    assert arrivals[-1][0] - arrivals[0][0] >= 0.5  # three sleeps of 0.3 s lie between them


def test_header_flag_is_checked() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "tirui", "predict", "http://127.0.0.1:9", "tiny", "-H", "no colon"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1 and "-H 'Name: value'" in r.stderr and r.stderr.count("\n") == 1


def test_logs_follow_and_events_on_the_local_runtime(isolated: Path, tiny_mar: Path) -> None:
    def tirui(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tirui", *args], capture_output=True, text=True, timeout=180
        )

    assert tirui("deploy", str(tiny_mar), "--name", "logd").returncode == 0
    follow = None
    try:
        deadline = time.monotonic() + 120
        while "Ready" not in tirui("status", "logd").stdout and time.monotonic() < deadline:
            time.sleep(1)
        follow = subprocess.Popen(
            [sys.executable, "-m", "tirui", "logs", "logd", "-f", "--tail", "5"],
            stdout=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        assert follow.stdout is not None
        threading.Thread(target=lambda: [lines.put(x) for x in follow.stdout], daemon=True).start()  # type: ignore[union-attr]
        assert tirui("scale", "logd", "3").returncode == 0  # TorchServe logs its third worker (W-…2)
        seen = ""
        deadline = time.monotonic() + 60
        while "-9002" not in seen and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                seen += lines.get(timeout=1)
        assert "-9002" in seen, seen[-2000:]
        events = tirui("events", "logd")
        assert events.returncode == 0 and "Started TorchServe" in events.stdout
    finally:
        if follow is not None:
            follow.terminate()
            follow.wait()
        tirui("delete", "logd")


def test_an_adopted_local_deployment_keeps_its_age(tmp_path: Path) -> None:
    """Age counts from the deploy, not from the tirui that found it running later."""
    from tirui.cluster.local.runtime import LocalRuntime
    from tirui.cluster.local.state import LocalState
    from tirui.torchserve.server import Ports

    state = LocalState(
        "old", "eos://models/tiny.mar", "tiny", "/nowhere/tiny.mar", Ports.free().__dict__, "/tmp/x"
    )
    state.created, state.phase = time.time() - 2 * 3600, "Stopped"
    state.save(tmp_path / "deployments" / "old")
    runtime = LocalRuntime(tmp_path / "deployments", supervise=False)
    try:
        assert runtime.get("old").age == "2h"
    finally:
        runtime.shutdown(keep_running=True)
