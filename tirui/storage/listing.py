"""The loaded part of a bucket listing: filter, sort, selection, page window and totals.

Pure data, no Textual and no I/O: the Buckets screen feeds it pages as they stream in and shows
one window of its view at a time, so a 100,000-object prefix costs one list of small objects and
a table of a few hundred rows, never 100,000 widgets' worth of rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from tirui.storage.base import ObjectInfo

SortKey = Literal["name", "size", "date"]
SORT_KEYS: tuple[SortKey, ...] = ("name", "size", "date")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Listing:
    """Objects and folders of one ``bucket/prefix``; folders always sort before objects."""

    prefix: str = ""
    page_rows: int = 500
    entries: list[ObjectInfo] = field(default_factory=list)
    filter_text: str = ""
    sort_key: SortKey = "name"
    reverse: bool = False
    page: int = 0
    complete: bool = False
    pages_loaded: int = 0
    """Streamed pages received so far."""
    selected: set[str] = field(default_factory=set)
    folders: int = 0
    objects: int = 0
    total_bytes: int = 0
    _view: list[ObjectInfo] | None = None

    # -- loading -----------------------------------------------------------------------------
    def extend(self, items: Iterable[ObjectInfo]) -> int:
        """Add a streamed page; returns how many entries were added."""
        before = len(self.entries)
        for item in items:
            self.entries.append(item)
            if item.is_prefix:
                self.folders += 1
            else:
                self.objects += 1
                self.total_bytes += item.size
        self._view = None
        return len(self.entries) - before

    def add_page(self, items: Iterable[ObjectInfo]) -> int:
        """:meth:`extend` with one streamed page, counted in ``pages_loaded``."""
        self.pages_loaded += 1
        return self.extend(items)

    def remove(self, keys: Iterable[str]) -> None:
        """Drop entries that were deleted."""
        gone = set(keys)
        kept = [e for e in self.entries if e.key not in gone]
        self.entries = []
        self.folders = self.objects = self.total_bytes = 0
        self.extend(kept)
        self.selected -= gone
        self.page = min(self.page, max(0, self.page_count - 1))

    # -- view --------------------------------------------------------------------------------
    @property
    def view(self) -> list[ObjectInfo]:
        """The filtered, sorted entries (cached until the next change)."""
        if self._view is None:
            needle = self.filter_text.lower()
            rows = (
                [e for e in self.entries if needle in e.name_in(self.prefix).lower()]
                if needle
                else list(self.entries)
            )
            rows.sort(key=self._sort_value, reverse=self.reverse)
            # Folders first whatever the direction (file-manager convention).
            rows.sort(key=lambda e: not e.is_prefix)
            self._view = rows
        return self._view

    def _sort_value(self, e: ObjectInfo) -> str | int | datetime:
        if self.sort_key == "size":
            return e.size
        if self.sort_key == "date":
            return e.last_modified or _EPOCH
        return e.key

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.page = 0
        self._view = None

    def cycle_sort(self) -> SortKey:
        """name → size → date → name; returns the new key."""
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        self._view = None
        return self.sort_key

    def toggle_reverse(self) -> None:
        self.reverse = not self.reverse
        self._view = None

    # -- window ------------------------------------------------------------------------------
    @property
    def page_count(self) -> int:
        return max(1, -(-len(self.view) // self.page_rows))

    def window(self) -> list[ObjectInfo]:
        """The rows of the current page."""
        start = self.page * self.page_rows
        return self.view[start : start + self.page_rows]

    def turn(self, delta: int) -> bool:
        """Move ``delta`` pages; False when already at that end."""
        target = min(max(0, self.page + delta), self.page_count - 1)
        moved = target != self.page
        self.page = target
        return moved

    # -- selection ---------------------------------------------------------------------------
    def toggle(self, key: str) -> bool:
        """Select or unselect one key; returns whether it is now selected."""
        if key in self.selected:
            self.selected.discard(key)
            return False
        self.selected.add(key)
        return True

    def summary(self) -> str:
        """``12 folders · 3,400 objects · 1.2 GiB loaded`` plus filter/page facts."""
        from tirui.storage.base import human_size

        parts = [f"{self.folders:,} folders", f"{self.objects:,} objects", human_size(self.total_bytes)]
        text = " · ".join(parts) + (" (all loaded)" if self.complete else " loaded so far…")
        if self.filter_text:
            text += f" · filter '{self.filter_text}': {len(self.view):,} match"
        if self.page_count > 1:
            text += f" · page {self.page + 1}/{self.page_count} ([ ])"
        if self.selected:
            text += f" · {len(self.selected)} selected"
        arrow = "↓" if self.reverse else "↑"
        return text + f" · sort {self.sort_key}{arrow}"
