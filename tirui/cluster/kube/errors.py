"""Kubernetes failures as sentences for the user: a leaf module (no tirui imports but the
runtime's base error), so readers, watchers and the CLI can share it without cycles."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tirui.core.errors import ChangedElsewhere, RuntimeFailure


class KubeError(RuntimeFailure):
    """A Kubernetes API failure, said plainly (forbidden, unreachable, conflict, ...)."""


@dataclass(frozen=True)
class FieldConflict:
    """A field tirui would set that another field manager owns."""

    ref: str
    """``Kind/name`` of the object."""
    field: str
    manager: str


class KubeConflict(KubeError, ChangedElsewhere):
    """Server-side apply refused: fields owned by other managers (``kubectl edit``, ``scale``...)."""

    def __init__(self, conflicts: list[FieldConflict], dry_run: bool = False) -> None:
        self.conflicts = conflicts
        owners: dict[str, list[str]] = {}
        for c in conflicts:
            owners.setdefault(c.manager, []).append(f"{c.ref} {c.field}")
        who = "; ".join(f"{', '.join(fields)} (owned by {m!r})" for m, fields in owners.items())
        tail = " (dry run: nothing was changed)" if dry_run else " (nothing was changed)"
        super().__init__(
            f"another field manager changed what tirui manages: {who}. tirui would overwrite "
            f"{'it' if len(conflicts) == 1 else 'them'}: deploy again with --force (or confirm in the "
            f"form) to take {'it' if len(conflicts) == 1 else 'them'} over, or undo the other change{tail}"
        )


_CONFLICT_RE = re.compile(r'conflict with "([^"]+)"')


def conflicts_in(exc: Exception, ref: str) -> list[FieldConflict]:
    """The field-manager conflicts a 409 from server-side apply names ([] for any other error)."""
    from kubernetes.client.exceptions import ApiException

    if not isinstance(exc, ApiException) or exc.status != 409:
        return []
    try:
        body: dict[str, Any] = json.loads(exc.body or "{}")
    except ValueError:
        return []
    out = []
    for cause in (body.get("details") or {}).get("causes") or []:
        if cause.get("reason") != "FieldManagerConflict":
            continue
        match = _CONFLICT_RE.search(cause.get("message", ""))
        out.append(FieldConflict(ref, cause.get("field", "?"), match.group(1) if match else "?"))
    return out


def explain(exc: Exception, what: str) -> KubeError:
    """``exc`` from the client as one sentence that starts with ``what``."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, KubeError):
        return exc
    if isinstance(exc, ApiException):
        try:
            message = json.loads(exc.body or "{}").get("message", "") or exc.reason
        except ValueError:
            message = exc.reason
        if exc.status == 403:
            return KubeError(f"{what}: forbidden by RBAC ({message})")
        if exc.status == 401:
            return KubeError(f"{what}: the cluster rejected the credentials of the kube context ({message})")
        if exc.status == 409:
            return KubeError(f"{what}: conflict ({message})")
        if exc.status == 0 or not exc.status:
            return KubeError(f"{what}: cannot reach the Kubernetes API ({exc.reason})")
        return KubeError(f"{what}: {exc.status} {message}")
    detail = (str(exc).strip().splitlines() or [""])[0][:200]
    return KubeError(f"{what}: cannot reach the Kubernetes API ({type(exc).__name__}: {detail})")
