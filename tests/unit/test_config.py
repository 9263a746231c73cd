"""Profiles: good files, bad files (with file and line in the message), selection rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tirui.config import ProfileError, load_profiles, parse_profiles, resolve_profile
from tirui.locations import profiles_file

GOOD = """\
default_profile = "prod"

[profiles.prod]
description = "E2E GPU cluster"

[profiles.prod.storage]
endpoint_url = "https://objectstore.example.net"
region = "in-mum-1"
addressing_style = "path"
credentials = "keyring"
access_key_id = "AKIAEXAMPLE"

[profiles.prod.kubernetes]
context = "gpu"
namespace = "models"

[profiles.prod.defaults]
gpus = 2
replicas = 3

[profiles.minio.storage]
endpoint_url = "http://127.0.0.1:9000"
credentials = "env"
"""


def test_parse_good_file(tmp_path: Path) -> None:
    ps = parse_profiles(GOOD, tmp_path / "profiles.toml")
    assert set(ps.profiles) == {"local", "prod", "minio"}
    assert ps.default == "prod"
    prod = ps.get("prod")
    assert prod.storage.endpoint_url == "https://objectstore.example.net"
    assert prod.storage.credentials == "keyring" and prod.storage.verify_tls
    assert prod.kubernetes.namespace == "models" and prod.location == "gpu/models"
    assert prod.defaults.gpus == 2 and prod.defaults.image == "pytorch/torchserve:0.12.0-gpu"
    assert ps.get("local").is_local and ps.get("local").builtin


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("[profiles.a.storage]\nendpoint_url = \n", 2, "invalid TOML"),
        ("[profiles.a.storage]\nregion = 'x'\nendpont_url = 'http://x'\n", 3, "unknown key 'endpont_url'"),
        ("[profiles.a.kubernetes]\nnamespace = 3\n", 2, "must be str"),
        ("[profiles.a.storage]\ncredentials = 'vault'\n", 2, "must be one of env, aws-profile, keyring"),
        ("[profiles.a.defaults]\ngpus = -1\n", 2, "must be >= 0"),
        ("[profiles.a.defaults]\ngpus = true\n", 2, "must be int"),
        ("default_profile = 'nope'\n", 1, "names no profile"),
        ("colour = 'blue'\n", 1, "unknown top-level key"),
        ("[profiles.local.storage]\nkind = 's3'\n", 1, "built in"),
        ("x = 1\n[profiles.'bad name']\n", 1, "unknown top-level key"),
        ("\n[profiles.'bad name']\n", 2, "invalid profile name"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path: Path, text: str, line: int | None, fragment: str) -> None:
    path = tmp_path / "profiles.toml"
    with pytest.raises(ProfileError) as err:
        parse_profiles(text, path)
    assert fragment in str(err.value)
    assert str(path) in str(err.value)
    assert err.value.line == line


def test_missing_file_means_local_only(isolated: Path) -> None:
    ps = load_profiles()
    assert list(ps.profiles) == ["local"] and ps.default == "local"


def test_selection_order(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profiles_file().parent.mkdir(parents=True, exist_ok=True)
    profiles_file().write_text(GOOD)
    assert resolve_profile().name == "prod"
    monkeypatch.setenv("TIRUI_PROFILE", "minio")
    assert resolve_profile().name == "minio"
    assert resolve_profile("local").name == "local"
    with pytest.raises(ProfileError, match="unknown profile 'nope'"):
        resolve_profile("nope")


def test_unreadable_file(isolated: Path) -> None:
    profiles_file().parent.mkdir(parents=True, exist_ok=True)
    profiles_file().write_bytes(b"\xff\xfe garbage")
    with pytest.raises(ProfileError, match="cannot read"):
        load_profiles()


def test_cli_profiles(isolated: Path) -> None:
    profiles_file().parent.mkdir(parents=True, exist_ok=True)
    profiles_file().write_text(GOOD)
    r = subprocess.run([sys.executable, "-m", "tirui", "profiles", "list"], capture_output=True, text=True)
    assert r.returncode == 0 and "prod" in r.stdout and "minio" in r.stdout
    assert "* prod" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "tirui", "--profile", "nope", "profiles", "list"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1 and r.stderr.startswith("tirui: error:") and "Traceback" not in r.stderr


def test_cli_version_and_help() -> None:
    r = subprocess.run([sys.executable, "-m", "tirui", "--version"], capture_output=True, text=True)
    assert r.stdout.strip() == "tirui 0.1.0"
    r = subprocess.run([sys.executable, "-m", "tirui", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "tokens" in r.stdout and "profiles" in r.stdout
    r = subprocess.run([sys.executable, "-m", "tirui", "bogus"], capture_output=True, text=True)
    assert r.returncode == 2


def test_xdg_paths_match_platformdirs(monkeypatch: pytest.MonkeyPatch) -> None:
    """tirui computes XDG paths itself on Linux (startup cost); they must equal platformdirs'."""
    import platformdirs

    from tirui import locations

    for env in ({}, {"XDG_CONFIG_HOME": "", "XDG_DATA_HOME": "relative/not/used", "XDG_CACHE_HOME": ""}):
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        for kind, fn in (
            ("config", platformdirs.user_config_dir),
            ("data", platformdirs.user_data_dir),
        ):
            assert str(locations._platformdirs_path(kind)) == fn("tirui", appauthor=False)
