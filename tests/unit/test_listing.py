"""The pure listing model behind the Buckets table, and typed durations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tirui.core.durations import format_duration, parse_duration
from tirui.storage.base import ObjectInfo
from tirui.storage.listing import Listing


def obj(key: str, size: int = 1, day: int = 1) -> ObjectInfo:
    return ObjectInfo(key, size, datetime(2026, 1, day, tzinfo=UTC))


def test_streamed_pages_window_and_totals() -> None:
    listing = Listing(prefix="p/", page_rows=100)
    for start in range(0, 1000, 250):  # four streamed pages
        listing.extend(obj(f"p/{i:04d}", size=10) for i in range(start, start + 250))
    listing.extend([ObjectInfo("p/sub/", is_prefix=True)])
    assert (listing.folders, listing.objects, listing.total_bytes) == (1, 1000, 10_000)
    assert listing.page_count == 11
    assert [e.key for e in listing.window()][:2] == ["p/sub/", "p/0000"]
    assert listing.turn(1) and listing.window()[0].key == "p/0099"
    listing.page = 10
    assert not listing.turn(1) and len(listing.window()) == 1


def test_filter_sort_reverse_and_folders_first() -> None:
    listing = Listing(prefix="")
    listing.extend(
        [obj("b.txt", 5, 3), obj("a.mar", 50, 1), obj("c.mar", 1, 2), ObjectInfo("z/", is_prefix=True)]
    )
    assert [e.key for e in listing.view] == ["z/", "a.mar", "b.txt", "c.mar"]
    assert listing.cycle_sort() == "size"
    assert [e.key for e in listing.view] == ["z/", "c.mar", "b.txt", "a.mar"]
    listing.toggle_reverse()
    assert [e.key for e in listing.view] == ["z/", "a.mar", "b.txt", "c.mar"]
    assert listing.cycle_sort() == "date"
    assert [e.key for e in listing.view] == ["z/", "b.txt", "c.mar", "a.mar"]
    listing.set_filter(".MAR")
    assert [e.key for e in listing.view] == ["c.mar", "a.mar"]
    assert "filter '.MAR': 2 match" in listing.summary()


def test_selection_and_remove() -> None:
    listing = Listing()
    listing.extend([obj("a", 3), obj("b", 4), obj("c", 5)])
    assert listing.toggle("a") and listing.toggle("b") and not listing.toggle("b")
    listing.remove(["a", "c"])
    assert [e.key for e in listing.entries] == ["b"] and listing.total_bytes == 4 and not listing.selected


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("15m", 900), ("1h", 3600), ("7d", 604800), (" 2 M ", 120)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("bad", ["", "1w", "-5", "1.5h", "h"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(bad)
