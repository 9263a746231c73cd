"""A model's serving settings, the way TorchServe reads and reports them.

TorchServe reads batch size, batch delay, response timeout and workers per model from three
places only: the ``models=`` JSON of ``config.properties`` (keyed by model name *and* version),
the register API's parameters, and the archive's own ``model-config.yaml``. Top-level
``batch_size=`` / ``max_batch_delay=`` keys are ignored (docs/torchserve.md). Describe
(``GET /models/NAME``) reports what applies, under the names kept here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

DESCRIBED = ("batchSize", "maxBatchDelay", "responseTimeout", "minWorkers", "maxWorkers")
"""The keys of a describe answer (and of ``models=``) that these settings are."""


@dataclass(frozen=True)
class ModelSettings:
    workers: int = 1
    batch_size: int = 1
    max_batch_delay_ms: int = 100
    response_timeout_s: int = 120

    def models_json(self, model: str, version: str, mar_name: str) -> str:
        """The ``models=`` value serving ``mar_name`` as ``model`` version ``version``."""
        entry = {"defaultVersion": True, "marName": mar_name, **self.described()}
        return json.dumps({model: {version: entry}}, separators=(",", ":"))

    def described(self) -> dict[str, int]:
        """These settings under the names of :data:`DESCRIBED`, as ``models=`` and describe say them."""
        return {
            "minWorkers": self.workers,
            "maxWorkers": self.workers,
            "batchSize": self.batch_size,
            "maxBatchDelay": self.max_batch_delay_ms,
            "responseTimeout": self.response_timeout_s,
        }

    def register_params(self) -> dict[str, int]:
        """The register API's query parameters for the same settings (workers are scaled apart)."""
        return {
            "batch_size": self.batch_size,
            "max_batch_delay": self.max_batch_delay_ms,
            "response_timeout": self.response_timeout_s,
        }


def described_settings(model: dict[str, Any]) -> dict[str, int]:
    """What one describe entry says of these settings (keys of :data:`DESCRIBED` it has)."""
    out: dict[str, int] = {}
    for key in DESCRIBED:
        value = model.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            out[key] = value
    return out


def settings_text(described: dict[str, int]) -> str:
    """``batch 4 · delay 250 ms · timeout 300 s · workers 1-1`` ("" when nothing is known)."""
    parts = []
    if "batchSize" in described:
        parts.append(f"batch {described['batchSize']}")
    if "maxBatchDelay" in described:
        parts.append(f"delay {described['maxBatchDelay']} ms")
    if "responseTimeout" in described:
        parts.append(f"timeout {described['responseTimeout']} s")
    if "minWorkers" in described or "maxWorkers" in described:
        low, high = described.get("minWorkers", "?"), described.get("maxWorkers", "?")
        parts.append(f"workers {low}-{high}" if low != high else f"workers {low}")
    return " · ".join(parts)


def archive_overrides(config: dict[str, Any], asked: ModelSettings, name: str = "NAME") -> str:
    """A sentence naming the settings an archive's model-config.yaml sets otherwise than
    ``asked`` ("" when none). TorchServe starts the model with the archive's values over the
    ``models=`` ones (measured on 0.12.0: all five); an update in place registers with explicit
    batch size and delay, which then win, while its workers and response timeout stay the
    archive's."""
    wanted = asked.described()
    differ = [
        f"{key} {config[key]} (asked {wanted[key]})"
        for key in DESCRIBED
        if key in config and str(config[key]) != str(wanted[key])
    ]
    if not differ:
        return ""
    return (
        f"the archive's model-config.yaml sets {', '.join(differ)}, and TorchServe applies the "
        f"archive's values when it loads the model; `tirui status {name}` shows what it applies"
    )
