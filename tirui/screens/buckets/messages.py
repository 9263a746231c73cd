"""The Buckets screen's own Messages: what its workers (threads) and its actions' workers report
to the screen and to :class:`~tirui.screens.buckets.actions.BucketActions`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from tirui.screens.buckets.transfer import TransferDialog
    from tirui.storage.base import BucketInfo, ObjectInfo, ObjectStore


class StoreOpened(Message):
    """The profile's object store is ready."""

    def __init__(self, store: ObjectStore) -> None:
        super().__init__()
        self.store = store


class StorageFailed(Message):
    """A storage call failed; ``text`` is the sentence for the user."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class BucketsListed(Message):
    """The bucket list of one load (``generation`` tells a stale answer from the current one)."""

    def __init__(self, generation: int, buckets: list[BucketInfo]) -> None:
        super().__init__()
        self.generation = generation
        self.buckets = buckets


class ListingPage(Message):
    """One streamed page of a ``bucket/prefix`` listing."""

    def __init__(self, generation: int, items: list[ObjectInfo]) -> None:
        super().__init__()
        self.generation = generation
        self.items = items


class ListingDone(Message):
    """The listing of one load has no more pages."""

    def __init__(self, generation: int) -> None:
        super().__init__()
        self.generation = generation


class BucketOpDone(Message):
    """A bucket operation finished: say ``text`` (if any), reload the level, drop ``removed``
    rows from the table."""

    def __init__(
        self,
        text: str = "",
        *,
        title: str = "Buckets",
        severity: str = "information",
        reload: bool = False,
        removed: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.text, self.title, self.severity = text, title, severity
        self.reload = reload
        self.removed = removed


class BucketOpFailed(Message):
    """A bucket operation failed; ``text`` is shown in a dialog."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ShowText(Message):
    """Show ``body`` in a dialog titled ``title`` (and copy ``copy`` to the clipboard first)."""

    def __init__(self, title: str, body: str, *, copy: str = "") -> None:
        super().__init__()
        self.title, self.body, self.copy = title, body, copy


class ConfirmRequested(Message):
    """Ask ``question``; ``on_yes`` runs (on the event loop) when the answer is yes."""

    def __init__(self, question: str, on_yes: Callable[[], object]) -> None:
        super().__init__()
        self.question = question
        self.on_yes = on_yes


class TransferStarted(Message):
    """An upload/download began: show its progress dialog."""

    def __init__(self, dialog: TransferDialog) -> None:
        super().__init__()
        self.dialog = dialog


class TransferEnded(Message):
    """An upload/download ended (``outcome``: done, cancelled, conflict or failed): close its
    dialog, then say ``text`` (an error opens a dialog), or ask to overwrite with ``retry``."""

    def __init__(
        self,
        dialog: TransferDialog,
        outcome: str,
        text: str,
        *,
        retry: Callable[[], object] | None = None,
        reload: bool = False,
    ) -> None:
        super().__init__()
        self.dialog, self.outcome, self.text = dialog, outcome, text
        self.retry = retry
        self.reload = reload
