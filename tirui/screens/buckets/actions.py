"""What the Buckets screen does to objects: upload, download, delete, presign, details, deploy.

A non-visual widget of :class:`~tirui.screens.buckets.screen.BucketsScreen`, which it sees only through
:class:`BucketsHost` (the store, the open bucket, the listing, the cursor; ``load`` and
``refresh_table`` to show a change). Every store call runs in a thread worker of this widget and
reports back with Messages (``tirui.messages``) that this widget handles on the event loop (a
``DeployRequested`` bubbles on to the app). Nothing here leaves half-done state: transfers write
to a part file or abort their multipart upload when cancelled, and a delete reports exactly which
keys failed. The dialogs are imported where one opens: they are not part of the first frame.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from textual import work
from textual.widget import Widget

from tirui.core.durations import format_duration, parse_duration
from tirui.messages import DeployRequested
from tirui.screens.buckets.messages import (
    BucketOpDone,
    BucketOpFailed,
    ConfirmRequested,
    ShowText,
    TransferEnded,
    TransferStarted,
)
from tirui.screens.worker_failures import ReportsWorkerFailures
from tirui.storage.base import (
    Cancelled,
    CancelToken,
    Conflict,
    ObjectInfo,
    StorageError,
    human_size,
    keys_below,
    validate_bucket_name,
)

if TYPE_CHECKING:
    from textual import getters

    from tirui.screens.base import HostApp
    from tirui.storage.base import ObjectStore
    from tirui.storage.listing import Listing

MAX_CONFIRM_LIST = 8


class BucketsHost(Protocol):
    """What the Buckets screen offers its actions."""

    @property
    def store(self) -> ObjectStore | None: ...

    @property
    def bucket(self) -> str | None:
        """The open bucket (None: the bucket list is shown)."""
        ...

    @property
    def listing(self) -> Listing:
        """The objects listed at the current prefix (a new one at every load)."""
        ...

    def load(self) -> None:
        """List the current level again."""
        ...

    def refresh_table(self) -> None:
        """Draw the listing again (after rows were removed from it)."""
        ...

    def cursor_key(self) -> str | None: ...

    def cursor_entry(self) -> ObjectInfo | None: ...


class BucketActions(ReportsWorkerFailures, Widget):
    """Actions on the selected bucket/object(s) of its host screen."""

    if TYPE_CHECKING:
        app = getters.app(HostApp)

    def __init__(self, host: BucketsHost) -> None:
        super().__init__(id="bucket-actions")
        self.host = host
        self.display = False

    @property
    def store(self) -> ObjectStore | None:
        return self.host.store

    @property
    def bucket(self) -> str | None:
        return self.host.bucket

    @property
    def listing(self) -> Listing:
        return self.host.listing

    # -- helpers -----------------------------------------------------------------------------
    def _need_object(self) -> ObjectInfo | None:
        entry = self.host.cursor_entry()
        if entry is None or entry.is_prefix:
            self.notify("Select an object first", severity="warning")
            return None
        return entry

    def _uri(self, key: str, scheme: str = "eos") -> str:
        return f"{scheme}://{self.bucket}/{key}"

    def _error(self, text: str) -> None:
        from tirui.screens.dialogs import MessageDialog

        self.app.push_screen(MessageDialog("Buckets", text))

    # -- what the thread workers below report (Messages, handled on the event loop) ----------
    def on_bucket_op_failed(self, message: BucketOpFailed) -> None:
        self._error(message.text)

    def on_bucket_op_done(self, message: BucketOpDone) -> None:
        if message.text:
            self.notify(message.text, title=message.title, severity=message.severity)  # type: ignore[arg-type]
        if message.removed is not None:
            self.listing.remove(message.removed)
            self.host.refresh_table()
        if message.reload:
            self.host.load()

    def on_show_text(self, message: ShowText) -> None:
        from tirui.screens.dialogs import MessageDialog

        if message.copy:
            self.app.copy_to_clipboard(message.copy)
        self.app.push_screen(MessageDialog(message.title, message.body))

    def on_confirm_requested(self, message: ConfirmRequested) -> None:
        from tirui.screens.dialogs import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                message.on_yes()

        self.app.push_screen(ConfirmDialog(message.question), answered)

    # -- create bucket -----------------------------------------------------------------------
    def create_bucket(self) -> None:
        from tirui.screens.dialogs import Field, FormDialog

        def check(values: dict[str, str]) -> str | None:
            try:
                validate_bucket_name(values["name"].strip())
            except StorageError as exc:
                return str(exc)
            return None

        def chosen(values: dict[str, str] | None) -> None:
            if values:
                self._create_bucket(values["name"].strip())

        fields = [Field("name", "Bucket name", placeholder="models")]
        self.app.push_screen(FormDialog("Create bucket", fields, validate=check), chosen)

    @work(exit_on_error=False, group="bucket-op", thread=True)
    def _create_bucket(self, name: str) -> None:
        assert self.store is not None
        try:
            self.store.create_bucket(name)
        except StorageError as exc:
            self.post_message(BucketOpFailed(str(exc)))
            return
        self.post_message(BucketOpDone(f"Created bucket {name}", reload=self.bucket is None))

    # -- upload / download -------------------------------------------------------------------
    def upload(self) -> None:
        from tirui.screens.dialogs import Field, FormDialog

        if self.bucket is None or self.store is None:
            self.notify("Open a bucket first (enter on a bucket)", severity="warning")
            return
        prefix = self.listing.prefix

        def check(values: dict[str, str]) -> str | None:
            path = Path(values["path"]).expanduser()
            if not path.is_file():
                return f"{path} is not a readable file."
            return None

        def chosen(values: dict[str, str] | None) -> None:
            if values:
                path = Path(values["path"]).expanduser()
                key = values["key"].strip() or prefix + path.name
                self._transfer("upload", path, key, overwrite=False)

        fields = [
            Field("path", "Local file", f"{os.getcwd()}/"),
            Field("key", "Object key (empty: folder + file name)", required=False, placeholder=prefix + "…"),
        ]
        self.app.push_screen(
            FormDialog(f"Upload to eos://{self.bucket}/{prefix}", fields, validate=check), chosen
        )

    def download(self) -> None:
        from tirui.screens.dialogs import Field, FormDialog

        entry = self._need_object()
        if entry is None:
            return

        def check(values: dict[str, str]) -> str | None:
            parent = Path(values["path"]).expanduser().parent
            return None if parent.is_dir() else f"Folder {parent} does not exist."

        def chosen(values: dict[str, str] | None) -> None:
            if values:
                self._transfer("download", Path(values["path"]).expanduser(), entry.key, overwrite=False)

        default = str(Path.cwd() / entry.key.rsplit("/", 1)[-1])
        fields = [Field("path", "Save as", default)]
        title = f"Download {self._uri(entry.key)} ({human_size(entry.size)})"
        self.app.push_screen(FormDialog(title, fields, validate=check), chosen)

    @work(exit_on_error=False, group="transfer", thread=True)
    def _transfer(self, kind: str, path: Path, key: str, *, overwrite: bool) -> None:
        """Run one upload or download behind a :class:`TransferDialog`."""
        assert self.store is not None and self.bucket is not None
        store, bucket = self.store, self.bucket
        try:
            total = path.stat().st_size if kind == "upload" else store.head(bucket, key).size
        except (OSError, StorageError) as exc:
            self.post_message(BucketOpFailed(str(exc)))
            return
        from tirui.screens.buckets.transfer import TransferDialog

        cancel = CancelToken()
        verb = "Uploading" if kind == "upload" else "Downloading"
        dialog = TransferDialog(f"{verb} {path.name} ↔ eos://{bucket}/{key}", total, cancel)
        self.post_message(TransferStarted(dialog))
        try:
            if kind == "upload":
                store.upload(path, bucket, key, progress=dialog.add, cancel=cancel, overwrite=overwrite)
            else:
                store.download(bucket, key, path, progress=dialog.add, cancel=cancel, overwrite=overwrite)
        except Conflict as exc:
            retry = functools.partial(self._ask_overwrite, kind, path, key, str(exc))
            self.post_message(TransferEnded(dialog, "conflict", "", retry=retry))
            return
        except Cancelled:
            left = "no parts were left behind" if kind == "upload" else "no partial file was left"
            self.post_message(TransferEnded(dialog, "cancelled", f"{verb} cancelled: {left}."))
            return
        except StorageError as exc:
            self.post_message(TransferEnded(dialog, "failed", str(exc)))
            return
        except OSError as exc:  # the local side: a folder that cannot be written, a full disk
            where = exc.filename or path
            self.post_message(
                TransferEnded(dialog, "failed", f"{verb} failed: {where}: {exc.strerror or exc}")
            )
            return
        except BaseException:  # a bug: the dialog closes all the same, the app reports it
            self.post_message(TransferEnded(dialog, "failed", f"{verb} failed unexpectedly (see crash.log)"))
            raise
        done = f"Uploaded {self._uri(key)}" if kind == "upload" else f"Saved {path}"
        text = f"{done} ({human_size(total)})"
        self.post_message(TransferEnded(dialog, "done", text, reload=kind == "upload"))

    def on_transfer_started(self, message: TransferStarted) -> None:
        self.app.push_screen(message.dialog)

    def on_transfer_ended(self, message: TransferEnded) -> None:
        message.dialog.dismiss()
        if message.retry is not None:
            message.retry()
        elif message.outcome == "failed":
            self._error(message.text)
        elif message.text:
            warn = message.outcome == "cancelled"
            self.notify(message.text, title="Transfer", severity="warning" if warn else "information")
        if message.reload:
            self.host.load()

    def _ask_overwrite(self, kind: str, path: Path, key: str, reason: str) -> None:
        from tirui.screens.dialogs import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self._transfer(kind, path, key, overwrite=True)

        self.app.push_screen(ConfirmDialog(f"{reason}\nOverwrite it?"), answered)

    # -- delete ------------------------------------------------------------------------------
    def _targets(self) -> list[ObjectInfo]:
        if self.listing.selected:
            return [e for e in self.listing.entries if e.key in self.listing.selected]
        entry = self.host.cursor_entry()
        return [entry] if entry is not None else []

    def delete(self) -> None:
        if self.bucket is None:
            self.notify(
                "Buckets are deleted with the provider's console; open a bucket to delete objects.",
                severity="warning",
            )
            return
        targets = self._targets()
        if not targets:
            self.notify("Nothing selected", severity="warning")
            return
        self._expand_and_confirm(targets)

    @work(exit_on_error=False, group="bucket-op", thread=True)
    def _expand_and_confirm(self, targets: list[ObjectInfo]) -> None:
        """Folders are deleted through every key below them: list those first, then ask."""
        assert self.store is not None and self.bucket is not None
        keys = [t.key for t in targets if not t.is_prefix]
        try:
            for folder in (t for t in targets if t.is_prefix):
                keys.extend(keys_below(self.store, self.bucket, folder.key))
        except StorageError as exc:
            self.post_message(BucketOpFailed(str(exc)))
            return
        if not keys:
            self.post_message(BucketOpDone("Nothing to delete", severity="warning"))
            return
        shown = "\n".join(f"  {k}" for k in keys[:MAX_CONFIRM_LIST])
        more = f"\n  … and {len(keys) - MAX_CONFIRM_LIST} more" if len(keys) > MAX_CONFIRM_LIST else ""
        question = f"Delete {len(keys)} object(s) from eos://{self.bucket}?\n{shown}{more}"
        removed = [t.key for t in targets]

        self.post_message(ConfirmRequested(question, functools.partial(self._delete, keys, removed)))

    @work(exit_on_error=False, group="bucket-op", thread=True)
    def _delete(self, keys: list[str], rows: list[str]) -> None:
        assert self.store is not None and self.bucket is not None
        try:
            failed = self.store.delete(self.bucket, keys)
        except StorageError as exc:
            self.post_message(BucketOpFailed(str(exc)))
            return
        if failed:
            listed = "\n".join(failed[:MAX_CONFIRM_LIST])
            self.post_message(
                BucketOpFailed(f"{len(failed)} of {len(keys)} object(s) could not be deleted:\n{listed}")
            )
        removed = [r for r in rows if r not in failed]
        self.post_message(BucketOpDone("" if failed else f"Deleted {len(keys)} object(s)", removed=removed))

    # -- links and details -------------------------------------------------------------------
    def copy_uri(self) -> None:
        entry = self.host.cursor_entry()
        if self.bucket is None:
            key = self.host.cursor_key()
            uri = f"s3://{key}" if key else ""
        else:
            uri = self._uri(entry.key, "s3") if entry else f"s3://{self.bucket}/{self.listing.prefix}"
        if uri:
            self.app.copy_to_clipboard(uri)
            self.notify(f"Copied {uri}", title="Clipboard (OSC 52)")

    def presign(self) -> None:
        from tirui.screens.dialogs import Field, FormDialog

        entry = self._need_object()
        if entry is None:
            return

        def check(values: dict[str, str]) -> str | None:
            try:
                seconds = parse_duration(values["expires"])
            except ValueError as exc:
                return str(exc)
            return None if 1 <= seconds <= 7 * 86400 else "A presigned URL expires after 1 second to 7 days."

        def chosen(values: dict[str, str] | None) -> None:
            if values:
                self._presign(entry.key, parse_duration(values["expires"]))

        fields = [Field("expires", "Expires in (e.g. 900, 15m, 1h, 7d)", "1h")]
        self.app.push_screen(
            FormDialog(f"Presigned GET for {self._uri(entry.key)}", fields, validate=check), chosen
        )

    @work(exit_on_error=False, group="bucket-op", thread=True)
    def _presign(self, key: str, seconds: int) -> None:
        assert self.store is not None and self.bucket is not None
        try:
            url = self.store.presign(self.bucket, key, seconds)
        except StorageError as exc:
            self.post_message(BucketOpFailed(str(exc)))
            return
        body = f"{url}\n\nValid for {format_duration(seconds)}. Copied to the clipboard (OSC 52)."
        self.post_message(ShowText("Presigned URL", body, copy=url))

    def details(self) -> None:
        entry = self._need_object()
        if entry is not None:
            self._details(entry.key)

    @work(exit_on_error=False, group="bucket-op", thread=True)
    def _details(self, key: str) -> None:
        from tirui.storage.mar import peek_manifest

        assert self.store is not None and self.bucket is not None
        try:
            d = self.store.head(self.bucket, key)
        except StorageError as exc:
            self.post_message(BucketOpFailed(str(exc)))
            return
        rows: list[tuple[str, Any]] = [
            ("Key", d.key),
            ("Size", f"{human_size(d.size)} ({d.size:,} bytes)"),
            ("ETag", d.etag),
            ("Content type", d.content_type),
            (
                "Last modified",
                d.last_modified.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if d.last_modified else "-",
            ),
            ("Storage class", d.storage_class or "-"),
        ]
        rows += [(f"meta {k}", v) for k, v in sorted(d.metadata.items())]
        if key.endswith(".mar"):
            try:
                manifest = peek_manifest(self.store, self.bucket, key)
                rows.append(("", ""))
                rows += list(manifest.rows())
                rows.append(("", "Close this and press d to deploy the model."))
            except StorageError as exc:
                rows.append(("mar", f"cannot read the manifest: {exc}"))
        body = "\n".join(f"{k:<16} {v}" if k else str(v) for k, v in rows)
        self.post_message(ShowText(self._uri(key), body))

    def deploy(self) -> None:
        entry = self._need_object()
        if entry is None:
            return
        if not entry.key.endswith(".mar"):
            self.notify("Only TorchServe model archives (.mar) can be deployed", severity="warning")
            return
        self.app.typeahead.expect()  # keys typed meanwhile are for the form the app opens
        self.post_message(DeployRequested(self._uri(entry.key)))
