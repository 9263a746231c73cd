"""Files that can hold request bodies or tracebacks are the owner's alone (0600), whatever the
umask, and stay so when they existed with looser modes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tirui import crash_guard
from tirui.traffic import playground


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_crash_log_is_private(isolated: Path, loose_umask: None) -> None:
    try:
        raise RuntimeError("a body: {'secret': 1}")
    except RuntimeError as exc:
        path = crash_guard.record("test", exc)
    assert mode(path) == 0o600 and "a body" in path.read_text()
    path.chmod(0o644)
    try:
        raise ValueError("again")
    except ValueError as exc:
        crash_guard.record("test", exc)
    assert mode(path) == 0o600 and "again" in path.read_text() and "a body" in path.read_text()


def test_the_playground_history_is_private(isolated: Path, loose_umask: None) -> None:
    req = playground.PlaygroundRequest(body=b'{"input": "private"}')
    resp = playground.PlaygroundResponse(ok=True, status="200")
    playground.record("local", "http://127.0.0.1:1", req, resp)
    path = playground.history_file("local")
    assert mode(path) == 0o600 and "private" in path.read_text()
    path.chmod(0o644)
    playground.record("local", "http://127.0.0.1:1", req, resp)
    assert mode(path) == 0o600 and len(playground.load_history("local")) == 2
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left


def test_a_typed_model_or_version_is_one_path_segment() -> None:
    """What a user types as the Playground's model or version goes into the preset's path as data."""
    from tirui.traffic.playground import fill_path

    path = fill_path("/predictions/{model}{/version}", "my model", "X: caf[/x]é?y=1")
    assert path == "/predictions/my%20model/X%3A%20caf%5B%2Fx%5D%C3%A9%3Fy%3D1"
    assert fill_path("/models/{model}{/version}", "tiny", "") == "/models/tiny"
