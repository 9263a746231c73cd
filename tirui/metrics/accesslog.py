"""TorchServe's access log: one line per request whose last field is its latency in ms.

``2026-11-24T06:23:18,190 - /127.0.0.1:47064 "POST /predictions/tiny HTTP/1.1" 200 3`` (the file)
or ``... ACCESS_LOG - /127.0.0.1:44376 "POST /predictions/tiny HTTP/1.1" 200 3`` (stdout, pod log).
gRPC calls are logged too, with the method ``gRPC``, the full method name as path and the gRPC
status code (0 = OK) where HTTP has its status:
``"gRPC org.pytorch.serve.grpc.inference.InferenceAPIsService/Predictions HTTP/2.0" 0 12``.
:class:`LogTail` follows a growing file (and survives truncation/rotation) without rereading it.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

LINE = re.compile(
    r'"(?P<method>[A-Z]+|gRPC) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{1,3}) (?P<ms>\d+(?:\.\d+)?)\s*$'
)
STAMP = re.compile(r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:,(?P<ms>\d{3}))?")
INFERENCE_PATHS = ("/predictions/", "/explanations/", "/v1/models/", "/v2/models/")
GRPC_INFERENCE = (
    "org.pytorch.serve.grpc.inference.InferenceAPIsService/Predictions",
    "org.pytorch.serve.grpc.inference.InferenceAPIsService/StreamPredictions",
    "org.pytorch.serve.grpc.inference.InferenceAPIsService/StreamPredictions2",
)
GRPC_CODES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)
"""gRPC status codes by number (grpc.StatusCode, without importing grpc here)."""
GRPC_CLIENT_ERRORS = {3, 5, 6, 7, 9, 11, 16}
"""Codes that mean the caller's mistake (counted with HTTP 4xx); every other non-zero one is 5xx."""


@dataclass(frozen=True)
class AccessEntry:
    at: float
    method: str
    path: str
    status: int
    latency_ms: float

    @property
    def protocol(self) -> str:
        return "grpc" if self.method == "gRPC" else "http"

    @property
    def inference(self) -> bool:
        """A prediction/explanation (REST or gRPC), not a probe, scrape or management call."""
        if self.method == "gRPC":
            return self.path in GRPC_INFERENCE
        return self.path.startswith(INFERENCE_PATHS)

    @property
    def status_class(self) -> str:
        """``2xx``/``4xx``/``5xx`` (gRPC: OK, a client error such as NOT_FOUND, anything else)."""
        if self.method == "gRPC":
            if self.status == 0:
                return "2xx"
            return "4xx" if self.status in GRPC_CLIENT_ERRORS else "5xx"
        return f"{min(max(self.status // 100, 2), 5)}xx"

    @property
    def error(self) -> bool:
        return self.status_class != "2xx"

    @property
    def status_name(self) -> str:
        """``200`` or the gRPC code's name (``OK``, ``UNAVAILABLE``...)."""
        if self.method == "gRPC":
            return GRPC_CODES[self.status] if 0 <= self.status < len(GRPC_CODES) else str(self.status)
        return str(self.status)


@functools.lru_cache(maxsize=256)
def _stamp_seconds(text: str) -> float | None:
    """A log stamp's second (local time) as epoch seconds; cached, since a busy log writes many
    lines per second and strptime is most of a line's parsing cost."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").timestamp()
    except ValueError:
        return None


def parse_line(line: str, default_at: float | None = None, *, use_stamp: bool = True) -> AccessEntry | None:
    """One access-log line, or None for lines in any other format. ``use_stamp=False`` dates the
    entry ``default_at`` even when the line has its own (local-time, pod-timezone) stamp."""
    m = LINE.search(line)
    if m is None:
        return None
    at = default_at if default_at is not None else time.time()
    stamp = STAMP.match(line) if use_stamp else None
    if stamp:
        second = _stamp_seconds(stamp.group("ts"))
        if second is not None:
            at = second + int(stamp.group("ms") or 0) / 1000
    return AccessEntry(at, m.group("method"), m.group("path"), int(m.group("status")), float(m.group("ms")))


def parse_lines(
    lines: Iterable[tuple[float | None, str]], *, use_stamp: bool = True
) -> tuple[list[AccessEntry], int]:
    """(entries, count of lines in another format) of ``(default time, line)`` pairs."""
    out: list[AccessEntry] = []
    bad = 0
    for at, line in lines:
        entry = parse_line(line, at, use_stamp=use_stamp)
        if entry is None:
            bad += 1
        else:
            out.append(entry)
    return out, bad


class LogSource(Protocol):
    """Where a replica's access-log entries come from (a file tail, a pod-log follower)."""

    def entries(self) -> list[AccessEntry]: ...

    def close(self) -> None: ...


class LogTail:
    """New complete lines of a file since the last call; starts at the end unless ``from_start``."""

    def __init__(
        self, path: Path, *, from_start: bool = False, backfill: int = 0, max_bytes: int = 4 << 20
    ) -> None:
        """``backfill``: also read up to that many bytes of recent history (whole lines only)."""
        self.path = path
        self.max_bytes = max_bytes
        size = self._size()
        self._offset = 0 if from_start else max(0, size - backfill)
        self._skip_partial = not from_start and self._offset > 0 and backfill > 0
        self._partial = b""
        self.unparsed = 0

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def read_lines(self) -> list[str]:
        size = self._size()
        if size < self._offset:  # truncated or rotated: start over
            self._offset, self._partial = 0, b""
        if size == self._offset:
            return []
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = f.read(min(size - self._offset, self.max_bytes))
        except OSError:
            return []
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        if self._skip_partial and lines:  # backfill started mid-line
            lines = lines[1:]
            self._skip_partial = False
        return [line.decode("utf-8", "replace") for line in lines if line]

    def entries(self) -> list[AccessEntry]:
        out, bad = parse_lines((None, line) for line in self.read_lines())
        self.unparsed += bad
        return out

    def close(self) -> None:
        """Nothing to release: every read opens and closes the file."""


class PushedLog:
    """Lines pushed by another thread (a pod-log follower) with the time the pod logged them.

    Bounded: if nobody reads for a long time the oldest lines are dropped, never memory grown.
    """

    def __init__(self, close: Callable[[], None] = lambda: None, max_lines: int = 100_000) -> None:
        self._lines: deque[tuple[float, str]] = deque(maxlen=max_lines)
        self._lock = threading.Lock()
        self.on_close = close
        """Called by :meth:`close` (stops the follower feeding this log)."""
        self.unparsed = 0

    def push(self, source: str, at: float, text: str) -> None:
        with self._lock:
            self._lines.append((at, text))

    def entries(self) -> list[AccessEntry]:
        with self._lock:
            lines, self._lines = list(self._lines), deque(maxlen=self._lines.maxlen)
        # the pod log also carries TorchServe's other logs; the kubelet's stamp dates each line
        out, bad = parse_lines(((at, text) for at, text in lines if "ACCESS_LOG" in text), use_stamp=False)
        self.unparsed += bad
        return out

    def close(self) -> None:
        self.on_close()
