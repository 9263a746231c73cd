"""Inputs are judged before they are used (tirui.limits), and a refused deploy loses nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from tests.support.fake_runtime import FakeRuntime
from tests.support.helpers import until
from tirui.app import TiruiApp
from tirui.cluster.runtime import DEPLOY, ApplyResult, DeployOptions
from tirui.cluster.spec import DeploymentSpec, SpecError
from tirui.core.errors import RuntimeFailure
from tirui.limits import WORKERS, LimitError
from tirui.screens.deployments.deploy_form import DeployForm

HUGE = "99999999999999999999"


class RefusingRuntime(FakeRuntime):
    """Passes the form's check, refuses the deploy itself (as a server would)."""

    def deploy(self, spec: DeploymentSpec, how: DeployOptions = DEPLOY) -> ApplyResult:
        if not how.dry_run:
            raise RuntimeFailure(f"{spec.name}: refused by the server [/x]")
        return super().deploy(spec, how)


def test_numbers_are_judged_alike_everywhere() -> None:
    for text in (HUGE, "1e3", "4.0", "-1", " ", "٣"):
        try:
            WORKERS.parse(text)
        except LimitError as exc:
            assert "workers" in str(exc)
        else:
            raise AssertionError(f"{text!r} accepted")
    assert WORKERS.parse(" 4 ") == 4
    for value, field in ((HUGE, "workers"), ("1e3", "batch_size"), ("0", "request_timeout_s")):
        try:
            DeploymentSpec.from_values({"name": "x", "source": "eos://m/x.mar", field: value})
        except SpecError as exc:
            assert field in exc.problems, exc.problems
        else:
            raise AssertionError(f"{field}={value!r} accepted")


def test_the_cli_refuses_out_of_range_numbers_in_one_line(isolated: Path) -> None:
    for args in (
        ["scale", "anything", HUGE],
        ["deploy", "eos://models/tiny.mar", "--name", "w", "--workers", "100000"],
    ):
        r = subprocess.run(
            [sys.executable, "-m", "tirui", *args], capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 1 and "workers must be 0-256" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


async def test_a_refused_deploy_reopens_the_form_with_what_was_typed(isolated: Path) -> None:
    fake = RefusingRuntime()
    app = TiruiApp(start_mode="deploy", open_runtime=lambda profile, tokens: fake)  # type: ignore[misc]
    async with app.run_test(size=(80, 24)) as pilot:
        await app.get_runtime()
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, DeployForm))
        form = app.screen
        form.query_one("#field-source", Input).value = "eos://models/tiny.mar"
        form.query_one("#field-name", Input).value = "typed"
        form.query_one("#field-workers", Input).value = HUGE
        await pilot.press("ctrl+s")
        error = form.query_one("#form-error", Static)
        await until(pilot, lambda: "workers must be 0-256" in str(error.render()))
        assert app.screen is form and not fake.called("deploy")  # judged before anything is sent
        form.query_one("#field-workers", Input).value = "3"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, DeployForm) and app.screen is not form)
        again = app.screen
        assert isinstance(again, DeployForm)
        shown = again.query_one("#form-error", Static)
        await until(pilot, lambda: "refused by the server [/x]" in str(shown.render()))
        assert again.query_one("#field-name", Input).value == "typed"
        assert again.query_one("#field-workers", Input).value == "3"
        assert [how.dry_run for _, how in fake.called("deploy")] == [True]


async def test_the_token_dialog_judges_profile_and_address(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tirui.screens.dialogs import FormDialog

    monkeypatch.setenv("TIRUI_KEYRING_PASSPHRASE", "correct horse")
    app = TiruiApp(start_mode="tokens", secrets_backend="encrypted-file")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.screen.query("#tokens-table"))
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, FormDialog))
        form = app.screen
        error = form.query_one("#form-error", Static)
        for profile, name, said in (
            ("nope", "api", "unknown profile 'nope'"),
            ("local", "a/b", "cannot hold '/'"),
        ):
            form.query_one("#field-profile", Input).value = profile
            form.query_one("#field-name", Input).value = name
            form.query_one("#field-value", Input).value = "value-0123456789abcdef"
            await pilot.press("ctrl+s")
            await until(pilot, lambda said=said: said in str(error.render()))  # type: ignore[misc]
            assert app.screen is form
