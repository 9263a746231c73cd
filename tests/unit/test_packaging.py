"""The wheel carries styles/*.tcss as tirui/styles, and an installed wheel finds them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_styles_found_from_checkout() -> None:
    from tirui.locations import styles_dir

    assert (styles_dir() / "app.tcss").is_file()


def test_wheel_ships_styles_and_installed_wheel_finds_them(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(tmp_path.glob("tirui-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    styles = sorted(p for p in ROOT.joinpath("styles").glob("*.tcss"))
    for tcss in styles:
        assert f"tirui/styles/{tcss.name}" in names
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        timeout=300,
    )
    probe = subprocess.run(
        [sys.executable, "-c", "from tirui.locations import styles_dir; print(styles_dir())"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert probe.returncode == 0, probe.stderr
    found = Path(probe.stdout.strip())
    assert found.is_relative_to(target) and (found / "app.tcss").is_file()
