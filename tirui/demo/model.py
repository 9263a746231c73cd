"""Build the demo model archive: a fixed ``torch.nn.Linear(4, 2)`` and :mod:`tirui.demo.handler`.

Needs the ``local`` extra (torch and torch-model-archiver). The weights are fixed, so the expected
output is known: ``[1, 1, 1, 1]`` → ``[10.5, -10.5]`` (see :func:`expected_output`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HANDLER = Path(__file__).with_name("handler.py")
WEIGHT = [[1.0, 2.0, 3.0, 4.0], [-1.0, -2.0, -3.0, -4.0]]
BIAS = [0.5, -0.5]


class DemoUnavailable(RuntimeError):
    """The ``local`` extra is not installed."""


def expected_output(row: list[float]) -> list[float]:
    return [sum(w * x for w, x in zip(ws, row, strict=True)) + b for ws, b in zip(WEIGHT, BIAS, strict=True)]


def _archiver() -> list[str]:
    exe = Path(sys.executable).with_name("torch-model-archiver")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("torch-model-archiver")
    if found:
        return [found]
    raise DemoUnavailable(
        "torch-model-archiver is not installed: pip install 'tirui[local]' (after pip install torch==2.13.0)"
    )


def build_mar(
    export_dir: Path,
    *,
    name: str = "tiny",
    version: str = "1.0",
    extra_files: list[Path] | None = None,
    handler: Path = HANDLER,
    config_file: Path | None = None,
) -> Path:
    """Write ``<export_dir>/<name>.mar`` and return its path (``config_file``: the archive's
    ``model-config.yaml``)."""
    try:
        import torch
    except ImportError:
        raise DemoUnavailable(
            "torch is not installed: pip install torch==2.13.0 && pip install 'tirui[local]'"
        ) from None
    archiver = _archiver()
    export_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model = torch.nn.Linear(4, 2)
        with torch.no_grad():
            model.weight.copy_(torch.tensor(WEIGHT))
            model.bias.copy_(torch.tensor(BIAS))
        serialized = Path(tmp) / f"{name}.pt"
        torch.jit.script(model).save(str(serialized))
        cmd = [
            *archiver,
            "--model-name",
            name,
            "--version",
            version,
            "--serialized-file",
            str(serialized),
            "--handler",
            str(handler),
            "--export-path",
            str(export_dir),
            "--force",
        ]
        if extra_files:
            cmd += ["--extra-files", ",".join(str(p) for p in extra_files)]
        if config_file is not None:
            cmd += ["--config-file", str(config_file)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"torch-model-archiver failed: {result.stderr.strip()[-500:]}")
    return export_dir / f"{name}.mar"
