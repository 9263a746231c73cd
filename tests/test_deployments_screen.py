"""Deployments screen on the local runtime, driven with Pilot: deploy from Buckets, scale, delete."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, Static

from tests.test_buckets_screen import open_models, rows, until
from tirui.app import TiruiApp
from tirui.locations import local_buckets_dir
from tirui.screens.dialogs import ConfirmDialog, FormDialog
from tirui.storage.local import LocalStore
from tirui.torchserve.server import group_alive


def table_rows(app: TiruiApp) -> list[list[str]]:
    table = app.screen.query_one("#deployments", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def status_of(app: TiruiApp, name: str) -> str:
    runtime = app.runtime
    return runtime.get(name).status if runtime is not None and name in runtime._deps else ""


async def test_deploy_from_buckets_then_scale_and_delete(isolated: Path, tiny_mar: Path) -> None:
    store = LocalStore(local_buckets_dir())
    store.create_bucket("models")
    store.upload(tiny_mar, "models", "tiny.mar")
    app = TiruiApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_models(pilot, app)
        assert rows(app) == ["tiny.mar"]
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, FormDialog))
        form = app.screen
        assert form.query_one("#field-source", Input).value == "eos://models/tiny.mar"
        assert form.query_one("#field-name", Input).value == "tiny"
        form.query_one("#field-workers", Input).value = "two"
        await pilot.press("ctrl+s")
        assert "not a whole number" in str(form.query_one("#form-error", Static).render())
        form.query_one("#field-workers", Input).value = "1"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.current_mode == "deploy" and not isinstance(app.screen, FormDialog))
        await until(pilot, lambda: any(r[0] == "tiny" for r in table_rows(app)), timeout=30)
        await until(pilot, lambda: "Ready" in table_rows(app)[0][2], timeout=120)
        assert table_rows(app)[0][3] == "1/1"

        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, FormDialog))
        app.screen.query_one("#field-count", Input).value = "2"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: table_rows(app)[0][3] == "2/2", timeout=90)

        pgid = app.runtime._deps["tiny"].state.pgid
        await pilot.press("ctrl+d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: table_rows(app) == [], timeout=30)
        assert not group_alive(pgid)


async def test_kubernetes_profile_says_runtime_not_built(isolated: Path) -> None:
    from tirui.locations import profiles_file

    profiles_file().parent.mkdir(parents=True, exist_ok=True)
    profiles_file().write_text('[profiles.k8s.kubernetes]\ncontext = "gpu"\n')
    app = TiruiApp(profile="k8s", start_mode="deploy")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(
            pilot, lambda: "not built yet" in str(app.screen.query_one("#deploy-message", Static).render())
        )
