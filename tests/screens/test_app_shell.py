"""The app shell driven with Textual's Pilot: navigation, command bar, help, palette, errors."""

from __future__ import annotations

from pathlib import Path

from textual.command import CommandPalette
from textual.widgets import DataTable, Input

from tirui.app import TiruiApp
from tirui.locations import profiles_file
from tirui.screens.dialogs import FormDialog
from tirui.screens.help import HelpScreen

PROFILES = """\
[profiles.minio.storage]
endpoint_url = "http://127.0.0.1:9"
[profiles.minio.kubernetes]
context = "kind-dev"
namespace = "ml"
"""


def notifications(app: TiruiApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_number_keys_switch_screens() -> None:
    app = TiruiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        expected = {
            "1": "BucketsScreen",
            "2": "DeploymentsScreen",
            "3": "MetricsScreen",
            "4": "PlaygroundScreen",
            "5": "TokensScreen",
        }
        for key, name in expected.items():
            await pilot.press(key)
            await pilot.pause()
            assert type(app.screen).__name__ == name
        assert app.size_warning == ""


async def test_command_bar() -> None:
    app = TiruiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("colon", *"deploy", "enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "DeploymentsScreen"
        await pilot.press("colon", *"play", "enter")
        await pilot.pause()
        assert app.current_mode == "play"
        await pilot.press("colon", *"frobnicate", "enter")
        await pilot.pause()
        assert any("Unknown command ':frobnicate'" in m for m in notifications(app))
        assert app.current_mode == "play"  # still running, same screen
        await pilot.press("colon", "escape")
        await pilot.pause()
        assert app.current_mode == "play"


async def test_help_lists_screen_and_global_keys() -> None:
    app = TiruiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one(DataTable)
        actions = {str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert {"Add token", "Rotate", "Delete", "Reveal", "Help", "Quit", "Buckets"} <= actions
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "TokensScreen"


async def test_palette_runs_screen_actions() -> None:
    app = TiruiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Add token")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.5)
        # The fail backend is active in tests: the action explains instead of opening the form.
        assert app.current_mode == "tokens"
        assert any("No keyring available" in m for m in notifications(app))


async def test_invalid_profile_file_keeps_running(isolated: Path) -> None:
    profiles_file().parent.mkdir(parents=True, exist_ok=True)
    profiles_file().write_text("[profiles.x.storage]\nendpont = 1\n")
    app = TiruiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.profile.name == "local"
        messages = notifications(app)
        assert any("unknown key 'endpont'" in m and "profiles.toml:2" in m for m in messages)


async def test_unknown_profile_name(isolated: Path) -> None:
    app = TiruiApp("nope")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.profile.name == "local"
        assert any("unknown profile 'nope'" in m for m in notifications(app))


async def test_switch_profile_updates_header(isolated: Path) -> None:
    profiles_file().parent.mkdir(parents=True, exist_ok=True)
    profiles_file().write_text(PROFILES)
    app = TiruiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("colon", *"profile minio", "enter")
        await pilot.pause()
        assert app.profile_name == "minio" and app.location == "kind-dev/ml"
        header = app.screen.query_one("#status-header")
        assert "minio" in str(header.render()) and "kind-dev/ml" in str(header.render())
        await pilot.press("colon", *"profile ghost", "enter")
        await pilot.pause()
        assert app.profile_name == "minio"
        assert any("unknown profile 'ghost'" in m for m in notifications(app))


async def test_small_terminal_warns() -> None:
    app = TiruiApp()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        assert "60x20" in app.size_warning
        assert any("smaller than 80x24" in m for m in notifications(app))
        await pilot.press("5")
        await pilot.pause()
        assert app.current_mode == "tokens"  # still usable


async def test_tokens_screen_with_real_keyring(keyring_bus: str) -> None:
    app = TiruiApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("5")
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        await pilot.press("a")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, FormDialog)
        dialog.query_one("#field-scope", Input).value = "https://m.example"
        value = dialog.query_one("#field-value", Input)
        value.value = "ui-token-0123456789abcd"
        assert value.password  # typed hidden
        await pilot.press("ctrl+s")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one("#tokens-table", DataTable)
        assert table.row_count == 1
        row = table.get_row_at(0)
        assert str(row[2]) == "api" and "ui-token" not in "".join(map(str, row))
        table.focus()
        await pilot.press("r")
        await pilot.pause()
        app.screen.query_one("#field-value", Input).value = "ui-token-rotated-999999"
        await pilot.press("ctrl+s")
        await pilot.pause()
        await app.workers.wait_for_complete()
        store = app.token_store
        assert store is not None
        from tirui.secrets import TokenRef

        assert store.get(TokenRef("local", "https://m.example", "api")) == "ui-token-rotated-999999"
        await pilot.press("v")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "ui-token-rotated-999999" in str(app.screen.query_one(".dialog-text").render())
        await pilot.press("escape")
        await pilot.press("ctrl+d")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.query_one("#tokens-table", DataTable).row_count == 0
        assert store.get(TokenRef("local", "https://m.example", "api")) is None


async def test_quitting_asks_when_it_would_stop_what_this_tirui_started() -> None:
    """`:q` (which the bar completes from `q`) and ctrl+q ask one question naming what would stop
    (only what this tirui started), with keep-running and cancel; without such a deployment
    they quit at once."""
    from tests.support.fake_runtime import FakeRuntime, status
    from tirui.screens.dialogs import QuitDialog

    for answer, kept in (("s", False), ("k", True)):
        fake = FakeRuntime(status("mine"), status("cli2"))
        fake.stops_on_exit, fake.started = True, ["mine"]
        app = TiruiApp(open_runtime=lambda profile, tokens, fake=fake: fake)  # type: ignore[misc]
        async with app.run_test(size=(80, 24)) as pilot:
            await app.get_runtime()
            await pilot.press("colon", "q", "enter")
            for _ in range(50):
                await pilot.pause()
                if isinstance(app.screen, QuitDialog):
                    break
            assert isinstance(app.screen, QuitDialog)
            text = str(app.screen.query_one(".dialog-text").render())
            assert "mine" in text and "cli2" not in text
            await pilot.press("escape")  # stay
            await pilot.pause()
            assert app.is_running and not isinstance(app.screen, QuitDialog)
            await pilot.press("ctrl+q")
            for _ in range(50):
                await pilot.pause()
                if isinstance(app.screen, QuitDialog):
                    break
            await pilot.press(answer)
            await pilot.pause()
        assert app.keep_deployments is kept
        assert fake.called("shutdown") == [(kept,)]

    quiet = FakeRuntime(status("other"))
    quiet.stops_on_exit = True  # nothing started here: no question
    app = TiruiApp(open_runtime=lambda profile, tokens: quiet)  # type: ignore[misc]
    async with app.run_test(size=(80, 24)) as pilot:
        await app.get_runtime()
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert not app.is_running and quiet.called("shutdown") == [(False,)]
