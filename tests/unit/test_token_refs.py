"""A token's address in the keyring (``profile/scope/name``) is judged before it is stored: two
different tokens can never share an entry, and the CLI and the Tokens dialog say why in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tirui.secrets import SecretStoreError, TokenRef, TokenStore


def test_a_slash_in_the_profile_or_name_is_refused_a_scope_may_hold_one() -> None:
    # before: these two were one keyring entry, "a/b/c/d"
    assert "cannot hold '/'" in TokenRef("a/b", "c", "d").problem()
    assert TokenRef("a", "b/c", "d").problem() == ""  # a scope is a URL
    assert "cannot hold '/'" in TokenRef("a", "b", "c/d").problem()
    assert TokenRef("local", "https://ts.example.net:8443", "api").problem() == ""
    for ref in (
        TokenRef("", "s", "n"),
        TokenRef("p", "s", ""),
        TokenRef("p", "s", "a b"),
        TokenRef("p", "\n", "n"),
    ):
        assert ref.problem(), ref
    assert "at most 100" in TokenRef("p", "s", "n" * 101).problem()


def test_the_store_refuses_what_the_keyring_cannot_hold(isolated: Path) -> None:
    store = TokenStore("encrypted-file", passphrase="correct horse")
    with pytest.raises(SecretStoreError, match="cannot hold '/'"):
        store.set(TokenRef("a/b", "c", "d"), "value-0123456789abcdef")
    assert store.entries() == []


def test_tokens_set_from_the_cli_says_why_in_one_line(isolated: Path) -> None:
    env = {**os.environ, "TIRUI_KEYRING_PASSPHRASE": "correct horse"}
    r = subprocess.run(
        [sys.executable, "-m", "tirui", "--secrets", "encrypted-file", "tokens", "set", "team/api"],
        input="value-0123456789abcdef",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 1 and "cannot hold '/'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
