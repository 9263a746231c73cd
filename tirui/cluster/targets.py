"""Resolve a deployment name to a request target through the profile's runtime."""

from __future__ import annotations

from tirui.config import Profile
from tirui.secrets import TokenStore
from tirui.targets import Target, TargetError


def deployment_target(name: str, *, profile: Profile, store: TokenStore | None = None) -> Target:
    """The endpoints and token of deployment ``name`` (local runtime: from its state file)."""
    if profile.is_local:
        from tirui.cluster.local import LocalRuntime

        target = LocalRuntime.for_profile(profile, store).target(name)
        if target is None:
            raise TargetError(f"no local deployment named {name!r} (tirui status lists them); or give a URL")
        return target
    raise TargetError(
        f"{name!r}: Kubernetes deployment targets are not supported yet; give the endpoint URL "
        "(https://host) and keep its token in the token store"
    )
