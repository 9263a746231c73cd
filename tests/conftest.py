"""Test isolation: every test gets its own config/data dirs and no access to the user's keyring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import secret_service

DEAD_BUS = "unix:path=/nonexistent/tirui-test-bus"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every tirui path at a temp dir and hide any real D-Bus session (the fail backend)."""
    home = tmp_path / "home"
    for name, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(home / sub))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", DEAD_BUS)
    for var in ("TIRUI_PROFILE", "TIRUI_SECRETS", "TIRUI_CONFIG_DIR", "TIRUI_DATA_DIR",
                "TIRUI_KEYRING_PASSPHRASE", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(scope="session")
def _secret_service_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with secret_service(tmp_path_factory.mktemp("keyring")) as env:
        yield env


@pytest.fixture
def keyring_bus(_secret_service_session: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """A real, unlocked Secret Service (gnome-keyring) on a private bus for this test."""
    address = _secret_service_session["DBUS_SESSION_BUS_ADDRESS"]
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    return address
