"""Messages that cross widget or screen boundaries, in one place (Posting's ``messages.py`` habit)."""

from __future__ import annotations

from textual.message import Message


class ProfileChanged(Message):
    """The active profile changed; screens reload what depends on it."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class ConnectionStateChanged(Message):
    """A service reports whether the profile's endpoints answer (shown in the header)."""

    def __init__(self, state: str, detail: str = "") -> None:
        super().__init__()
        self.state = state
        self.detail = detail


class DeployRequested(Message):
    """The user asked to deploy a model archive (``d`` on a ``.mar`` in Buckets)."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source
