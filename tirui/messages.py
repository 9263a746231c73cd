"""Messages that cross widget or screen boundaries, in one place (Posting's ``messages.py`` habit)."""

from __future__ import annotations

from textual.message import Message


class DeployRequested(Message):
    """The user asked to deploy a model archive (``d`` on a ``.mar`` in Buckets)."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source
