"""Keys answer while a full-speed load test runs in the TUI: the time from a key arriving (sent
through the driver, as a terminal's key is) to the input showing it and every widget of the
screen having processed what was queued, for 300 keys typed into the load-test dialog,
first with no load, then with a closed-loop load test at full speed (8 connections, a worker
process per core) against nginx ``return 200`` on 127.0.0.1, its live progress, histogram and
latency line redrawn meanwhile.

Prints both distributions and the load test's rate, then ``ratio=<p99 under load / p99 idle>``.
Target: p99 under load <= 50 ms.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import nginx_target

KEYS = int(os.environ.get("TIRUI_BENCH_KEYS", "300"))


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


async def measure(url: str) -> tuple[list[float], list[float], float]:
    from textual import events
    from textual.widgets import Input

    from tirui.app import TiruiApp
    from tirui.screens.playground.loadtest import LoadTestDialog

    app = TiruiApp(start_mode="play", secrets_backend="env")
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.query_one("#target", Input).value = url
        app.screen.query_one("#model", Input).value = "tiny"
        await pilot.press("ctrl+t")
        while not isinstance(app.screen, LoadTestDialog):
            await pilot.pause()
        dialog = app.screen
        field = dialog.query_one("#lt-workers", Input)

        async def keys() -> list[float]:
            field.focus()
            await pilot.pause()
            took = []
            assert app._driver is not None
            for i in range(KEYS):
                key, char, want = ("1", "1", "1") if i % 2 == 0 else ("backspace", None, "")
                event = events.Key(key, char)
                event.set_sender(app)
                t0 = time.perf_counter()
                app._driver.send_message(event)  # as the terminal driver does for a key read
                while field.value != want:
                    await asyncio.sleep(0.0005)
                await pilot._wait_for_screen()  # the refresh it asked for processed
                took.append(time.perf_counter() - t0)
            return took

        idle = await keys()
        field.value = ""
        dialog.query_one("#lt-duration", Input).value = "3600"
        await pilot.press("ctrl+s")
        while dialog.result is None and not (dialog.running and dialog.drawn_seconds >= 1):
            await pilot.pause()
        loaded = await keys()
        rate = float(str(dialog.query_one("#lt-progress").render()).split(" req/s")[0].split("· ")[-1])
        await pilot.press("escape")  # cancel the run
        while dialog.running:
            await pilot.pause()
    return idle, loaded, rate


def main() -> None:
    os.environ.setdefault("TIRUI_SECRETS", "env")
    with tempfile.TemporaryDirectory() as tmp, nginx_target() as base:
        os.environ.setdefault("TIRUI_CONFIG_DIR", str(Path(tmp) / "config"))
        os.environ.setdefault("TIRUI_DATA_DIR", str(Path(tmp) / "data"))
        idle, loaded, rate = asyncio.run(measure(base))
    for name, values in (("idle", idle), ("under load", loaded)):
        print(
            f"{name:10s} key→screen p50 {statistics.median(values) * 1000:6.2f} ms  "
            f"p99 {p99(values) * 1000:6.2f} ms  max {max(values) * 1000:6.2f} ms"
        )
    print(f"load test meanwhile: {rate:.0f} req/s; target p99 under load <= 50 ms")
    print(f"ratio={p99(loaded) / p99(idle):.3f}")


if __name__ == "__main__":
    main()
