"""The demo end to end: what `make demo` opens, driven by keys only (Pilot) and in tmux."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Select, Static, TextArea

from tests.support.helpers import rows, table_rows, until
from tirui.app import TiruiApp
from tirui.demo.model import expected_output
from tirui.demo.setup import prepare_demo
from tirui.screens.dialogs import Form


async def test_demo_flow_with_keys_only(isolated: Path) -> None:
    hint = prepare_demo()
    assert "models" in hint
    app = TiruiApp(profile="local", hint=hint)
    async with app.run_test(size=(100, 30)) as pilot:
        assert any("Demo:" in n.message for n in app._notifications)
        await until(pilot, lambda: rows(app) == ["models"])
        await pilot.press("enter")  # open the bucket
        await until(pilot, lambda: rows(app) == ["tiny.mar"])
        await pilot.press("d")  # deploy form, source filled in
        await until(pilot, lambda: isinstance(app.screen, Form))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.current_mode == "deploy" and bool(table_rows(app)), timeout=30)
        await until(pilot, lambda: "Starting" in table_rows(app)[0][2] or "Ready" in table_rows(app)[0][2])
        await until(pilot, lambda: "Ready" in table_rows(app)[0][2], timeout=120)

        await pilot.press("p")  # Playground aimed at the deployment
        await until(pilot, lambda: app.current_mode == "play")
        screen = app.screen
        assert screen.query_one("#target", Input).value == "tiny"
        assert screen.query_one("#model", Input).value == "tiny"
        status = lambda: str(screen.query_one("#resp-status", Static).render())  # noqa: E731
        await pilot.press("f5")
        await until(pilot, lambda: "200 OK" in status(), timeout=30)
        body = screen.query_one("#response", TextArea).text.split("\n\n< ")[0]
        assert json.loads(body) == expected_output([1, 1, 1, 1])

        screen.query_one("#protocol", Select).value = "grpc"  # same deployment over gRPC
        await pilot.pause()
        await pilot.press("f5")
        await until(pilot, lambda: "gRPC OK" in status(), timeout=30)
        body = screen.query_one("#response", TextArea).text.split("\n\n< ")[0]
        assert json.loads(body) == expected_output([1, 1, 1, 1])

        await pilot.press("2")
        await until(pilot, lambda: app.current_mode == "deploy")
        app.screen.query_one("#deployments", DataTable).focus()
        await pilot.press("i")  # the endpoint and sample requests, token as a variable
        from textual.widgets import Log

        from tirui.screens.viewer import TextViewer

        await until(pilot, lambda: isinstance(app.screen, TextViewer))
        viewer_log = app.screen.query_one("#viewer-log", Log)
        await until(pilot, lambda: any("REST:" in line for line in viewer_log.lines))
        shown = "\n".join(viewer_log.lines)
        token = runtime_token(app, "tiny")
        assert "Bearer $TORCHSERVE_TOKEN" in shown and "curl " in shown and "grpcurl " in shown
        assert token and token not in shown
        await pilot.press("escape")
        await until(pilot, lambda: app.current_mode == "deploy" and not isinstance(app.screen, TextViewer))
        await pilot.press("m")
        await until(pilot, lambda: app.current_mode == "metrics")
        runtime = app.runtime
        pgid = runtime.fleet.deps["tiny"].state.pgid
    # leaving the app stops what it started (no --keep-running)
    from tirui.torchserve.server import group_alive

    assert not group_alive(pgid)


def runtime_token(app: TiruiApp, name: str) -> str | None:
    target = app.runtime.target(name) if app.runtime is not None else None
    return target.http.inference_token if target is not None else None


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")
def test_tirui_demo_in_a_real_terminal(isolated: Path) -> None:
    """`tirui demo` (what `make demo` runs) in tmux: the Buckets screen with the demo bucket appears."""
    session = f"tirui-demo-{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
    env["TERM"] = "xterm-256color"
    socket = str(isolated / "tmux.sock")
    cmd = f"{sys.executable} -m tirui demo"
    subprocess.run(
        ["tmux", "-S", socket, "new-session", "-d", "-s", session, "-x", "100", "-y", "30", cmd],
        env=env,
        check=True,
    )

    def capture() -> str:
        return subprocess.run(
            ["tmux", "-S", socket, "capture-pane", "-p", "-t", session],
            env=env,
            capture_output=True,
            text=True,
        ).stdout

    try:
        screen = ""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            screen = capture()
            if "models" in screen and "Buckets" in screen:
                break
            time.sleep(0.5)
        assert "Buckets" in screen and "models" in screen, screen
        subprocess.run(["tmux", "-S", socket, "send-keys", "-t", session, "Enter"], env=env, check=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "tiny.mar" not in screen:
            time.sleep(0.3)
            screen = capture()
        assert "tiny.mar" in screen, screen
        subprocess.run(["tmux", "-S", socket, "send-keys", "-t", session, "C-q"], env=env, check=True)
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], env=env, capture_output=True)


def test_demo_without_the_local_extra_says_what_to_install(tmp_path: Path) -> None:
    """With torch absent (an import blocker stands in for an install without the extra), the demo
    still prepares its bucket and the hint names the exact install commands."""
    script = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return None
sys.meta_path.insert(0, Block())
from pathlib import Path
from tirui.demo.setup import prepare_demo
print(prepare_demo(Path({str(tmp_path)!r})))
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Demo model not built" in r.stdout and "pip install torch==2.13.0" in r.stdout
    assert "tirui[local]" in r.stdout and (tmp_path / "models").is_dir()
