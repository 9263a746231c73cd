"""``tirui ls|cp|rm|presign|mb|peek`` against moto's S3 server through a real profile file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tirui.locations import profiles_file


@pytest.fixture
def profile(isolated: Path, s3_endpoint: str) -> dict[str, str]:
    profiles_file().parent.mkdir(parents=True, exist_ok=True)
    profiles_file().write_text(
        'default_profile = "moto"\n[profiles.moto.storage]\n'
        f'endpoint_url = "{s3_endpoint}"\ncredentials = "env"\n'
    )
    return {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def tirui(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tirui", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_storage_cli_flow(profile: dict[str, str], tiny_mar: Path, tmp_path: Path) -> None:
    assert tirui(profile, "mb", "eos://cli-flow").returncode == 0
    r = tirui(profile, "cp", str(tiny_mar), "eos://cli-flow/models/")
    assert r.returncode == 0, r.stderr
    assert "eos://cli-flow/models/tiny.mar" in r.stdout
    r = tirui(profile, "ls")
    assert "eos://cli-flow" in r.stdout
    r = tirui(profile, "ls", "eos://cli-flow")
    assert "PRE" in r.stdout and "models/" in r.stdout
    r = tirui(profile, "ls", "eos://cli-flow/models/", "-H")
    assert "tiny.mar" in r.stdout and "KiB" in r.stdout
    r = tirui(profile, "peek", "eos://cli-flow/models/tiny.mar")
    assert "Model name:       tiny" in r.stdout and "handler.py" in r.stdout
    r = tirui(profile, "presign", "eos://cli-flow/models/tiny.mar", "--expires", "2m")
    assert httpx.get(r.stdout.strip()).content == tiny_mar.read_bytes()
    out = tmp_path / "dl"
    out.mkdir()
    r = tirui(profile, "cp", "eos://cli-flow/models/tiny.mar", str(out))
    assert r.returncode == 0 and (out / "tiny.mar").read_bytes() == tiny_mar.read_bytes()
    r = tirui(profile, "cp", "eos://cli-flow/models/tiny.mar", str(out))
    assert r.returncode == 1 and "already exists" in r.stderr and r.stderr.count("\n") == 1
    r = tirui(profile, "cp", "eos://cli-flow/models/tiny.mar", "/proc/")  # a folder that takes no files
    assert r.returncode == 1 and "cannot create files in /proc" in r.stderr and "not found" not in r.stderr
    r = tirui({**profile, "TIRUI_SECRETS": "env"}, "tokens", "set", "api")
    assert r.returncode == 1 and "read-only" in r.stderr and "TIRUI_TOKEN_" in r.stderr, r.stderr
    r = tirui(profile, "rm", "eos://cli-flow/models/tiny.mar")
    assert r.returncode == 0 and "deleted" in r.stdout
    r = tirui(profile, "rm", "eos://cli-flow/models/tiny.mar")
    assert r.returncode == 1 and "not found" in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ls", "eos://Bad_Name"), "Invalid bucket name"),
        (("ls", "eos://missing-bucket-zz"), "does not exist"),
        (("cp", "/nonexistent/file.mar", "eos://x-bucket/"), "not found"),
        (("cp", "a", "b"), "one of each"),
        (("presign", "eos://bkt-zz"), "names no object key"),
    ],
)
def test_storage_cli_errors(profile: dict[str, str], args: tuple[str, ...], message: str) -> None:
    r = tirui(profile, *args)
    assert r.returncode == 1
    assert message in r.stderr and r.stderr.startswith("tirui: error:") and "Traceback" not in r.stderr


def test_unreachable_endpoint_one_line(isolated: Path) -> None:
    profiles_file().parent.mkdir(parents=True, exist_ok=True)
    profiles_file().write_text('[profiles.dead.storage]\nendpoint_url = "http://127.0.0.1:9"\n')
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_MAX_ATTEMPTS": "1"}
    r = tirui(env, "--profile", "dead", "ls")
    assert r.returncode == 1 and "cannot reach the endpoint" in r.stderr and r.stderr.count("\n") == 1
