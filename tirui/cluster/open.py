"""Opening a profile's runtime: the one factory the app and the CLI share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tirui.cluster.runtime import Autoscalable, Reachable, Runtime, Stoppable, Watchable
from tirui.config import Profile
from tirui.secrets import TokenStore

if TYPE_CHECKING:
    from tirui.cluster.kube.runtime import KubeRuntime
    from tirui.cluster.local.runtime import LocalRuntime

    def _conformance(
        kube: KubeRuntime, local: LocalRuntime
    ) -> tuple[Runtime, Autoscalable, Watchable, Reachable, Runtime, Stoppable]:
        """What k9s writes as ``var _ Scalable = (*Deployment)(nil)``: mypy holds each runtime
        to the contract and to the capabilities it claims (never called)."""
        return kube, kube, kube, kube, local, local


def open_runtime(profile: Profile, tokens: TokenStore | None, *, supervise: bool = False) -> Runtime:
    """The profile's runtime. Blocking (run it in a worker or a thread).

    The local profile: a :class:`~tirui.cluster.local.runtime.LocalRuntime` over the data
    folder's deployments; with ``supervise`` (the app, while it runs) it restarts what fails and
    answers probes, without (a CLI command) it only reads and changes state. A Kubernetes profile:
    a :class:`~tirui.cluster.kube.runtime.KubeRuntime` for its kubeconfig and context, or a
    :class:`~tirui.core.errors.RuntimeFailure` saying what is missing.
    """
    if profile.is_local:
        from tirui import locations
        from tirui.cluster.local.runtime import LocalRuntime

        root = locations.data_dir() / "deployments"
        return LocalRuntime(root, tokens=tokens, profile=profile, supervise=supervise)
    from tirui.cluster.kube.runtime import KubeRuntime

    return KubeRuntime.from_profile(profile, tokens)
