"""Storage subcommands: ``tirui ls|cp|rm|presign|mb|peek`` over the profile's object store."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tirui.storage.base import CancelToken, InvalidName, ObjectStore, StorageError, human_size, keys_below
from tirui.storage.uri import is_remote, parse_uri

if TYPE_CHECKING:
    from collections.abc import Callable

    from tirui.cli.parsers import Subparsers


def add_parsers(sub: Subparsers) -> None:
    ls = sub.add_parser("ls", help="list buckets, or folders and objects under eos://bucket/prefix")
    ls.add_argument("uri", nargs="?", default="", help="eos://bucket[/prefix] (default: list buckets)")
    ls.add_argument("-r", "--recursive", action="store_true", help="every key below the prefix, no folders")
    ls.add_argument("-H", "--human", action="store_true", help="sizes as KiB/MiB/GiB")
    cp = sub.add_parser("cp", help="copy LOCAL eos://bucket/key, or eos://bucket/key LOCAL")
    cp.add_argument("src")
    cp.add_argument("dst")
    cp.add_argument("-f", "--force", action="store_true", help="overwrite an existing target")
    rm = sub.add_parser("rm", help="delete objects")
    rm.add_argument("uris", nargs="+", help="eos://bucket/key ...")
    rm.add_argument("-r", "--recursive", action="store_true", help="delete every key under each prefix")
    pre = sub.add_parser("presign", help="print a presigned GET URL")
    pre.add_argument("uri")
    pre.add_argument(
        "--expires", type=_expiry, default=3600, help="seconds or 15m, 1h, 7d (1 s to 7 days; default 1h)"
    )
    mb = sub.add_parser("mb", help="create a bucket")
    mb.add_argument("uri", help="eos://bucket")
    peek = sub.add_parser("peek", help="show a .mar archive's manifest without downloading it")
    peek.add_argument("uri")


def _expiry(text: str) -> int:
    from tirui.core.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _store(args: argparse.Namespace) -> ObjectStore:
    from tirui.config import resolve_profile
    from tirui.storage.factory import open_store

    return open_store(resolve_profile(args.profile))


def _remote(text: str, *, key: bool) -> tuple[str, str]:
    uri = parse_uri(text)
    if not uri.bucket:
        raise InvalidName(f"{text!r} names no bucket")
    if key and not uri.key:
        raise InvalidName(f"{text!r} names no object key")
    return uri.bucket, uri.key


def cmd_ls(args: argparse.Namespace) -> int:
    store = _store(args)
    size = human_size if args.human else str
    if not args.uri:
        for b in store.list_buckets():
            created = b.created.strftime("%Y-%m-%d %H:%M:%S") if b.created else ""
            print(f"{created:19}  eos://{b.name}")
        return 0
    bucket, prefix = _remote(args.uri, key=False)
    for page in store.iter_pages(bucket, prefix, delimiter="" if args.recursive else "/"):
        for p in page.prefixes:
            print(f"{'':19}  {'PRE':>12}  {p.key}")
        for o in page.objects:
            when = o.last_modified.strftime("%Y-%m-%d %H:%M:%S") if o.last_modified else ""
            print(f"{when:19}  {size(o.size):>12}  {o.key}")
    return 0


class _ProgressLine:
    """A one-line progress meter on stderr (only on a terminal)."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done = total, label, 0
        self.start = self.last = time.monotonic()
        self.enabled = sys.stderr.isatty()

    def __call__(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self.last > 0.2 or self.done >= self.total):
            self.last = now
            rate = self.done / max(now - self.start, 1e-6)
            pct = 100 * self.done / self.total if self.total else 100
            sys.stderr.write(f"\r{self.label}: {pct:5.1f}% {human_size(self.done)} at {human_size(rate)}/s ")
            sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _run_cancellable(fn: Callable[[], object], cancel: CancelToken) -> None:
    """Run a transfer in a thread so ctrl+c cancels it cleanly (no orphan multipart upload)."""
    error: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:
        cancel.cancel()
        thread.join()
        raise
    if error:
        raise error[0]


def cmd_cp(args: argparse.Namespace) -> int:
    store = _store(args)
    cancel = CancelToken()
    if is_remote(args.src) and not is_remote(args.dst):
        bucket, key = _remote(args.src, key=True)
        dst = Path(args.dst).expanduser()
        if dst.is_dir() or args.dst.endswith("/"):
            dst = dst / key.rsplit("/", 1)[-1]
        total = store.head(bucket, key).size
        meter = _ProgressLine(total, f"eos://{bucket}/{key}")
        _run_cancellable(
            lambda: store.download(bucket, key, dst, progress=meter, cancel=cancel, overwrite=args.force),
            cancel,
        )
        meter.finish()
        print(f"downloaded eos://{bucket}/{key} -> {dst}")
    elif is_remote(args.dst) and not is_remote(args.src):
        src = Path(args.src).expanduser()
        bucket, key = _remote(args.dst, key=False)
        if not key or key.endswith("/"):
            key = key + src.name
        if not src.is_file():
            raise StorageError(f"local file {src} not found")
        meter = _ProgressLine(src.stat().st_size, str(src))
        _run_cancellable(
            lambda: store.upload(src, bucket, key, progress=meter, cancel=cancel, overwrite=args.force),
            cancel,
        )
        meter.finish()
        print(f"uploaded {src} -> eos://{bucket}/{key}")
    else:
        raise InvalidName("cp copies between a local path and an eos:// address (one of each)")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    store = _store(args)
    for text in args.uris:
        bucket, key = _remote(text, key=True)
        if args.recursive:
            keys = keys_below(store, bucket, key)
        else:
            store.head(bucket, key)  # a clear "not found" rather than S3's silent success
            keys = [key]
        failed = store.delete(bucket, keys)
        for k in keys:
            if k not in failed:
                print(f"deleted eos://{bucket}/{k}")
        if failed:
            raise StorageError(f"could not delete {len(failed)} object(s), e.g. eos://{bucket}/{failed[0]}")
    return 0


def cmd_presign(args: argparse.Namespace) -> int:
    bucket, key = _remote(args.uri, key=True)
    print(_store(args).presign(bucket, key, args.expires))
    return 0


def cmd_mb(args: argparse.Namespace) -> int:
    bucket, _ = _remote(args.uri, key=False)
    _store(args).create_bucket(bucket)
    print(f"created eos://{bucket}")
    return 0


def cmd_peek(args: argparse.Namespace) -> int:
    from tirui.storage.mar import peek_manifest

    bucket, key = _remote(args.uri, key=True)
    manifest = peek_manifest(_store(args), bucket, key)
    for label, value in manifest.rows():
        print(f"{label + ':':18}{value}")
    return 0


COMMANDS = {
    "ls": cmd_ls,
    "cp": cmd_cp,
    "rm": cmd_rm,
    "presign": cmd_presign,
    "mb": cmd_mb,
    "peek": cmd_peek,
}
