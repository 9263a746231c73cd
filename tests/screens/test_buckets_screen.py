"""The Buckets screen driven with Pilot against real stores (local folders and the moto S3 server)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input

from tests.support.helpers import rows, text, until
from tirui.app import TiruiApp
from tirui.locations import local_buckets_dir, profiles_file
from tirui.screens.buckets.transfer import TransferDialog
from tirui.screens.dialogs import ConfirmDialog, Form, MessageDialog
from tirui.storage.local import LocalStore


@pytest.fixture
def seeded(isolated: Path) -> LocalStore:
    store = LocalStore(local_buckets_dir())
    store.create_bucket("models")
    store.create_bucket("scratch")
    src = isolated / "src.bin"
    for key in ("resnet/v1.mar", "resnet/v2.mar", "bert/model.mar", "readme.txt", "notes.txt"):
        src.write_bytes(os.urandom(100 + len(key)))
        store.upload(src, "models", key)
    return store


async def open_models(pilot: Any, app: TiruiApp) -> None:
    await until(pilot, lambda: "models" in rows(app))
    table = app.screen.query_one("#objects", DataTable)
    table.move_cursor(row=rows(app).index("models"))
    await pilot.press("enter")
    await until(pilot, lambda: "all loaded" in text(app, "#listing-summary"))


async def test_navigate_folders_and_back(seeded: LocalStore) -> None:
    app = TiruiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: rows(app) == ["models", "scratch"])
        await open_models(pilot, app)
        assert rows(app) == ["bert/", "resnet/", "notes.txt", "readme.txt"]  # folders first
        assert "eos://models/" in text(app, "#breadcrumb")
        assert "2 folders · 2 objects" in text(app, "#listing-summary")
        app.screen.query_one("#objects", DataTable).move_cursor(row=1)
        await pilot.press("enter")
        await until(pilot, lambda: rows(app) == ["v1.mar", "v2.mar"])
        assert "eos://models/resnet/" in text(app, "#breadcrumb")
        await pilot.press("backspace")
        await until(pilot, lambda: "bert/" in rows(app))
        await pilot.press("backspace")
        await until(pilot, lambda: rows(app) == ["models", "scratch"])


async def test_filter_and_sort(seeded: LocalStore) -> None:
    app = TiruiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_models(pilot, app)
        await pilot.press("slash", *"tx")
        await until(pilot, lambda: rows(app) == ["notes.txt", "readme.txt"])
        assert "filter 'tx': 2 match" in text(app, "#listing-summary")
        await pilot.press("enter")  # keep the filter, back to the table
        assert app.screen.query_one("#objects", DataTable).has_focus
        await pilot.press("S")  # reverse
        assert rows(app) == ["readme.txt", "notes.txt"]
        await pilot.press("escape")  # clears the filter, stays in the folder
        await until(pilot, lambda: len(rows(app)) == 4)
        assert "eos://models/" in text(app, "#breadcrumb")
        await pilot.press("s")  # sort by size: readme.txt (110 B) is bigger than notes.txt (109 B)
        assert "sort size↓" in text(app, "#listing-summary")
        assert rows(app)[2:] == ["readme.txt", "notes.txt"]


async def test_upload_dialog_and_multi_delete(seeded: LocalStore, isolated: Path) -> None:
    payload = isolated / "upload.bin"
    payload.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    app = TiruiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_models(pilot, app)
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, Form))
        app.screen.query_one("#field-path", Input).value = str(isolated / "missing.bin")
        await pilot.press("ctrl+s")
        assert "is not a readable file" in text(app, "#form-error")  # stays open, says why
        app.screen.query_one("#field-path", Input).value = str(payload)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "upload.bin" in rows(app))
        assert (local_buckets_dir() / "models" / "upload.bin").read_bytes() == payload.read_bytes()

        # Upload the same name again: asks before overwriting; "n" leaves the object alone.
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, Form))
        app.screen.query_one("#field-path", Input).value = str(payload)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")

        table = app.screen.query_one("#objects", DataTable)
        table.move_cursor(row=rows(app).index("notes.txt"))
        await pilot.press("space")  # selects and moves down to readme.txt
        await pilot.press("space")
        assert "2 selected" in text(app, "#listing-summary")
        await pilot.press("ctrl+d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "Delete 2 object(s)" in str(app.screen.question)
        await pilot.press("y")
        await until(pilot, lambda: "notes.txt" not in rows(app))
        assert "readme.txt" not in rows(app)
        keys = [o.key for p in seeded.iter_pages("models", "", delimiter="") for o in p.objects]
        assert "notes.txt" not in keys and "readme.txt" not in keys and "upload.bin" in keys


async def test_delete_folder_lists_its_keys_and_cancel_keeps_them(seeded: LocalStore) -> None:
    app = TiruiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_models(pilot, app)
        app.screen.query_one("#objects", DataTable).move_cursor(row=rows(app).index("resnet/"))
        await pilot.press("ctrl+d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        question = str(app.screen.question)
        assert "Delete 2 object(s)" in question and "resnet/v1.mar" in question
        await pilot.press("n")
        await pilot.pause()
        assert "resnet/" in rows(app)
        assert seeded.head("models", "resnet/v1.mar").size > 0


async def test_details_peeks_into_a_mar(isolated: Path, tiny_mar: Path) -> None:
    store = LocalStore(local_buckets_dir())
    store.create_bucket("models")
    store.upload(tiny_mar, "models", "tiny.mar")
    app = TiruiApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_models(pilot, app)
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, MessageDialog))
        body = app.screen.body
        assert "Model name       tiny" in body and "Handler" in body and "ETag" in body
        await pilot.press("escape")
        await pilot.press("d")  # the deploy form, with the archive filled in
        await until(pilot, lambda: isinstance(app.screen, Form))
        assert app.screen.query_one("#field-source", Input).value == "eos://models/tiny.mar"


# -- S3 (moto) -------------------------------------------------------------------------------------
@pytest.fixture
def s3_profile(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    path = profiles_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[profiles.moto.storage]\nendpoint_url = "{s3_endpoint}"\n')
    return "moto"


async def test_s3_paged_listing_streams(s3_profile: str, s3_store: Any, tmp_path: Path) -> None:
    import concurrent.futures

    bucket = "paged-listing"
    s3_store.create_bucket(bucket)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda i: s3_store.client.put_object(Bucket=bucket, Key=f"k/{i:05d}", Body=b"x"), range(1203)
            )
        )
    app = TiruiApp(profile=s3_profile)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: bucket in rows(app))
        app.screen.query_one("#objects", DataTable).move_cursor(row=rows(app).index(bucket))
        await pilot.press("enter")
        await until(pilot, lambda: rows(app) == ["k/"])
        await pilot.press("enter")
        await until(
            pilot, lambda: "1,203 objects · 1.2 KiB (all loaded)" in text(app, "#listing-summary"), timeout=30
        )
        summary = text(app, "#listing-summary")
        assert "1,203 objects" in summary and "page 1/3" in summary
        assert len(rows(app)) == 500 and rows(app)[0] == "00000"
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert rows(app)[0] == "01000" and len(rows(app)) == 203
        assert app.connection == "connected"


async def test_s3_cancel_upload_leaves_no_parts(
    s3_endpoint: str, s3_store: Any, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """esc in the progress dialog aborts the multipart upload: no object and no parts remain.

    The store is reached through a proxy that holds each request 0.5 s, so the upload is still
    running when the key lands (straight to moto, 64 MB go through before the first frame).
    """
    from tests.support.s3_extra_servers import slow_proxy

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    bucket = "cancel-ui"
    s3_store.create_bucket(bucket)
    big = isolated / "big.bin"
    big.write_bytes(os.urandom(64 * 1024 * 1024))
    with slow_proxy(s3_endpoint, 0.5) as proxy:
        profiles_file().parent.mkdir(parents=True, exist_ok=True)
        profiles_file().write_text(f'[profiles.slow.storage]\nendpoint_url = "{proxy}"\n')
        app = TiruiApp(profile="slow")
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: bucket in rows(app))
            app.screen.query_one("#objects", DataTable).move_cursor(row=rows(app).index(bucket))
            await pilot.press("enter")
            await until(pilot, lambda: "empty" in text(app, "#buckets-message"))
            await pilot.press("u")
            await until(pilot, lambda: isinstance(app.screen, Form))
            app.screen.query_one("#field-path", Input).value = str(big)
            await pilot.press("ctrl+s")
            await until(pilot, lambda: isinstance(app.screen, TransferDialog))
            dialog = app.screen
            await until(pilot, lambda: dialog.done > 0, timeout=30)  # parts are on their way
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, TransferDialog), timeout=60)
            said = lambda: [str(n.message) for n in app._notifications]  # noqa: E731
            await until(pilot, lambda: any("Uploading cancelled: no parts were left" in m for m in said()))
            assert dialog.done < big.stat().st_size
    assert s3_store.client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert s3_store.client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


async def test_s3_unreachable_endpoint_is_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    path = profiles_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[profiles.dead.storage]\nendpoint_url = "http://127.0.0.1:9"\n')
    app = TiruiApp(profile="dead")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "retry" in text(app, "#buckets-message"), timeout=60)
        assert "127.0.0.1:9" in text(app, "#buckets-message")
        assert app.connection == "error"


async def test_100k_object_prefix_stays_responsive(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 100,000-object folder streams in while keys still work; the table holds one page.

    The store holds its fourth page back until the test has pressed a key, so "while pages are
    still arriving" is a fact of the test, not a race with the machine's speed (tirui's own
    LocalStore is wrapped; no client library is touched)."""
    import threading

    from tirui.storage.local import LocalStore

    gate = threading.Event()
    pages = LocalStore.iter_pages

    def gated(self: LocalStore, *args: Any, **kw: Any) -> Any:
        for i, page in enumerate(pages(self, *args, **kw)):
            if i == 3:
                gate.wait(120)
            yield page

    monkeypatch.setattr(LocalStore, "iter_pages", gated)
    folder = local_buckets_dir() / "huge" / "many"
    folder.mkdir(parents=True)
    for i in range(100_000):
        (folder / f"{i:06d}").write_bytes(b"x")
    app = TiruiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: rows(app) == ["huge"])
        await pilot.press("enter")
        await until(pilot, lambda: rows(app) == ["many/"])
        await pilot.press("enter")
        await until(pilot, lambda: "objects" in text(app, "#listing-summary") and len(rows(app)) > 0)
        await pilot.press("S")  # reverse the sort while pages are still arriving
        await until(pilot, lambda: "sort name↓" in text(app, "#listing-summary"))
        # tied to the work, not to seconds: the key took effect before the listing finished
        assert "all loaded" not in text(app, "#listing-summary") and "3,000 objects" in text(
            app, "#listing-summary"
        )
        gate.set()
        await until(pilot, lambda: "all loaded" in text(app, "#listing-summary"), timeout=120)
        assert "100,000 objects" in text(app, "#listing-summary") and "page 1/200" in text(
            app, "#listing-summary"
        )
        assert len(rows(app)) == 500 and rows(app)[0] == "099999"
        # the listing reached the table page by page (the first page is drawn on arrival), not at the end
        assert app.screen.listing.pages_loaded > 1  # type: ignore[attr-defined]


async def test_an_upload_the_local_bucket_cannot_store_is_refused_and_nothing_hangs(
    seeded: LocalStore, isolated: Path
) -> None:
    """A key part longer than a file name may be (S3 takes it, a local bucket cannot): the upload
    says why, the progress dialog closes, and the Buckets screen goes on (before: OSError 'File
    name too long' from a worker, a dialog that never closed and only said 'Cancelling')."""
    from tirui.crash_guard import crash_log
    from tirui.screens.dialogs import MessageDialog

    payload = isolated / "small.bin"
    payload.write_bytes(b"x" * 100)
    app = TiruiApp()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_models(pilot, app)
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, Form))
        app.screen.query_one("#field-path", Input).value = str(payload)
        app.screen.query_one("#field-key", Input).value = "k" * 300 + ".mar"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, MessageDialog))
        assert "one part is 304 bytes" in str(app.screen.body)
        assert not any(isinstance(s, (Form, TransferDialog)) for s in app.screen_stack)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, MessageDialog))
        await pilot.press("backspace")
        await until(pilot, lambda: rows(app) == ["models", "scratch"])  # still usable
    assert not crash_log().exists()
