"""What one deployment is: the spec the deploy form, the CLI and both runtimes share.

Validation returns every problem at once, keyed by field, so a form can show each next to its
input and the CLI can print the first as one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tirui.storage.uri import is_remote

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME = 40
"""RFC 1123 labels allow 63; tirui appends suffixes such as ``-tokens`` to object names."""


class SpecError(ValueError):
    """A spec with problems; ``problems`` maps field names to sentences."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))


@dataclass
class DeploymentSpec:
    """A TorchServe deployment of one model archive."""

    name: str
    source: str
    """``eos://bucket/key.mar`` or (local runtime) a path to a ``.mar``."""
    workers: int = 1
    """TorchServe workers per model (per replica)."""
    replicas: int = 1
    batch_size: int = 1
    max_batch_delay_ms: int = 100
    model_name: str = ""
    """Name the model is served under; empty means the archive's own name."""
    env: dict[str, str] = field(default_factory=dict)

    def problems(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if not self.name:
            out["name"] = "a name is required"
        elif len(self.name) > MAX_NAME or not NAME_RE.match(self.name):
            out["name"] = (
                f"{self.name!r} is not a valid name: lowercase letters, digits and '-', starting and "
                f"ending with a letter or digit, at most {MAX_NAME} characters"
            )
        if not self.source:
            out["source"] = "a model archive is required (eos://bucket/key.mar)"
        elif not self.source.endswith(".mar"):
            out["source"] = f"{self.source!r} is not a TorchServe model archive (.mar)"
        elif is_remote(self.source) and self.source.count("/") < 3:
            out["source"] = f"{self.source!r} names no object (eos://bucket/key.mar)"
        if self.workers < 0:
            out["workers"] = "workers must be 0 or more"
        if self.replicas < 0:
            out["replicas"] = "replicas must be 0 or more"
        if self.batch_size < 1:
            out["batch_size"] = "batch size must be at least 1"
        if self.max_batch_delay_ms < 0:
            out["max_batch_delay_ms"] = "max batch delay must be 0 or more"
        if self.model_name and not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", self.model_name):
            out["model_name"] = f"{self.model_name!r} is not a valid model name"
        return out

    def validate(self) -> None:
        problems = self.problems()
        if problems:
            raise SpecError(problems)
