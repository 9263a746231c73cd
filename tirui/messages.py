"""Messages that cross widget or screen boundaries, in one place (Posting's ``messages.py`` habit)."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class DeployRequested(Message):
    """The user asked to deploy a model archive (``d`` on a ``.mar`` in Buckets)."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source


# -- the Buckets screen's workers report through these (posted from their threads) -------------
class StoreOpened(Message):
    """The profile's object store is ready."""

    def __init__(self, store: Any) -> None:
        super().__init__()
        self.store = store


class StorageFailed(Message):
    """A storage call failed; ``text`` is the sentence for the user."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class BucketsListed(Message):
    """The bucket list of one load (``generation`` tells a stale answer from the current one)."""

    def __init__(self, generation: int, buckets: list[Any]) -> None:
        super().__init__()
        self.generation = generation
        self.buckets = buckets


class ListingPage(Message):
    """One streamed page of a ``bucket/prefix`` listing."""

    def __init__(self, generation: int, items: list[Any]) -> None:
        super().__init__()
        self.generation = generation
        self.items = items


class ListingDone(Message):
    """The listing of one load has no more pages."""

    def __init__(self, generation: int) -> None:
        super().__init__()
        self.generation = generation
