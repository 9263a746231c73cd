"""What the first frame costs in imports (issue: fast where users feel it): the app module, and
the app once it has drawn its first screen, load none of the heavy libraries that only later
screens, workers or the CLI use. Behaviour, not time: ``benchmarks/startup.py`` has the numbers.

Each check runs in a fresh interpreter, since this test process has imported everything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = (
    "kubernetes",
    "boto3",
    "botocore",
    "grpc",
    "google.protobuf",
    "plotext",
    "keyring",
    "yaml",
    "tomllib",
    "textual.widgets._text_area",
    "tirui.traffic.engine.pool",
    "tirui.traffic.loadtest",
    "tirui.cluster.open",
    "tirui.metrics.alerts",
    "tirui.commands",
    "tirui.screens.help",
    "tirui.screens.dialogs",
    "tirui.screens.deployments.screen",
    "tirui.screens.metrics.screen",
)
"""Not needed for the first frame (the Buckets screen on the local profile)."""

PROBE = r"""
import asyncio, json, sys
heavy = json.loads(sys.argv[1])
from tirui.app import TiruiApp
at_import = [m for m in heavy if m in sys.modules]
async def main():
    app = TiruiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        drawn = app.screen.query_one("#objects") is not None  # the Buckets table is on screen
        frame = [m for m in heavy if m in sys.modules]
        print(json.dumps({"import": at_import, "frame": frame, "drawn": drawn}))
asyncio.run(main())
"""


def test_the_first_frame_imports_nothing_heavy(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "c"), "XDG_DATA_HOME": str(tmp_path / "d")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY)], capture_output=True, text=True, env=env, check=True
    ).stdout
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["drawn"]
    assert seen["import"] == [], f"imported by `import tirui.app`: {seen['import']}"
    assert seen["frame"] == [], f"imported before the first frame: {seen['frame']}"


def test_the_probe_sees_a_heavy_import(tmp_path: Path) -> None:
    """The check can fail: a module the probe imports itself is reported."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "c"), "XDG_DATA_HOME": str(tmp_path / "d")}
    probe = PROBE.replace("from tirui.app import TiruiApp", "from tirui.app import TiruiApp\nimport yaml")
    out = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(HEAVY)], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert "yaml" in json.loads(out.strip().splitlines()[-1])["import"]


CSS_PROBE = r"""
import asyncio, json
from textual.css.stylesheet import Stylesheet
from tirui.app import TiruiApp
reparses = []
original = Stylesheet.reparse
def counted(self):
    reparses.append(1)
    return original(self)
Stylesheet.reparse = counted  # a spy: the real reparse still runs
async def main():
    app = TiruiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        first = len(reparses)
        keybar = app.screen.query_one("#keybar")
        styled = keybar.styles.dock == "bottom"  # app.tcss applies to the first screen
        # text written as the screen mounts is drawn in its colour, not in its background's
        crumb = app.screen.query_one("#breadcrumb")
        cells = [s for s in crumb.render_lines(crumb.region.reset_offset)[0] if s.text.strip()]
        readable = bool(cells) and all(s.style.color != s.style.bgcolor for s in cells)
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        print(json.dumps({"first": first, "styled": styled, "readable": readable,
                          "after_theme": len(reparses)}))
asyncio.run(main())
"""


def test_the_first_frame_parses_the_stylesheet_once(tmp_path: Path) -> None:
    """Textual re-parses every stylesheet source the first time a mode's screen is shown; the
    app's first screen skips that (nothing was styled before it), and a theme change still
    re-parses (so the spy sees a re-parse when there is one)."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "c"), "XDG_DATA_HOME": str(tmp_path / "d")}
    out = subprocess.run(
        [sys.executable, "-c", CSS_PROBE], capture_output=True, text=True, env=env, check=True
    ).stdout
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["styled"]
    assert seen["readable"]
    assert seen["first"] == 0
    assert seen["after_theme"] >= 1
