"""Token store against a real Secret Service (gnome-keyring) and the fail-backend path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tirui.secrets import KeyringLocked, KeyringUnavailable, SecretStoreError, TokenRef, TokenStore, mask

REF = TokenRef("prod", "https://models.example.net", "api")


def test_secret_service_roundtrip(keyring_bus: str, isolated: Path) -> None:
    store = TokenStore("system")
    assert store.available, store.unavailable_reason
    assert "SecretService" in store.describe()
    store.set(REF, "tok-aaaaaaaaaaaaaaaa-1")
    assert store.get(REF) == "tok-aaaaaaaaaaaaaaaa-1"
    # A second store (new process state) reads it back from the daemon, not from memory.
    assert TokenStore("system").get(REF) == "tok-aaaaaaaaaaaaaaaa-1"
    created = store.entries("prod")[0].created
    store.set(REF, "tok-bbbbbbbbbbbbbbbb-2")  # rotate
    metas = store.entries("prod")
    assert [m.name for m in metas] == ["api"] and metas[0].created == created
    assert metas[0].updated >= created
    assert store.get(REF) == "tok-bbbbbbbbbbbbbbbb-2"
    assert store.delete(REF)
    assert store.get(REF) is None
    assert store.entries() == []


def test_values_never_reach_tirui_files(keyring_bus: str, isolated: Path) -> None:
    store = TokenStore("system")
    store.set(REF, "super-secret-value-123456")
    for path in isolated.rglob("*"):
        if path.is_file() and "keyrings" not in path.parts:
            assert b"super-secret-value-123456" not in path.read_bytes(), path
    index = json.loads(store.index_path.read_text())
    assert index[0]["name"] == "api" and "value" not in index[0]
    store.delete(REF)


def test_fail_backend_is_reported_not_silent(isolated: Path) -> None:
    store = TokenStore("system")  # the autouse fixture gives a dead D-Bus address
    assert not store.available
    assert "no OS keyring" in store.describe()
    with pytest.raises(KeyringUnavailable):
        store.set(REF, "value-xxxxxxxxxxxxxxx")
    assert not any(isolated.rglob("*.cfg")), "no silent plaintext fallback"


def test_encrypted_file_backend(isolated: Path) -> None:
    store = TokenStore("encrypted-file", passphrase="correct horse")
    store.set(REF, "file-token-0123456789")
    assert TokenStore("encrypted-file", passphrase="correct horse").get(REF) == "file-token-0123456789"
    files = list(isolated.rglob("tokens.enc.cfg"))
    assert files and b"file-token-0123456789" not in files[0].read_bytes()
    with pytest.raises(KeyringLocked):
        TokenStore("encrypted-file", passphrase="wrong").get(REF)
    assert not TokenStore("encrypted-file").available  # no passphrase given
    # keyring registers tirui's encrypted-file wrapper class as a backend; without a Secret
    # Service the system backend must still say "unavailable", not pick the wrapper up.
    assert not TokenStore("system").available


def test_env_backend_is_read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIRUI_TOKEN_PROD_API", "from-env-0123456789")
    store = TokenStore("env")
    assert store.get(TokenRef("prod", "any", "api")) == "from-env-0123456789"
    assert [(m.profile, m.name) for m in store.entries("prod")] == [("prod", "api")]
    with pytest.raises(SecretStoreError, match="read-only"):
        store.set(REF, "x" * 20)


def test_mask_hides_value() -> None:
    assert mask("abcdefghijklmnop") == "••••••••mnop"
    assert "abc" not in mask("abcdef")
    assert mask("") == "(empty)"


def test_rejects_blank_tokens(keyring_bus: str) -> None:
    with pytest.raises(SecretStoreError):
        TokenStore("system").set(REF, "  padded  ")


def _cli(
    *args: str, env_extra: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "tirui", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_cli_tokens_against_secret_service(keyring_bus: str) -> None:
    r = _cli("tokens", "set", "api", "--scope", "https://x.example", stdin="cli-token-abcdefghijkl\n")
    assert r.returncode == 0, r.stderr
    assert "cli-token-abcdefghijkl" not in r.stdout
    r = _cli("tokens", "list")
    assert r.returncode == 0 and "api" in r.stdout and "cli-token" not in r.stdout
    r = _cli("tokens", "get", "api", "--scope", "https://x.example")
    assert r.stdout.strip() == "••••••••ijkl"
    r = _cli("tokens", "get", "api", "--scope", "https://x.example", "--reveal")
    assert r.stdout.strip() == "cli-token-abcdefghijkl"
    assert _cli("tokens", "delete", "api", "--scope", "https://x.example").returncode == 0
    r = _cli("tokens", "delete", "api", "--scope", "https://x.example")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "no token" in r.stderr


def test_cli_fail_backend_one_line_error() -> None:
    r = _cli("tokens", "list")
    assert r.returncode == 1
    assert r.stderr.startswith("tirui: error: keyring unavailable") and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr
