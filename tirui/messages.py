"""Messages that cross screen boundaries (Posting's ``messages.py`` habit): from the Buckets screen
to the app, from the canary analysis to the app. A screen's own messages live beside it
(``screens/buckets/messages.py``)."""

from __future__ import annotations

from textual.message import Message


class DeployRequested(Message):
    """The user asked to deploy a model archive (``d`` on a ``.mar`` in Buckets)."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source


class CanaryDecision(Message):
    """A canary analysis (an app worker thread) decided something: notified wherever the user is,
    and the Deployments table refreshes."""

    def __init__(self, name: str, text: str, *, warning: bool = False) -> None:
        super().__init__()
        self.name = name
        self.text = text
        self.warning = warning
