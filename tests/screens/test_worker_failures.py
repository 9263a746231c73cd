"""An unexpected exception in any screen's worker is reported, and the app keeps running.

The faults are injected into tirui's own layer (a runtime object, the store factory, the token
store factory), never into a client library: they stand for bugs, not for server answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from tests.support.helpers import until
from tirui.app import TiruiApp
from tirui.config import local_profile


class BrokenRuntime:
    """Every call fails the way a bug would (not a RuntimeFailure the screens expect)."""

    profile = local_profile()
    tokens = None
    scale_unit = "worker"
    scale_label = "TorchServe workers"
    config_title = "Config"
    stops_on_exit = True
    delete_note = ""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: object, **kw: object) -> Any:
            raise ZeroDivisionError(f"bug in {name}")

        return fail


def reported(app: TiruiApp, text: str) -> bool:
    return any(text in str(n.message) for n in app._notifications)


@pytest.mark.parametrize(("mode", "what"), [("deploy", "bug in watch"), ("metrics", "bug in list")])
async def test_runtime_bug_on_a_screen(isolated: Path, mode: str, what: str) -> None:
    app = TiruiApp(start_mode=mode)
    app.runtime = BrokenRuntime()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: reported(app, f"ZeroDivisionError: {what}"))
        await pilot.pause(1.5)  # the next ticks fail again; still reported, never fatal
        assert app.is_running and app.return_code is None
        await pilot.press("1")
        await until(pilot, lambda: app.screen.TITLE == "Buckets")


async def test_runtime_bug_in_the_playground(isolated: Path) -> None:
    app = TiruiApp(start_mode="play")
    app.runtime = BrokenRuntime()
    async with app.run_test(size=(100, 30)) as pilot:
        app.screen.query_one("#target", Input).value = "some-deployment"
        app.screen.query_one("#model", Input).value = "tiny"  # a request that is sent, to a target
        await pilot.press("ctrl+j")
        await until(pilot, lambda: reported(app, "ZeroDivisionError: bug in target"))
        assert app.is_running and app.return_code is None
        assert reported(app, "details in")  # the notification names the crash log
    # a worker's failure is explained like a handler's: the traceback is in the crash log, and
    # the notification says where
    from tirui.crash_guard import crash_log

    log = crash_log().read_text()
    assert "in worker " in log and "ZeroDivisionError: bug in target" in log and "Traceback" in log


async def test_store_bug_on_the_buckets_screen(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tirui.storage.factory

    def broken(*args: object, **kw: object) -> Any:
        raise ZeroDivisionError("bug in open_store")

    monkeypatch.setattr(tirui.storage.factory, "open_store", broken)
    app = TiruiApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: reported(app, "ZeroDivisionError: bug in open_store"))
        assert app.is_running and app.return_code is None


async def test_token_store_bug_on_the_tokens_screen(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tirui.secrets import TokenStore

    def broken(*args: object, **kw: object) -> Any:
        raise ZeroDivisionError("bug in the token store")

    monkeypatch.setattr(TokenStore, "from_env", broken)
    app = TiruiApp(start_mode="tokens")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: reported(app, "ZeroDivisionError: bug in the token store"))
        assert app.is_running and app.return_code is None


class SlowRuntime:
    """``list()`` blocks until released and counts how many calls run at once."""

    profile = local_profile()
    tokens = None
    scale_unit = "worker"
    scale_label = "TorchServe workers"
    config_title = "Config"
    stops_on_exit = True
    delete_note = ""

    def __init__(self) -> None:
        import threading

        self.release = threading.Event()
        self.lock = threading.Lock()
        self.calls = self.running = self.most = 0

    def list(self) -> list[Any]:
        with self.lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        self.release.wait(60)
        with self.lock:
            self.running -= 1
        return []

    def shutdown(self, *, keep_running: bool = False) -> None:
        self.release.set()


@pytest.mark.parametrize("mode", ["deploy", "metrics"])
async def test_a_slow_runtime_makes_the_next_poll_wait(isolated: Path, mode: str) -> None:
    """One updater per polled resource: while a read hangs, the once-a-second ticks start no
    second one (they used to pile threads up until the default pool was full)."""
    app = TiruiApp(start_mode=mode)
    runtime = app.runtime = SlowRuntime()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: runtime.calls == 1)
        await pilot.pause(3.5)  # three ticks while the first read still hangs
        assert (runtime.calls, runtime.most) == (1, 1)
        runtime.release.set()
        await until(pilot, lambda: runtime.calls >= 2)
        assert runtime.most == 1 and app.is_running
