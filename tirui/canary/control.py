"""What the analysis needs of a runtime: every runtime implements it (the ``Runtime`` contract in
:mod:`tirui.cluster.runtime` extends it with starting one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tirui.canary.feed import SideFeed
    from tirui.canary.state import CanaryStatus


class CanaryControl(Protocol):
    """Read the canary, move its weight, promote or abort it, record a decision, feed its numbers."""

    def canary_status(self, name: str) -> CanaryStatus | None: ...

    def canary_weight(self, name: str, weight: int) -> None: ...

    def canary_promote(self, name: str) -> None: ...

    def canary_abort(self, name: str) -> None: ...

    def canary_record(self, name: str, text: str, *, warning: bool = False) -> None: ...

    def canary_feed(self, name: str) -> SideFeed: ...
