"""Resolve a deployment name to a request target through a runtime."""

from __future__ import annotations

from typing import Any

from tirui.cluster.runtime import RuntimeError_
from tirui.config import Profile
from tirui.secrets import TokenStore
from tirui.targets import Target, TargetError


def runtime_for(profile: Profile, store: TokenStore | None) -> Any:
    """A runtime for one lookup (the CLI has no long-lived one). Blocking."""
    if profile.is_local:
        from tirui.cluster.local import LocalRuntime

        return LocalRuntime.for_profile(profile, store)
    from tirui.cluster.kube import KubeRuntime

    return KubeRuntime.from_profile(profile, store)


def deployment_target(name: str, runtime: Any) -> Target:
    """The endpoints and token of deployment ``name`` as ``runtime`` knows them. Blocking."""
    try:
        target: Target | None = runtime.target(name)
    except RuntimeError_ as exc:
        raise TargetError(f"{exc}; or give a URL") from None
    if target is None:
        raise TargetError(f"no deployment named {name!r} (tirui status lists them); or give a URL")
    return target
