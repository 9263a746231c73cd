"""The contract between the Deployments screen and the collaborators that act on its selection
(:class:`~tirui.screens.deployments.ops.DeploymentOps`,
:class:`~tirui.screens.deployments.canary_actions.CanaryActions`): what they may ask of the screen, nothing
more. The screen satisfies it; mypy checks that where the collaborators are built."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tirui.cluster.runtime import DeploymentStatus
    from tirui.screens.base import HostApp


class DeploymentsHost(Protocol):
    @property
    def app(self) -> HostApp:
        """The app: dialogs, notifications, the runtime."""
        ...

    @property
    def statuses(self) -> dict[str, DeploymentStatus]:
        """The rows last shown, by name."""
        ...

    def need(self) -> str | None:
        """The selected deployment's name, or None after telling the user none is selected."""
        ...

    def start(self, work: Coroutine[Any, Any, object], group: str, *, exclusive: bool = False) -> object:
        """Run ``work`` as a worker of the screen (its failures are reported, never fatal)."""
        ...

    def changed(self) -> None:
        """A deployment changed: show its new state now."""
        ...
