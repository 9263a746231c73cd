"""What server-side apply needs to read from managedFields."""

from __future__ import annotations

from typing import Any


def owns_replicas(obj: dict[str, Any], manager: str) -> bool:
    """Whether ``manager`` applied ``spec.replicas`` of ``obj`` (from its managedFields)."""
    for entry in obj.get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") != manager or entry.get("operation") != "Apply" or entry.get("subresource"):
            continue
        if "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {}):
            return True
    return False
