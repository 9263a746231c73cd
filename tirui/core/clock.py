"""The wall clock screens draw time series against, injectable (Harlequin's and Textual's own
tests inject time rather than patch it)."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Clock:
    """Wall time for what is drawn against time. ``frozen_at``: a clock that stands still at
    that instant (snapshot tests, a replay): what is drawn stays put and nothing is collected."""

    frozen_at: float | None = None

    def now(self) -> float:
        return time.time() if self.frozen_at is None else self.frozen_at

    @property
    def running(self) -> bool:
        return self.frozen_at is None
