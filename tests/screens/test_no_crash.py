"""Nothing a user types ends the app, and text that came from a user, a file or a server is shown
as text: a failing handler or action becomes a notification and a crash-log entry; hostile names
(``[/x]``, unclosed tags, ``[link=…]``, 10 kB lines) pass through every place that shows them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from textual.screen import Screen
from textual.widgets import DataTable, Select, Static

from tests.support.helpers import until
from tirui.app import TiruiApp
from tirui.crash_guard import crash_log
from tirui.locations import data_dir, profiles_file
from tirui.screens.help import HelpScreen
from tirui.screens.playground.history import HistoryDialog
from tirui.traffic.playground import PlaygroundRequest, history_file

HOSTILE = ["[/x]", "[bold red]x[/", "[link=http://x]y", "[/]", "[b]" * 60]
LONG = "[/x]" + "y" * 10_000


def notifications(app: TiruiApp) -> list[str]:
    return [n.message for n in app._notifications]


class UnexpectedErrors(list[str]):
    """Every "Unexpected error" notification the app shows while the test runs (they expire, so
    they are caught as they are made): a no-crash test fails on any of them as on the crash log."""

    def __init__(self, app: TiruiApp) -> None:
        super().__init__()
        notify = app.notify

        def caught(message: str, *args: Any, **kw: Any) -> None:
            if kw.get("title") == "Unexpected error":
                self.append(message)
            notify(message, *args, **kw)

        app.notify = caught  # type: ignore[method-assign]


class Boom(Screen[None]):
    BINDINGS = [("z", "boom", "Boom")]

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static("boom")

    def action_boom(self) -> None:
        raise RuntimeError("the action failed [/x]")

    def on_key(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.key == "y":
            raise ValueError("the handler failed")


async def test_a_failing_action_or_handler_is_reported_and_the_app_goes_on() -> None:
    app = TiruiApp()
    unexpected = UnexpectedErrors(app)  # what the no-crash tests below count on
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(Boom())
        await pilot.press("z")
        await pilot.press("y")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, Boom)
        said = "\n".join(notifications(app))
        assert "RuntimeError: the action failed [/x]" in said and "ValueError: the handler failed" in said
        assert str(crash_log()) in said
        log = crash_log().read_text()
        assert "action_boom" in log and "on_key" in log and "Traceback" in log
        await pilot.press("z")  # the screen's message loop is alive: it fails (and is reported) again
        await pilot.pause()
        assert crash_log().read_text().count("in action 'boom'") == 2
        assert len(unexpected) == 3 and "the handler failed" in unexpected[1], unexpected
        await pilot.press("escape", "2")
        await pilot.pause()
        assert type(app.screen).__name__ == "DeploymentsScreen"


def _seed_hostile(home: Path) -> None:
    bucket = data_dir() / "buckets" / "hostile"
    bucket.mkdir(parents=True)
    for key in HOSTILE:  # "[/x]" is folder "[" with object "x]", as in any object store
        (bucket / key).parent.mkdir(parents=True, exist_ok=True)
        if not (bucket / key).is_dir():
            (bucket / key).write_bytes(b"x")
    (bucket / "[bold]folder[").mkdir()
    (bucket / "[bold]folder[" / "x[b].mar").write_bytes(b"PK")
    path = history_file("local")
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, target in enumerate([*HOSTILE, LONG]):
        req = asdict(PlaygroundRequest(model=target[:200], headers={"X-Name": target[:200]}))
        req["body"] = target
        entry = {
            "ts": time.time() + i,
            "target": target,
            "request": req,
            "status": target[:50],
            "elapsed_ms": 1.0,
        }
        lines.append(json.dumps(entry))
    path.write_text("\n".join(lines) + "\n")
    profiles_file().parent.mkdir(parents=True, exist_ok=True)
    profiles_file().write_text(
        '[profiles.hostile]\ndescription = "[bold red]boom[/"\n'
        '[profiles.hostile.storage]\nendpoint_url = "http://127.0.0.1:9/[/x]"\n'
    )


async def test_hostile_text_is_shown_as_text_everywhere(isolated: Path) -> None:
    """Object keys, folder names, history entries (targets, models, headers, bodies, statuses),
    profile names and descriptions, and what is typed in the command bar: nothing is markup."""
    _seed_hostile(isolated)
    app = TiruiApp()
    unexpected = UnexpectedErrors(app)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        table = app.screen.query_one("#objects", DataTable)
        await until(pilot, lambda: table.row_count > 0)
        table.move_cursor(
            row=next(i for i in range(table.row_count) if "hostile" in str(table.get_row_at(i)))
        )
        await pilot.press("enter")
        await until(pilot, lambda: any("folder" in str(table.get_row_at(i)) for i in range(table.row_count)))
        shown = " ".join(str(table.get_row_at(i)) for i in range(table.row_count))
        assert "[bold red]x[" in shown and "[link=http:/" in shown and "[bold]folder[" in shown
        buckets = app.screen
        for row in range(table.row_count):  # the details of every row
            table.move_cursor(row=row)
            await pilot.press("i")
            await pilot.pause()
            if app.screen is not buckets:
                await pilot.press("escape")
                await pilot.pause()
        table.move_cursor(row=next(i for i in range(table.row_count) if "'[/'" in str(table.get_row_at(i))))
        await pilot.press("enter")  # into folder "[": the breadcrumb says eos://hostile/[/
        await until(pilot, lambda: any("x]" in str(table.get_row_at(i)) for i in range(table.row_count)))
        inside = app.screen
        table.move_cursor(row=next(i for i in range(table.row_count) if "x]" in str(table.get_row_at(i))))
        for key in ("u", "g"):  # the upload and download dialogs name the folder and the key
            await pilot.press(key)
            await until(pilot, lambda: app.screen is not inside)
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is inside)
        await pilot.press("backspace")
        await pilot.pause()
        for typed in ("[bold red]x[/", "profile [/x]", "profile x[/x]", LONG[:2000]):
            await pilot.press("colon")
            await pilot.pause()
            app.screen.query_one("Input").value = typed  # type: ignore[attr-defined]
            await pilot.press("enter")
            await pilot.pause()
        assert any("[bold red]x[/" in m for m in notifications(app))
        assert any("x[/x]" in m for m in notifications(app))  # no such profile, said as text
        await pilot.press("colon", *"profile local", "enter")
        await pilot.press("5")  # profiles and tokens
        await pilot.pause()
        assert "[bold red]boom[/" in " ".join(
            str(app.screen.query_one("#profiles-table", DataTable).get_row_at(i))
            for i in range(app.screen.query_one("#profiles-table", DataTable).row_count)
        )
        await pilot.press("4", "ctrl+e")  # the Playground's history
        await until(pilot, lambda: isinstance(app.screen, HistoryDialog))
        history = app.screen.query_one(DataTable)
        assert history.row_count == len(HOSTILE) + 1
        for row in range(history.row_count):  # every entry loads into the form
            await pilot.press("enter")
            await pilot.pause()
            await pilot.press("ctrl+e")
            await until(pilot, lambda: isinstance(app.screen, HistoryDialog))
            app.screen.query_one(DataTable).move_cursor(row=row + 1)
        await pilot.press("escape")
        for key in ("1", "2", "3", "4", "5", "question_mark"):
            await pilot.press(key)
            await pilot.pause()
        assert app.is_running
    assert not crash_log().exists(), crash_log().read_text()
    assert unexpected == []


async def test_every_dialog_shows_its_title_and_labels_as_text(isolated: Path) -> None:
    """Dialog titles, field labels and notes carry object keys, file names, targets and server
    text: each dialog opens with a hostile one (the monkey found ``Upload to eos://b/[/``)."""
    from tirui.screens.buckets.transfer import TransferDialog
    from tirui.screens.dialogs import ConfirmDialog, Field, FormDialog, MessageDialog
    from tirui.screens.viewer import TextViewer
    from tirui.storage.base import CancelToken

    app = TiruiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        for text in [*HOSTILE, LONG]:
            lines = [text]
            dialogs: list[Screen[Any]] = [
                FormDialog(text, [Field("a", text, text)], note=text),
                MessageDialog(text, text),
                ConfirmDialog(text),
                TransferDialog(text, 10, CancelToken()),
                TextViewer(text, lambda lines=lines: lines),  # type: ignore[misc]
            ]
            for dialog in dialogs:
                app.push_screen(dialog)
                await until(pilot, partial(lambda d: app.screen is d, dialog))
                await pilot.pause()
                dialog.dismiss(None)
                await until(pilot, partial(lambda d: app.screen is not d, dialog))
        assert app.is_running
    assert not crash_log().exists(), crash_log().read_text()


async def test_a_second_submit_queued_to_a_closed_dialog_does_nothing(isolated: Path) -> None:
    """Two enters typed fast reach a form as two ``Input.Submitted``: the form answers once,
    and the second does not close the screen that is on top by then (the monkey found it as
    ``ScreenStackError``; with a dialog on top it would have closed that one and run the form's
    callback twice)."""
    from textual.widgets import Input

    from tirui.screens.dialogs import ConfirmDialog, Field, FormDialog

    app = TiruiApp()
    answers: list[object] = []
    async with app.run_test(size=(80, 24)) as pilot:
        form = FormDialog("Name", [Field("name", "Name", "x")])
        question = ConfirmDialog("still here?")

        def answered(values: object) -> None:
            answers.append(values)
            app.push_screen(question)  # what a callback does: the next dialog

        app.push_screen(form, answered)
        await until(pilot, lambda: bool(form.query("#field-name")))
        field = form.query_one("#field-name", Input)
        form.post_message(Input.Submitted(field, "x"))
        form.post_message(Input.Submitted(field, "x"))
        await until(pilot, lambda: app.screen is question)
        await pilot.pause()
        assert app.screen is question and answers == [{"name": "x"}]
    assert not crash_log().exists(), crash_log().read_text()


async def test_history_entries_load_across_protocols(isolated: Path) -> None:
    """An HTTP entry loads in gRPC mode and a gRPC entry in HTTP mode (the presets follow)."""
    path = history_file("local")
    path.parent.mkdir(parents=True, exist_ok=True)
    http = asdict(PlaygroundRequest(protocol="http", preset="Predict", model="tiny"))
    grpc = asdict(PlaygroundRequest(protocol="grpc", preset="StreamPredictions", model="tiny"))
    http["body"] = grpc["body"] = ""
    entries = [(http, "http://127.0.0.1:1"), (grpc, "grpc://127.0.0.1:1")]
    path.write_text(
        "".join(
            json.dumps({"ts": i, "target": t, "request": r, "status": "200", "elapsed_ms": 1.0}) + "\n"
            for i, (r, t) in enumerate(entries)
        )
    )
    app = TiruiApp(start_mode="play")
    async with app.run_test(size=(80, 24)) as pilot:
        for target, (protocol, preset) in (
            ("http://127.0.0.1:1", ("http", "Predict")),
            ("grpc://127.0.0.1:1", ("grpc", "StreamPredictions")),
        ):
            for other in ("grpc", "http"):  # from either mode
                app.screen.query_one("#protocol", Select).value = other
                await pilot.pause()
                await pilot.press("ctrl+e")
                await until(pilot, lambda: isinstance(app.screen, HistoryDialog))
                rows = app.screen.query_one(DataTable)
                rows.move_cursor(
                    row=next(i for i in range(rows.row_count) if target in str(rows.get_row_at(i)))
                )
                await pilot.press("enter")
                await pilot.pause()
                await pilot.pause()
                assert app.screen.query_one("#protocol", Select).value == protocol
                assert app.screen.query_one("#preset", Select).value == preset
    assert not crash_log().exists(), crash_log().read_text()


def test_copy_as_grpcurl_from_http_mode_names_the_rpc() -> None:
    req = PlaygroundRequest(protocol="http", preset="Predict", model="tiny")
    assert req.as_grpc().preset == "Predictions" and req.as_grpc().api == "inference"
    described = PlaygroundRequest(protocol="http", preset="Describe model", model="tiny").as_grpc()
    assert (described.preset, described.api) == ("DescribeModel", "management")
    with pytest.raises(ValueError, match="no gRPC equivalent"):
        PlaygroundRequest(protocol="http", preset="Explain").as_grpc()


async def test_help_and_palette_show_keys_as_typed() -> None:
    app = TiruiApp()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        table = app.screen.query_one(DataTable)
        keys = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert "]" in keys and "/" in keys and ":" in keys and "?" in " ".join(keys)
        assert not [k for k in keys if "_" in k], keys


def test_every_subcommand_help_works() -> None:
    top = subprocess.run([sys.executable, "-m", "tirui", "--help"], capture_output=True, text=True)
    assert top.returncode == 0
    commands = [m.group(1) for line in top.stdout.splitlines() if (m := re.match(r"^    ([a-z-]+) ", line))]
    assert {"deploy", "canary", "bench", "predict", "ls"} <= set(commands)
    for c in commands:
        r = subprocess.run([sys.executable, "-m", "tirui", c, "--help"], capture_output=True, text=True)
        assert r.returncode == 0 and "usage:" in r.stdout, (c, r.stderr[-500:])


async def test_stream_predictions_asks_first(isolated: Path) -> None:
    """StreamPredictions kills the worker of a handler that does not stream: asked before sending
    (and a model named like markup is shown as text in the question)."""
    from textual.widgets import Input

    from tirui.screens.dialogs import ConfirmDialog

    app = TiruiApp(start_mode="play")
    async with app.run_test(size=(80, 24)) as pilot:
        s = app.screen
        s.query_one("#target", Input).value = "grpc://127.0.0.1:1"
        s.query_one("#protocol", Select).value = "grpc"
        await pilot.pause()
        s.query_one("#preset", Select).value = "StreamPredictions"
        s.query_one("#model", Input).value = "[/x]"
        await pilot.press("ctrl+j")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "handler that streams" in app.screen.question and "[/x]" in app.screen.question
        await pilot.press("n")
        await until(
            pilot,
            lambda: "Not sent: StreamPredictions cancelled" in str(s.query_one("#resp-status").render()),
        )
    assert not crash_log().exists()


SAFE_KEYS = [
    *"abcdefghijklmnopqrstuvwyz0123456789",
    *("A", "S", "B", "Z"),
    "escape", "enter", "tab", "shift+tab", "up", "down", "left", "right", "home", "end", "pageup",
    "pagedown", "backspace", "delete", "space", "colon", "slash", "question_mark", "left_square_bracket",
    "right_square_bracket", "ctrl+e", "ctrl+j", "ctrl+t", "ctrl+y", "ctrl+g", "ctrl+o", "ctrl+s",
    "ctrl+r", "ctrl+k", "ctrl+x", "ctrl+p", "ctrl+a", "ctrl+w", "f5",
]  # fmt: skip
"""Everything but what quits (ctrl+q, ctrl+c) or deletes (ctrl+d, x stops a deployment)."""


PASTES = [*HOSTILE, LONG[:3000], "\x1b[31m", "\t\n\r", "\\", "'\"$(rm)"]
MUTATING_RPCS = ("ScaleWorker", "UnregisterModel", "SetDefault", "RegisterModel")


def _harmful(app: TiruiApp, key: str) -> bool:
    """Keys that would do what a user asks to stop or change a deployment (scale it to 0, send
    an unregister from the Playground, run a palette or command-bar entry such as quit): the
    monkey leaves those out, so "still served" afterwards means nothing broke it by accident."""
    from textual.command import CommandPalette

    from tirui.screens.command_bar import CommandBar
    from tirui.screens.deployments.screen import DeploymentsScreen
    from tirui.screens.playground.screen import PlaygroundScreen

    screen = app.screen
    if isinstance(screen, CommandPalette | CommandBar):
        return key == "enter"
    if isinstance(screen, DeploymentsScreen):
        return key == "s"
    if isinstance(screen, PlaygroundScreen) and key in ("ctrl+j", "f5", "ctrl+t"):
        try:
            req = screen.build_request()
        except ValueError:
            return False
        if req.protocol == "grpc":
            return req.preset in MUTATING_RPCS
        return req.api == "management" and req.method != "GET"
    return False


RISKY = {"enter", "s", "ctrl+j", "f5", "ctrl+t"}
"""The keys :func:`_harmful` judges: the keys typed before one are let land first."""
CHARS = {
    "space": " ", "colon": ":", "slash": "/", "question_mark": "?", "left_square_bracket": "[",
    "right_square_bracket": "]", "enter": "\r", "tab": "\t", "escape": "\x1b", "backspace": "\x7f",
}  # fmt: skip


async def _monkey(app: TiruiApp, pilot: Any, seed: int, count: int) -> list[str]:
    """``count`` seeded keys (and a hostile paste now and then into whatever has focus), sent in
    bursts of up to 8 as a fast typist's or a paste's arrive; the app must be running after each
    burst. Returns what was done, for the failure message."""
    import random

    from textual import events

    rng = random.Random(seed)
    pressed: list[str] = []
    burst = 0

    async def land() -> None:
        nonlocal burst
        await pilot.pause()
        burst = 0
        assert app.is_running, f"seed {seed}: the app ended after {pressed[-20:]}"

    for _ in range(count):
        if rng.random() < 0.04:
            text = rng.choice(PASTES)
            pressed.append(f"paste {text[:20]!r}")
            focused = app.focused
            if focused is not None:
                focused.post_message(events.Paste(text))
            continue
        key = rng.choice(SAFE_KEYS)
        if key in RISKY or burst >= 8:
            await land()
            if _harmful(app, key):
                continue
        pressed.append(key)
        app.post_message(events.Key(key, key if len(key) == 1 else CHARS.get(key)))
        burst += 1
    await land()
    return pressed


@pytest.mark.parametrize("seed", [1, 2])
async def test_monkey_keys_and_hostile_pastes_never_end_the_app(
    isolated: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seeded random keys across every screen and dialog, with hostile strings pasted into
    whatever has focus: the app is still running and the crash log is empty (seed printed on
    failure)."""
    _seed_hostile(isolated)
    monkeypatch.chdir(isolated)  # downloads and exports default to the working directory
    app = TiruiApp()
    unexpected = UnexpectedErrors(app)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:  # toasts render
        pressed = await _monkey(app, pilot, seed, 1500)
    assert not crash_log().exists(), (
        f"seed {seed}, last keys {pressed[-30:]}:\n" + crash_log().read_text()[-4000:]
    )
    assert unexpected == [], f"seed {seed}, last keys {pressed[-30:]}"


async def test_monkey_on_a_served_deployment(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's real TorchServe deployment, then a few thousand seeded keys and hostile pastes
    on every screen (the Playground sending to it, the log viewer following it, its Metrics):
    the app is still running, the deployment still answers predictions, the crash log is empty."""
    import asyncio

    import httpx

    from tirui.cluster.spec import DeploymentSpec
    from tirui.demo.model import expected_output
    from tirui.demo.setup import prepare_demo

    prepare_demo()
    _seed_hostile(isolated)
    monkeypatch.chdir(isolated)
    seed = 7
    app = TiruiApp(profile="local", start_mode="deploy")
    unexpected = UnexpectedErrors(app)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        runtime = await app.get_runtime()
        assert runtime is not None
        spec = DeploymentSpec("tiny", "eos://models/tiny.mar")
        await asyncio.to_thread(runtime.deploy, spec)
        await until(pilot, lambda: runtime.get("tiny").status == "Ready", timeout=180)
        pressed = await _monkey(app, pilot, seed, 3000)

        def served() -> bool:
            target = runtime.target("tiny")
            if target is None:
                return False
            try:
                r = httpx.post(
                    f"{target.http.inference_url}/predictions/tiny",
                    json=[1, 1, 1, 1],
                    headers={"Authorization": f"Bearer {target.http.inference_token}"},
                    timeout=30,
                )
            except httpx.HTTPError:
                return False
            return r.status_code == 200 and r.json() == expected_output([1, 1, 1, 1])

        await until(pilot, served, timeout=180)  # a restart (r) it may have asked is allowed
        assert app.is_running
    assert not crash_log().exists(), (
        f"seed {seed}, last keys {pressed[-30:]}:\n" + crash_log().read_text()[-4000:]
    )
    assert unexpected == [], f"seed {seed}, last keys {pressed[-30:]}"


async def test_hits_arriving_while_the_palette_is_taken_down(isolated: Path) -> None:
    """Quitting with the palette open while a search runs: the palette's list goes first, and
    the hits that arrive after it must not reach its watchers (the monkey found it at the end of
    a run as ``NoMatches: CommandList``, a worker failure that ends the app). The teardown's
    order is made by hand here, the provider holding its hits until the list is gone."""
    import asyncio

    from textual.command import CommandInput, CommandList, Hit, Hits, Provider
    from textual.worker import WorkerState

    from tirui.commands import Palette

    release, started = asyncio.Event(), asyncio.Event()

    class Late(Provider):
        async def search(self, query: str) -> Hits:
            started.set()
            await release.wait()
            for i in range(3):  # across the palette's 0.25 s batching, so each reaches a refresh
                yield Hit(1, f"late {i}", lambda: None)
                await asyncio.sleep(0.3)

    app = TiruiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        palette = Palette(id="--command-palette", providers=[Late])
        app.push_screen(palette)
        await until(pilot, lambda: app.screen is palette and bool(palette.query(CommandInput)))
        palette.query_one(CommandInput).value = "late"
        await until(pilot, started.is_set)
        await palette.query_one(CommandList).remove()
        await palette.query_one("#--input").remove()
        release.set()
        searches = [w for w in app.workers if w.group == Palette._GATHER_COMMANDS_GROUP]
        await until(pilot, lambda: all(w.is_finished for w in searches))
        assert [w.state for w in searches][-1] is WorkerState.SUCCESS
        assert app.is_running
    assert not crash_log().exists()


async def test_a_screen_notification_with_markup_is_shown_as_text(isolated: Path) -> None:
    """A widget's ``notify`` asks for markup by default; what it says comes from users (the
    canary form's archive, typed ``eos://models/[/x].mar``, ended the app when its toast rendered:
    the tests before ran without toasts). Toasts are rendered here."""
    from textual.widgets._toast import Toast

    app = TiruiApp()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        for text in HOSTILE:
            app.screen.notify(f"Starting {text} as the canary", title=text)
        await until(pilot, lambda: len(app.screen.query(Toast)) >= len(HOSTILE))
        await pilot.pause()
        shown = " ".join(str(t.render()) for t in app.screen.query(Toast))
        assert "[/x]" in shown and "[bold red]x[/" in shown
        assert app.is_running
    assert not crash_log().exists()
