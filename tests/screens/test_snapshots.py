"""SVG snapshots of each main screen's empty state at 80x24 (pytest-textual-snapshot)."""

from __future__ import annotations

import pytest

from tirui.app import TiruiApp


@pytest.mark.parametrize("key", ["1", "2", "3", "4", "5"])
def test_screen_snapshot(snap_compare, key: str) -> None:  # type: ignore[no-untyped-def]
    async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press(key)
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        if key == "1":  # wait until the (empty) bucket list has been loaded by its workers
            for _ in range(100):
                if "No buckets" in str(pilot.app.screen.query_one("#buckets-message").render()):
                    break
                await pilot.pause(0.05)
        if key == "2":  # wait until the (empty) deployment list has been loaded
            for _ in range(100):
                if "No deployments" in str(pilot.app.screen.query_one("#deploy-message").render()):
                    break
                await pilot.pause(0.05)
        if key == "3":  # the first collection round (1 s after mount) reports no deployments
            for _ in range(100):
                if "No deployments" in str(pilot.app.screen.query_one("#metrics-notes").render()):
                    break
                await pilot.pause(0.05)
        if key == "5":  # wait until the keyring probe has reported (it runs in a worker)
            for _ in range(100):
                line = pilot.app.screen.query_one("#backend-line")
                if "checking" not in str(line.render()):
                    break
                await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(TiruiApp(), terminal_size=(80, 24), run_before=settle)


def test_help_snapshot(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(TiruiApp(), terminal_size=(80, 24), press=["question_mark"])


def test_playground_grpc_snapshot(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """gRPC mode at 80x24: the key bar offers ^g Copy grpcurl, not ^y Copy curl, and the
    request fields fit above the answer area."""
    from textual.widgets import Input, Select

    async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("4")
        await pilot.pause()
        screen = pilot.app.screen
        screen.query_one("#protocol", Select).value = "grpc"
        screen.query_one("#target", Input).value = "grpc://127.0.0.1:7070"
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(TiruiApp(), terminal_size=(80, 24), run_before=settle)


def test_small_terminal_snapshot(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """Below 80x24 the header keeps saying so (not a passing toast), first in the line."""

    async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        for _ in range(100):
            if "No buckets" in str(pilot.app.screen.query_one("#buckets-message").render()):
                break
            await pilot.pause(0.05)
        pilot.app.clear_notifications()  # the toast passes; the header's notice is what stays
        await pilot.pause()

    assert snap_compare(TiruiApp(), terminal_size=(40, 12), run_before=settle)


def test_playground_answer_snapshot(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """An answer at 80x24: the status line and the body above the fold, the response headers
    below it. The answer is fixed here (a live one carries timings and dates);
    ``test_playground_screen.py`` shows a real TorchServe's answer the same way."""
    from tirui.traffic.playground import PlaygroundResponse

    headers = [("x-request-id", "0f6c"), ("content-type", "application/json"), ("pragma", "no-cache")]
    headers += [(f"x-extra-{i}", "[/x] not markup") for i in range(6)]
    answer = PlaygroundResponse(
        ok=True, status="200 OK", elapsed=0.0123, ttfb=0.0121, headers=headers,
        body=b"[10.5, -10.5]", total_bytes=13,
    )  # fmt: skip

    async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("4")
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        pilot.app.screen._show(answer)
        await pilot.pause()

    assert snap_compare(TiruiApp(), terminal_size=(80, 24), run_before=settle)


def test_metrics_snapshot_at_80x24(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """The charts at 80x24: y-axis labels are evenly spaced round values on their rows."""
    from tests.screens.test_metrics_screen import T0, prepare
    from tirui.core.clock import Clock

    assert snap_compare(TiruiApp(clock=Clock(T0 + 120)), terminal_size=(80, 24), run_before=prepare)
