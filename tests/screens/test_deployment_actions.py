"""The Deployments screen's keys over a fake runtime: what each dialog asks, which runtime call it
makes, how failures and hostile text read. What really happens to a deployment is tested with
the real runtimes (``tests/integration``, ``test_deployments_screen.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_runtime import FakeRuntime, status
from tests.support.helpers import fill, open_modal, table_rows, text, until
from tirui.app import TiruiApp
from tirui.canary.state import CanaryStatus
from tirui.core.errors import RuntimeFailure
from tirui.screens.deployments.canary import CanaryDialog
from tirui.screens.deployments.screen import DeploymentsScreen
from tirui.screens.dialogs import ConfirmDialog, FormDialog, MessageDialog

HOSTILE = "[/x] [bold]not bold[/bold] [link=http://e]x"


@pytest.fixture
def fake() -> FakeRuntime:
    return FakeRuntime(
        status("web", previous="eos://models/web-v1.mar (v1.0)", version="eos://models/web.mar (v2.0)"),
        status("zz", reason=HOSTILE, source=f"eos://models/{HOSTILE}.mar", status="Failed", ready=0),
    )


@pytest.fixture
async def running(isolated: Path, fake: FakeRuntime) -> AsyncIterator[tuple[Any, TiruiApp]]:
    app = TiruiApp(start_mode="deploy", open_runtime=lambda profile, tokens: fake)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await until(pilot, lambda: len(table_rows(app)) == 2)
        yield pilot, app


def toasts(app: TiruiApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_scale_asks_the_count_and_scales(running: tuple[Any, TiruiApp], fake: FakeRuntime) -> None:
    pilot, app = running
    form = await open_modal(pilot, "s", FormDialog)
    fill(form, count="many")
    await pilot.press("ctrl+s")
    assert "not a whole number" in str(form.query_one("#form-error").render()) and app.screen is form
    fill(form, count="3")
    await pilot.press("ctrl+s")
    await until(pilot, lambda: fake.called("scale") == [("web", 3)])
    await until(pilot, lambda: table_rows(app)[0][3] == "1/3")
    await until(pilot, lambda: "Scale web: done" in toasts(app))


async def test_a_failing_operation_is_a_dialog_with_the_runtimes_sentence(
    running: tuple[Any, TiruiApp], fake: FakeRuntime
) -> None:
    pilot, app = running
    fake.fail_next("restart", RuntimeFailure(f"quota exceeded {HOSTILE}"))
    await open_modal(pilot, "r", ConfirmDialog)
    await pilot.press("y")
    await until(pilot, lambda: isinstance(app.screen, MessageDialog))
    assert app.screen.body == f"quota exceeded {HOSTILE}"
    await pilot.press("escape")
    assert isinstance(app.screen, DeploymentsScreen) and fake.rows["web"].restarts == 0


async def test_delete_needs_a_yes(running: tuple[Any, TiruiApp], fake: FakeRuntime) -> None:
    pilot, app = running
    dialog = await open_modal(pilot, "ctrl+d", ConfirmDialog)
    assert "It is removed from the fake." in dialog.question  # the runtime's own note
    await pilot.press("n")
    await until(pilot, lambda: isinstance(app.screen, DeploymentsScreen))
    assert fake.called("delete") == []
    await open_modal(pilot, "ctrl+d", ConfirmDialog)
    await pilot.press("y")
    await until(pilot, lambda: [r[0] for r in table_rows(app)] == ["zz"])
    assert fake.called("delete") == [("web",)]


async def test_rollback_confirms_the_previous_version_then_rolls_back(
    running: tuple[Any, TiruiApp], fake: FakeRuntime
) -> None:
    pilot, app = running
    dialog = await open_modal(pilot, "b", ConfirmDialog)
    assert "web-v1.mar" in dialog.question
    await pilot.press("y")
    await until(pilot, lambda: fake.called("rollback") == [("web",)])
    await until(pilot, lambda: "Rollback web: done" in toasts(app))
    await pilot.press("down")  # zz: one archive only
    await pilot.press("b")
    await until(pilot, lambda: any("nothing to roll back to" in t for t in toasts(app)))
    assert fake.called("rollback") == [("web",)] and isinstance(app.screen, DeploymentsScreen)


async def test_keys_a_runtime_cannot_serve_are_off(running: tuple[Any, TiruiApp], fake: FakeRuntime) -> None:
    """The fake is neither Autoscalable nor Stoppable, and nothing of it ends with tirui."""
    pilot, app = running
    screen = app.screen
    assert screen.check_action("autoscale", ()) is False and screen.check_action("stop", ()) is False
    assert screen.check_action("toggle_keep", ()) is False
    for key in ("a", "x", "k"):
        await pilot.press(key)
    await pilot.pause()
    assert app.screen is screen and [m for m, _ in fake.calls if m not in ("list", "get")] == []


async def test_hostile_text_from_the_runtime_is_shown_as_text(running: tuple[Any, TiruiApp]) -> None:
    pilot, app = running
    await pilot.press("down")
    await until(pilot, lambda: "zz" in text(app, "#deploy-detail"))
    detail = text(app, "#deploy-detail")
    assert f"Reason: {HOSTILE}" in detail and f"{HOSTILE}.mar" in detail
    assert "Failed" in table_rows(app)[1][2]


async def test_canary_start_then_promote_by_hand(running: tuple[Any, TiruiApp], fake: FakeRuntime) -> None:
    pilot, app = running
    form = await open_modal(pilot, "c", FormDialog)
    fill(form, source="eos://models/web-v3.mar", weight="20", steps="")
    await pilot.press("ctrl+s")
    await until(pilot, lambda: fake.called("canary_start") == [("web", "eos://models/web-v3.mar", 20, "")])
    await until(pilot, lambda: "20%" in table_rows(app)[0][1])
    assert isinstance(fake.rows["web"].canary, CanaryStatus)
    await open_modal(pilot, "c", CanaryDialog)
    await pilot.press("p")
    await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
    await pilot.press("y")
    await until(pilot, lambda: fake.called("canary_promote") == [("web",)])
    await until(pilot, lambda: fake.called("canary_record") == [("web", "canary promoted by hand")])
    await until(pilot, lambda: "%" not in table_rows(app)[0][1])
