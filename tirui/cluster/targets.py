"""Resolve a deployment name to a request target through a runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tirui.core.errors import RuntimeFailure
from tirui.torchserve.target import Target, TargetError

if TYPE_CHECKING:
    from tirui.cluster.runtime import Runtime


def deployment_target(name: str, runtime: Runtime) -> Target:
    """The endpoints and token of deployment ``name`` as ``runtime`` knows them. Blocking."""
    try:
        target: Target | None = runtime.target(name)
    except RuntimeFailure as exc:
        raise TargetError(f"{exc}; or give a URL") from None
    if target is None:
        raise TargetError(f"no deployment named {name!r} (tirui status lists them); or give a URL")
    return target
