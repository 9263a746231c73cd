"""What one converging apply did (or, dry, would do), and the managedFields reading it needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tirui.cluster.runtime import DeploymentStatus


@dataclass
class ApplyResult:
    """Objects applied, objects pruned (the new spec no longer has them), disks kept because
    pruning them needs a confirmation, and warnings about the cluster (e.g. no metrics API)."""

    applied: list[str]
    pruned: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    status: DeploymentStatus | None = None

    def lines(self) -> list[str]:
        """The account of it, one sentence a line, for the CLI and the UI."""
        would = "would " if self.dry_run else ""
        prefix = "dry run: " if self.dry_run else ""
        out = [f"{prefix}{len(self.applied)} object(s) {would}apply: {', '.join(self.applied)}"]
        if self.pruned:
            out.append(f"{would}remove (no longer in the spec): {', '.join(self.pruned)}")
        for ref in self.kept:
            out.append(
                f"kept {ref}: it holds the cached model and the new spec has no disk; "
                "--prune-disk (or the form's confirmation) deletes it"
            )
        out += [f"warning: {w}" for w in self.warnings]
        return out


def owns_replicas(obj: dict[str, Any], manager: str) -> bool:
    """Whether ``manager`` applied ``spec.replicas`` of ``obj`` (from its managedFields)."""
    for entry in obj.get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") != manager or entry.get("operation") != "Apply" or entry.get("subresource"):
            continue
        if "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {}):
            return True
    return False
