"""Helpers the UI and metrics tests share (Pilot polling, table contents, a reference percentile)."""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Static

from tests.support import PATIENCE
from tirui.app import TiruiApp


async def until(pilot: Any, cond: Callable[[], bool], timeout: float = 15.0) -> None:
    """Let the app run until ``cond()`` holds (workers report through the event loop); the
    deadline only stops a hung test."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout * PATIENCE
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(0.02)


def rows(app: TiruiApp) -> list[str]:
    """The names in the Buckets table."""
    table = app.screen.query_one("#objects", DataTable)
    return [str(table.get_row_at(i)[1]) for i in range(table.row_count)]


def text(app: TiruiApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def table_rows(app: TiruiApp) -> list[list[str]]:
    """The cells of the Deployments table."""
    table = app.screen.query_one("#deployments", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def nearest_rank(values: list[float], q: float) -> float:
    """The reference percentile the metrics tests compare tirui's with."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


async def open_modal(pilot: Any, key: str, kind: type[Any]) -> Any:
    """Press ``key`` and wait until a screen of ``kind`` is on top; returns it."""
    await pilot.press(key)
    await until(pilot, lambda: isinstance(pilot.app.screen, kind))
    return pilot.app.screen


def fill(form: Any, **values: str) -> None:
    """Type ``values`` into a FormDialog's fields (``#field-<name>`` inputs)."""
    from textual.widgets import Input

    for name, value in values.items():
        form.query_one(f"#field-{name}", Input).value = value


def prediction_load(
    target: Any, *, concurrency: int = 4, rate: float | None = None, duration: float = 3600
) -> Any:
    """Predictions of the demo model (``/predictions/tiny``) with the target's token, until the
    run is cancelled (the tests end it when their work is done, not after a time)."""
    from tirui.traffic.engine.load import LoadSpec

    return LoadSpec(
        url=f"{target.http.inference_url}/predictions/tiny",
        body=b"[1, 1, 1, 1]",
        headers={"Content-Type": "application/json"},
        token=target.http.inference_token,
        requests=None,
        duration=duration,
        concurrency=concurrency,
        rate=rate,
    )


WORKER = "tirui.traffic.engine.worker"


def engine_workers() -> list[int]:
    """PIDs of load-engine workers that are children of this process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if WORKER in cmdline and ppid == os.getpid():
            found.append(int(entry.name))
    return found
