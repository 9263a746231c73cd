"""``tirui canary`` as subprocesses on the local runtime with real TorchServe: by hand (weight,
status, abort, promote) and with the analysis rolling back a slow archive while a ``tirui bench``
in another process sends traffic (its split follows the weight the analysis sets)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.test_cli_deploy import tirui
from tests.support import HANDLERS, PATIENCE
from tirui.demo.model import HANDLER, build_mar

SLOW_HANDLER = HANDLERS / "slow_handler.py"


def test_canary_from_the_cli(isolated: Path, tiny_mar: Path, tmp_path: Path) -> None:
    assert tirui("deploy", str(tiny_mar), "--name", "cc").returncode == 0
    try:
        deadline = time.monotonic() + 120 * PATIENCE
        while "Ready" not in tirui("status", "cc").stdout and time.monotonic() < deadline:
            time.sleep(1)
        good = build_mar(tmp_path / "good", version="3.0")
        slow = build_mar(tmp_path / "slow", version="2.0", handler=SLOW_HANDLER, extra_files=[HANDLER])

        for args, said in (
            (("canary", "cc", str(good), "--steps", "50,10"), "steps must rise"),
            (("canary", "cc", str(good), "--max-error-rate", "lots"), "not a percentage"),
            (("canary", "cc", str(good), "--weight", "150"), "percentage (0-100)"),
            (("canary", "nope", "--promote"), "no local deployment named 'nope'"),
            (("canary", "cc", "--abort"), "cc has no canary"),
            (("canary", "cc", "--analyze"), "no canary to analyze"),
        ):
            r = tirui(*args)
            assert r.returncode == 1 and said in r.stderr and len(r.stderr.strip().splitlines()) == 1, (
                args,
                r,
            )
        assert tirui("canary", "cc").stdout.strip() == "cc: no canary"

        r = tirui("canary", "cc", str(good), "--weight", "20")
        assert r.returncode == 0 and "v3.0 at 20%" in r.stdout, r.stderr
        assert "v3.0 at 20% (split by tirui's own clients" in tirui("status", "cc").stdout
        assert tirui("canary", "cc", "--weight", "40").returncode == 0
        assert "at 40%" in tirui("canary", "cc").stdout
        r = tirui("canary", "cc", "--promote")
        assert r.returncode == 0 and "cc: canary promoted" in r.stdout, r.stderr
        assert r.stdout.startswith("cc: promoting ") and "v3.0" in r.stdout.splitlines()[0]
        out = tirui("status", "cc").stdout
        assert "serving: " in out and "v3.0" in out and "\n  canary " not in out

        r = tirui("canary", "cc", str(slow), "--weight", "50")
        assert r.returncode == 0, r.stderr
        bench = subprocess.Popen(
            [sys.executable, "-m", "tirui", "bench", "cc", "tiny", "-z", "600", "-c", "4"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            r = tirui(
                "canary", "cc", "--analyze", "--steps", "50,100", "--interval", "1s",
                "--min-requests", "20", "--max-p99-ratio", "1.5", "--p99-slack-ms", "20",
            )  # fmt: skip
        finally:
            bench.send_signal(signal.SIGINT)
            bench.communicate(timeout=60)
        assert r.returncode == 1 and r.stderr.startswith("tirui: canary rolled back: p99"), (
            r.stdout,
            r.stderr,
        )
        assert "cc: canary step 1/2: 50% of traffic" in r.stdout
        assert "cc: no canary" in tirui("canary", "cc").stdout
        events = tirui("events", "cc").stdout
        assert "canary rolled back at 50%" in events and "ms vs stable" in events
        assert "v3.0" in tirui("status", "cc").stdout  # the promoted version serves on
    finally:
        tirui("delete", "cc")
