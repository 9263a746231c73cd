"""Watch-backed caches of one kind of object in one namespace (k9s' "watch-backed model").

A :class:`ListWatch` lists once, then follows a watch from the list's ``resourceVersion`` in a
daemon thread. Every event moves ``resource_version`` forward, so when the connection drops (API
server restart, idle timeout, network) the next watch resumes exactly there; only a ``410 Gone``
(the version was compacted away) makes it list again. Readers take :meth:`snapshot` under a lock
and never wait for the network.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from urllib3.response import BaseHTTPResponse

Obj = dict[str, Any]


class _Gone(Exception):
    """The resourceVersion is too old: list again."""


class ListWatch:
    """Objects of one kind matching ``selector`` (label equality), kept current by a watch."""

    def __init__(
        self,
        list_fn: Callable[..., Any],
        namespace: str,
        selector: dict[str, str],
        on_change: Callable[[], None] = lambda: None,
        *,
        idle_timeout: float = 90.0,
        explain: Callable[[Exception], str] = str,
    ) -> None:
        """``idle_timeout``: seconds without a byte before the watch is re-opened (bookmarks
        normally arrive every minute); ``explain`` turns a failure into the status line."""
        self.list_fn = list_fn
        self.namespace = namespace
        self.selector = selector
        self.on_change = on_change
        self.idle_timeout = idle_timeout
        self.explain = explain
        self.resource_version = ""
        self.error = ""
        """Why the watch is disconnected ("" while connected)."""
        self.reconnects = 0
        self.relists = 0
        """Full lists after the first (each one answers a 410 Gone)."""
        self.synced = threading.Event()
        self._items: dict[str, Obj] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._response: BaseHTTPResponse | None = None
        self._thread: threading.Thread | None = None

    # -- reading -----------------------------------------------------------------------------
    def snapshot(self) -> list[Obj]:
        with self._lock:
            return list(self._items.values())

    def _matches(self, obj: Obj) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(labels.get(k) == v for k, v in self.selector.items())

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tirui-kube-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        shutdown(self._response)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        delay = 0.5
        relist = True
        while not self._stop.is_set():
            try:
                if relist:
                    self._relist()
                    relist = False
                self._watch_once()
                delay = 0.5  # the server ended the watch normally: resume at once
            except _Gone:
                relist = True
                self.relists += 1
            except Exception as exc:
                if self._stop.is_set():
                    break
                if getattr(exc, "status", None) == 410:  # Gone as an HTTP status, not an event
                    relist = True
                    self.relists += 1
                    continue
                if is_idle_timeout(exc):  # nothing happened for a while: re-open quietly
                    continue
                self.error = self.explain(exc)
                self.reconnects += 1
                self.on_change()
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)

    # -- protocol ----------------------------------------------------------------------------
    def _label_selector(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.selector.items())

    def _relist(self) -> None:
        raw = self.list_fn(
            self.namespace, label_selector=self._label_selector(), _preload_content=False, _request_timeout=10
        )
        data = json.loads(raw.data)
        items = {
            o["metadata"]["name"]: o for o in data.get("items", []) if self._matches(o) and "metadata" in o
        }
        with self._lock:
            self._items = items
        self.resource_version = str(data.get("metadata", {}).get("resourceVersion") or "")
        self.error = ""
        self.synced.set()
        self.on_change()

    def _watch_once(self) -> None:
        response = self.list_fn(
            self.namespace,
            label_selector=self._label_selector(),
            watch=True,
            allow_watch_bookmarks=True,
            resource_version=self.resource_version or None,
            _preload_content=False,
            _request_timeout=(10, self.idle_timeout),
        )
        self._response = response
        if self.error:
            self.error = ""
            self.on_change()
        try:
            with contextlib.closing(stream_lines(response, self._stop)) as lines:
                for line in lines:
                    if line.strip():
                        self._event(json.loads(line))
        finally:
            self._response = None

    def _event(self, event: Obj) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise _Gone()
            raise ConnectionError(f"watch error {obj.get('code')}: {obj.get('message', '')}")
        meta = obj.get("metadata", {})
        if meta.get("resourceVersion"):
            self.resource_version = str(meta["resourceVersion"])
        if kind == "BOOKMARK" or not meta.get("name"):
            return
        name = meta["name"]
        with self._lock:
            if kind == "DELETED" or not self._matches(obj):
                changed = self._items.pop(name, None) is not None
            else:
                changed = self._items.get(name) != obj
                self._items[name] = obj
        if changed:
            self.on_change()


def stream_lines(response: BaseHTTPResponse, stop: threading.Event) -> Generator[bytes, None, None]:
    """The complete lines of a streamed API response (watch events, a followed log) as they
    arrive, until it ends or ``stop`` is set; the connection is released either way."""
    try:
        pending = b""
        for chunk in response.stream(amt=None, decode_content=False):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            yield from lines
            if stop.is_set():
                return
    finally:
        response.release_conn()


def shutdown(response: BaseHTTPResponse | None) -> None:
    """Unblock a thread reading a streamed response (urllib3 >= 2.3); best effort."""
    if response is not None:
        with contextlib.suppress(Exception):
            response.shutdown()


def is_idle_timeout(exc: Exception) -> bool:
    from urllib3.exceptions import ProtocolError, ReadTimeoutError

    if isinstance(exc, ReadTimeoutError):
        return True
    return isinstance(exc, ProtocolError) and "timed out" in str(exc)
