"""Buckets: buckets → folders → objects of the profile's object store.

The store is opened in a worker (boto3 import, keyring lookup). A listing streams page by page
from a thread worker into a :class:`~tirui.storage.listing.Listing`; the table shows one window of
it (``[``/``]`` turn pages), so a 100,000-object prefix never becomes 100,000 table rows and the
first page is on screen after one round trip. Actions (upload, download, delete, presign, details,
peek, deploy) live in :mod:`tirui.screens.buckets.actions`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static
from textual.worker import get_current_worker

from tirui.screens.base import MainScreen
from tirui.screens.buckets.actions import BucketActions, BucketsHost
from tirui.screens.buckets.messages import BucketsListed, ListingDone, ListingPage, StorageFailed, StoreOpened
from tirui.storage.base import ObjectInfo, ObjectStore, StorageError, human_size
from tirui.storage.listing import Listing
from tirui.widgets.markup import escape
from tirui.widgets.text_table import TextTable

REFRESH_EVERY = 0.3
"""Seconds between table rebuilds while a listing streams in (the summary updates every page)."""
PAGES_IN_FLIGHT = 2
"""Listing pages posted to the screen but not yet shown, at most (back-pressure on the worker)."""


def _when(dt: datetime | None) -> str:
    return dt.astimezone().strftime("%Y-%m-%d %H:%M") if dt else ""


class BucketsScreen(MainScreen):
    """Browse buckets and objects; every store call runs in a worker. What the keys do to the
    selection is :class:`BucketActions`, a widget of this screen (its :class:`BucketsHost`)."""

    TITLE = "Buckets"
    MODE = "buckets"
    BINDINGS = [
        Binding("backspace", "up", "Up", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort", show=False),
        Binding("S", "reverse", "Reverse sort", show=False),
        Binding("space", "toggle_select", "Select", show=False),
        Binding("u", "upload", "Upload"),
        Binding("g", "download", "Download", show=False),
        Binding("ctrl+d", "delete", "Delete"),
        Binding("i", "details", "Details"),
        Binding("d", "deploy", "Deploy .mar"),
        Binding("c", "create_bucket", "New bucket", show=False),
        Binding("y", "copy_uri", "Copy s3:// URI", show=False),
        Binding("p", "presign", "Presigned URL", show=False),
        Binding("right_square_bracket", "page(1)", "Next page", show=False),
        Binding("left_square_bracket", "page(-1)", "Previous page", show=False),
        Binding("ctrl+r", "refresh", "Refresh", show=False),
        Binding("escape", "escape", "Clear filter / up", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.store: ObjectStore | None = None
        self.bucket: str | None = None
        self.listing = Listing()
        self._generation = 0
        self._page_slots = threading.Semaphore(PAGES_IN_FLIGHT)
        self._last_refresh = 0.0
        self.actions = BucketActions(self)
        """Pages of the current listing handed to the table so far (each is drawn as it arrives)."""

    def compose_body(self) -> Iterable[Widget]:
        with Vertical(id="buckets-body"):
            yield Static("", id="breadcrumb")
            table = TextTable(id="objects", cursor_type="row", zebra_stripes=True)
            yield table
            yield Static("", id="buckets-message", classes="hint")
            yield Static("", id="listing-summary", classes="hint")
            # the filter box is mounted by the first "/" (an Input and its styles are not part of
            # the first frame)
        yield self.actions

    def on_mount(self) -> None:
        # the store opens once the first frame is on screen: its worker thread imports the
        # store's modules and reads the keyring, which would otherwise hold the first frame back
        self._message(escape(f"Connecting to {self.app.profile.name}…"))
        self.call_after_refresh(self._open_store)

    def on_profile_changed(self) -> None:
        self.store = None
        self.bucket = None
        self.open_store()

    # -- store and loading -------------------------------------------------------------------
    def open_store(self) -> None:
        self._message(escape(f"Connecting to {self.app.profile.name}…"))
        self._open_store()

    @work(exit_on_error=False, exclusive=True, group="store", thread=True)
    def _open_store(self) -> None:
        from tirui.storage.factory import open_store

        try:
            store = open_store(self.app.profile, self.app.token_store)
        except StorageError as exc:
            self.post_message(StorageFailed(str(exc)))
            return
        self.post_message(StoreOpened(store))

    def on_store_opened(self, message: StoreOpened) -> None:
        self.store = message.store
        self.load()

    def on_storage_failed(self, message: StorageFailed) -> None:
        self._fail(message.text)

    def load(self) -> None:
        """(Re)load the current level: bucket list or ``bucket/prefix``."""
        self._generation += 1
        if self.bucket is None:
            self._load_buckets(self._generation)
        else:
            self.listing = Listing(
                prefix=self.listing.prefix,
                sort_key=self.listing.sort_key,
                reverse=self.listing.reverse,
                filter_text=self.listing.filter_text,
            )
            self._set_columns(("", "Name", "Size", "Modified"))
            self._load_objects(self._generation, self.bucket, self.listing.prefix)
        self._breadcrumb()

    @work(exit_on_error=False, exclusive=True, group="listing", thread=True)
    def _load_buckets(self, generation: int) -> None:
        assert self.store is not None
        try:
            buckets = self.store.list_buckets()
        except StorageError as exc:
            self.post_message(StorageFailed(str(exc)))
            return
        self.post_message(BucketsListed(generation, buckets))

    def on_buckets_listed(self, message: BucketsListed) -> None:
        if message.generation != self._generation:
            return
        buckets = message.buckets
        self._connected(True)
        self._set_columns(("", "Bucket", "", "Created"))
        table = self.query_one("#objects", DataTable)
        for b in buckets:
            table.add_row("", b.name, "", _when(b.created), key=b.name)
        self._message("" if buckets else "No buckets yet: press c to create one.")
        self.query_one("#listing-summary", Static).update(
            Text(f"{len(buckets)} buckets · {self.store_label}")
        )

    @work(exit_on_error=False, exclusive=True, group="listing", thread=True)
    def _load_objects(self, generation: int, bucket: str, prefix: str) -> None:
        assert self.store is not None
        worker = get_current_worker()
        try:
            for page in self.store.iter_pages(bucket, prefix):
                # back-pressure: at most PAGES_IN_FLIGHT pages wait in the screen's queue, so keys
                # pressed meanwhile are handled between pages, not after the whole listing
                while not self._page_slots.acquire(timeout=0.25):
                    if worker.is_cancelled or generation != self._generation:
                        return
                if worker.is_cancelled or generation != self._generation:
                    self._page_slots.release()
                    return
                self.post_message(ListingPage(generation, page.prefixes + page.objects))
        except StorageError as exc:
            self.post_message(StorageFailed(str(exc)))
            return
        self.post_message(ListingDone(generation))

    def on_listing_page(self, message: ListingPage) -> None:
        self._page_slots.release()
        if message.generation != self._generation:
            return
        self._connected(True)
        self.listing.add_page(message.items)
        table = self.query_one("#objects", DataTable)
        now = time.monotonic()
        if table.row_count < self.listing.page_rows or now - self._last_refresh > REFRESH_EVERY:
            self.refresh_table()
        else:
            self._summary()

    def on_listing_done(self, message: ListingDone) -> None:
        if message.generation != self._generation:
            return
        self.listing.complete = True
        self.refresh_table()
        if not self.listing.entries:
            self._message("This folder is empty: press u to upload a file.")

    # -- rendering ---------------------------------------------------------------------------
    @property
    def store_label(self) -> str:
        return self.store.description if self.store else ""

    def _set_columns(self, labels: tuple[str, ...]) -> None:
        table = self.query_one("#objects", DataTable)
        table.clear(columns=True)
        table.add_columns(*labels)
        self._message("")

    def refresh_table(self) -> None:
        """Rebuild the table from the listing's current window, keeping the cursor on its key."""
        self._last_refresh = time.monotonic()
        table = self.query_one("#objects", DataTable)
        current = self.cursor_key()
        table.clear()
        prefix, selected = self.listing.prefix, self.listing.selected
        target = 0
        for i, e in enumerate(self.listing.window()):
            mark = "●" if e.key in selected else ""
            name = e.name_in(prefix)
            size = "" if e.is_prefix else human_size(e.size)
            table.add_row(mark, name, size, _when(e.last_modified), key=e.key)
            if e.key == current:
                target = i
        if table.row_count:
            table.move_cursor(row=target)
        self._message("")
        self._summary()

    def _summary(self) -> None:
        self.query_one("#listing-summary", Static).update(Text(self.listing.summary()))

    def _breadcrumb(self) -> None:
        where = "eos://" if self.bucket is None else f"eos://{self.bucket}/{self.listing.prefix}"
        self.query_one("#breadcrumb", Static).update(
            f"[b]{escape(where)}[/b]  [dim]{escape(self.store_label)}[/dim]"
        )

    def _message(self, text: str) -> None:
        self.query_one("#buckets-message", Static).update(text)

    def _fail(self, text: str) -> None:
        self._connected(False)
        self._message(f"[b red]{escape(text)}[/]\nPress ctrl+r to retry.")
        self.notify(text, title="Buckets", severity="error")

    def _connected(self, ok: bool) -> None:
        app = self.app
        if app.profile.storage.kind != "local":
            app.connection = "connected" if ok else "error"

    def cursor_key(self) -> str | None:
        table = self.query_one("#objects", DataTable)
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def cursor_entry(self) -> ObjectInfo | None:
        key = self.cursor_key()
        if key is None or self.bucket is None:
            return None
        return next((e for e in self.listing.window() if e.key == key), None)

    # -- navigation --------------------------------------------------------------------------
    @on(DataTable.RowSelected, "#objects")
    def _open_row(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value)
        if self.bucket is None:
            self.bucket = key
            self.listing = Listing()
            self.load()
            return
        entry = self.cursor_entry()
        if entry is not None and entry.is_prefix:
            self.listing = Listing(
                prefix=entry.key, sort_key=self.listing.sort_key, reverse=self.listing.reverse
            )
            self.load()
        elif entry is not None:
            self.action_details()

    def action_up(self) -> None:
        if self.bucket is None:
            return
        prefix = self.listing.prefix
        if prefix:
            parent = prefix.rstrip("/").rpartition("/")[0]
            self.listing = Listing(prefix=f"{parent}/" if parent else "", sort_key=self.listing.sort_key)
        else:
            self.bucket = None
            self.listing = Listing()
        self.load()

    def action_escape(self) -> None:
        box = self.query_one_optional("#filter", Input)
        if self.listing.filter_text or (box is not None and box.has_focus):
            self._clear_filter()
        else:
            self.action_up()

    def action_refresh(self) -> None:
        if self.store is None:
            self.open_store()
        else:
            self.load()

    def action_page(self, delta: int) -> None:
        if self.bucket is not None and self.listing.turn(delta):
            self.refresh_table()

    def action_sort(self) -> None:
        if self.bucket is not None:
            self.listing.cycle_sort()
            self.refresh_table()

    def action_reverse(self) -> None:
        if self.bucket is not None:
            self.listing.toggle_reverse()
            self.refresh_table()

    def action_toggle_select(self) -> None:
        entry = self.cursor_entry()
        if entry is None:
            return
        table = self.query_one("#objects", DataTable)
        mark = "●" if self.listing.toggle(entry.key) else ""
        table.update_cell(entry.key, table.ordered_columns[0].key, mark)
        table.action_cursor_down()
        self._summary()

    # -- filter ------------------------------------------------------------------------------
    async def action_filter(self) -> None:
        if self.bucket is None:
            return
        box = self.query_one_optional("#filter", Input)
        if box is None:
            box = Input(placeholder="filter (enter: keep, esc: clear)", id="filter")
            await self.query_one("#buckets-body").mount(box)
        box.remove_class("hidden")
        box.value = self.listing.filter_text
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.listing.set_filter(event.value)
        self.refresh_table()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one("#objects", DataTable).focus()
        if not self.listing.filter_text:
            self.query_one("#filter", Input).add_class("hidden")

    def _clear_filter(self) -> None:
        box = self.query_one_optional("#filter", Input)
        if box is not None:
            box.value = ""
            box.add_class("hidden")
        self.listing.set_filter("")
        self.refresh_table()
        self.query_one("#objects", DataTable).focus()

    # -- actions on the selection (BucketActions) --------------------------------------------
    def action_upload(self) -> None:
        self.actions.upload()

    def action_download(self) -> None:
        self.actions.download()

    def action_delete(self) -> None:
        self.actions.delete()

    def action_details(self) -> None:
        self.actions.details()

    def action_deploy(self) -> None:
        self.actions.deploy()

    def action_create_bucket(self) -> None:
        self.actions.create_bucket()

    def action_copy_uri(self) -> None:
        self.actions.copy_uri()

    def action_presign(self) -> None:
        self.actions.presign()


if TYPE_CHECKING:
    from datetime import datetime

    _: type[BucketsHost] = BucketsScreen  # the screen keeps the contract its actions rely on
