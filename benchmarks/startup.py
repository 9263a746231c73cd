"""Time from process start to the first rendered frame: TiruiApp vs a one-label Textual app.

Each repetition starts a fresh Python process (imports included) that runs the app headless with
``run_test`` and prints a marker once the first frame has been rendered; the parent times from
spawn to marker. The two apps alternate so machine noise hits both. Prints ``ratio=<tirui/minimal>``.

Both apps start with their bytecode cached, as an installed or once-run tirui does: the warm-up run
may write ``__pycache__`` (``PYTHONDONTWRITEBYTECODE`` is dropped for the children), otherwise every
run would recompile tirui's own modules from source while Textual's come precompiled from the wheel.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

REPS = int(os.environ.get("TIRUI_BENCH_REPS", "7"))

CHILD = r"""
import asyncio, sys
kind = sys.argv[1]
if kind == "tirui":
    from tirui.app import TiruiApp as AppClass
else:
    from textual.app import App
    from textual.widgets import Label
    class AppClass(App):
        def compose(self):
            yield Label("hello")
async def main():
    app = AppClass()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        print("FRAME", flush=True)
asyncio.run(main())
"""


def one_run(kind: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, kind], stdout=subprocess.PIPE, env=env, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("FRAME"):
            elapsed = time.perf_counter() - start
            break
    else:
        raise SystemExit(f"{kind} app never rendered (exit {proc.wait()})")
    proc.wait()
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XDG_CONFIG_HOME": f"{tmp}/c", "XDG_DATA_HOME": f"{tmp}/d"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        one_run("tirui", env), one_run("minimal", env)  # warm the file and bytecode caches
        times: dict[str, list[float]] = {"tirui": [], "minimal": []}
        for _ in range(REPS):
            for kind in times:
                times[kind].append(one_run(kind, env))
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:8} median {med[k] * 1000:7.1f} ms  min {min(v) * 1000:7.1f} ms  (n={len(v)})")
    print(f"ratio={med['tirui'] / med['minimal']:.3f}")


if __name__ == "__main__":
    main()
