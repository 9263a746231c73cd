"""Keys typed while a key's action is still opening something wait for it (tirui.screens.typeahead).

Each test sends a burst: every key is queued on the app before the first has been handled, as
tmux ``send-keys`` or a fast typist does. Without the gate the keys after the first went to the
screen underneath (``a`` is the Deployments screen's Autoscale, ``x`` its Stop) and were lost."""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.widgets import Input

from tests.screens.test_buckets_screen import open_models
from tests.support.helpers import until
from tirui.app import TiruiApp
from tirui.locations import local_buckets_dir
from tirui.screens.command_bar import CommandBar
from tirui.screens.deployments.deploy_form import DeployForm
from tirui.screens.playground.screen import PlaygroundScreen
from tirui.storage.local import LocalStore


def burst(app: TiruiApp, *keys: str) -> None:
    """Queue ``keys`` on the app at once (single characters are typed as themselves)."""
    for key in keys:
        character = key if len(key) == 1 else {"colon": ":", "space": " "}.get(key)
        app.post_message(events.Key(key, character))


def focused_value(app: TiruiApp) -> str:
    focused = app.screen.focused
    return focused.value if isinstance(focused, Input) else f"<{focused!r} focused>"


async def test_letters_typed_after_n_land_in_the_deploy_form(isolated: Path) -> None:
    app = TiruiApp(start_mode="deploy")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        burst(app, "n", "a", "x", "c")
        await until(pilot, lambda: isinstance(app.screen, DeployForm) and focused_value(app) == "axc")
        await until(pilot, lambda: not app.typeahead.holding)
        await pilot.press("escape")  # the form was the only dialog: no Autoscale or Stop question
        await until(pilot, lambda: not isinstance(app.screen, DeployForm))
        assert app.screen is app.main_screens["deploy"]


async def test_a_command_typed_after_colon_runs(isolated: Path) -> None:
    app = TiruiApp(start_mode="deploy")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        burst(app, "colon", "p", "l", "a", "y")
        await until(pilot, lambda: isinstance(app.screen, CommandBar) and focused_value(app) == "play")
        burst(app, "enter", "ctrl+u")  # a bound key after the one that closes the bar waits too
        await until(pilot, lambda: isinstance(app.screen, PlaygroundScreen))
        await until(pilot, lambda: not app.typeahead.holding)


async def test_keys_after_d_on_an_archive_reach_the_form_that_d_opens(isolated: Path, tiny_mar: Path) -> None:
    """``d`` in Buckets posts a message; the app switches to Deployments and opens the form.
    Keys typed meanwhile go to the form's first field, not to Buckets or Deployments."""
    store = LocalStore(local_buckets_dir())
    store.create_bucket("models")
    store.upload(tiny_mar, "models", "tiny.mar")
    app = TiruiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_models(pilot, app)
        burst(app, "d", "end", "z", "z")
        await until(pilot, lambda: isinstance(app.screen, DeployForm))
        await until(pilot, lambda: focused_value(app) == "eos://models/tiny.marzz")
        await until(pilot, lambda: not app.typeahead.holding)


async def test_quit_keys_pass_while_keys_are_held(isolated: Path) -> None:
    """ctrl+q is never kept back (nothing that opens slowly can stop the user quitting)."""
    app = TiruiApp(start_mode="deploy")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        burst(app, "n", "ctrl+q")
        await until(pilot, lambda: not app.is_running)
