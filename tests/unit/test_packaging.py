"""The wheel carries styles/*.tcss as tirui/styles, and an installed wheel finds them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def clean_copy(tmp_path: Path) -> Path:
    """The checkout's sources without what a build leaves (``build/`` would otherwise feed the
    wheel files the current configuration no longer ships: it hid a broken package list)."""
    import shutil

    junk = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*cache")
    return Path(shutil.copytree(ROOT, tmp_path / "src", ignore=junk))


def build_wheel(tmp_path: Path, out: Path) -> Path:
    """The wheel of a clean copy of the checkout, built into ``out``."""
    args = ["wheel", "--no-deps", "-q", "-w", str(out), str(clean_copy(tmp_path))]
    build = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    return next(out.glob("tirui-*.whl"))


def test_styles_found_from_checkout() -> None:
    from tirui.locations import styles_dir

    assert (styles_dir() / "app.tcss").is_file()


def test_wheel_ships_styles_and_installed_wheel_finds_them(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, tmp_path)
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


def _subcommands() -> list[str]:
    from tirui.cli import _parser

    parser = _parser()
    actions = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return sorted(actions[0].choices)  # type: ignore[attr-defined]


def test_the_installed_wheel_works_without_the_checkout(tmp_path: Path) -> None:
    """Build the wheel, install it into a fresh venv (its dependencies from the test venv's
    site-packages, the checkout nowhere on the path), then import every module the checkout
    has, run every subcommand's --help and ``tirui status`` on the local profile."""
    import site
    import venv

    wheel = build_wheel(tmp_path, tmp_path / "dist")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # the dependencies: the test venv's site-packages as a plain path (its .pth files, the
    # editable tirui's among them, are not run from there)
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", purelib, str(wheel)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    home = tmp_path / "home"
    env = {
        "PATH": f"{env_dir / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_STATE_HOME": str(home / "state"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "tirui").rglob("*.py")
        if p.name != "__main__.py"
    )
    probe = (
        "import importlib, sys, tirui\n"
        f"assert tirui.__file__.startswith({purelib!r}), tirui.__file__\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "from tirui.locations import styles_dir\n"
        "assert (styles_dir() / 'app.tcss').is_file()\n"
        "print('ok', len(sys.modules))\n"
    )
    r = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stderr[-3000:]
    for command in ["", *_subcommands()]:
        args = [str(python), "-m", "tirui", *([command] if command else []), "--help"]
        r = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, env=env)
        assert r.returncode == 0 and "usage:" in r.stdout, (command, r.stderr[-2000:])
    r = subprocess.run(
        [str(python), "-m", "tirui", "--profile", "local", "status"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    # The installed protos are complete for grpcurl: it parses them with no other import path.
    protos = Path(purelib, "tirui", "torchserve", "protos")
    grpcurl = Path(sys.executable).parent / "grpcurl"
    for proto, service in (("inference.proto", "Inference"), ("management.proto", "Management")):
        args = [str(grpcurl), "-import-path", str(protos), "-proto", proto, "list"]
        r = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, env=env)
        assert r.returncode == 0, (proto, r.stderr)
        assert r.stdout.split() == [f"org.pytorch.serve.grpc.{service.lower()}.{service}APIsService"]
