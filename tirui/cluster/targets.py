"""Resolve a deployment name to a request target through a runtime."""

from __future__ import annotations

from typing import Any

from tirui.cluster.runtime import Runtime, RuntimeFailure
from tirui.config import Profile
from tirui.secrets import TokenStore
from tirui.torchserve.target import Target, TargetError


def runtime_for(profile: Profile, store: TokenStore | None) -> Runtime:
    """The profile's runtime for the CLI (which has no long-lived one; local deployments are
    not supervised by it). Blocking; a missing kube context is a :class:`RuntimeFailure`."""
    if profile.is_local:
        from tirui.cluster.local import LocalRuntime

        return LocalRuntime.for_profile(profile, store)
    from tirui.cluster.kube import KubeRuntime

    return KubeRuntime.from_profile(profile, store)


def deployment_target(name: str, runtime: Any) -> Target:
    """The endpoints and token of deployment ``name`` as ``runtime`` knows them. Blocking."""
    try:
        target: Target | None = runtime.target(name)
    except RuntimeFailure as exc:
        raise TargetError(f"{exc}; or give a URL") from None
    if target is None:
        raise TargetError(f"no deployment named {name!r} (tirui status lists them); or give a URL")
    return target
