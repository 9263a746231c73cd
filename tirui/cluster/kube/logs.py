"""Following pod logs (``follow=true&timestamps=true``) in threads, for the log viewer and for the
access-log percentiles of the Metrics screen.

Each line's Kubernetes timestamp is kept: it dates access-log entries in the pod's own clock (UTC)
and lets a follower that lost its stream (container restart, API hiccup) resume with
``sinceSeconds`` and drop the lines it already had.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

from tirui.cluster.kube.watch import is_idle_timeout, shutdown, stream_lines
from tirui.cluster.log_buffer import LineBuffer

Sink = Callable[[str, float, str], None]
"""(pod, timestamp, line without the Kubernetes timestamp)."""


def split_stamp(line: str) -> tuple[float, str]:
    """``2026-11-24T06:23:18.190123456Z text`` → (epoch seconds, ``text``); no stamp → (now, line)."""
    head, sep, rest = line.partition(" ")
    if sep and head.endswith("Z") and "T" in head:
        whole, _, frac = head[:-1].partition(".")
        try:
            at = dt.datetime.fromisoformat(whole).replace(tzinfo=dt.UTC).timestamp()
        except ValueError:
            return time.time(), line
        return at + (float(f"0.{frac[:9]}") if frac.isdigit() else 0.0), rest
    return time.time(), line


class PodLog:
    """One container's log, streamed into ``sink`` until :meth:`stop`."""

    def __init__(
        self,
        core: Any,
        namespace: str,
        pod: str,
        sink: Sink,
        *,
        container: str = "torchserve",
        tail_lines: int = 200,
        explain: Callable[[Exception], str] = str,
    ) -> None:
        self.core, self.namespace, self.pod, self.sink = core, namespace, pod, sink
        self.container = container
        self.tail_lines = tail_lines
        self.explain = explain
        self.idle_timeout = 300.0
        """Seconds without a line before the stream is re-opened (resuming after the last line)."""
        self.error = ""
        self.last_at = 0.0
        self._at_last = 0
        """Lines delivered at ``last_at``."""
        self._replayed = 0
        """Of those, how many a re-opened stream has replayed (skipped) so far."""
        self._stop = threading.Event()
        self._response: Any = None
        self._thread = threading.Thread(target=self._run, name=f"tirui-log-{pod}", daemon=True)

    def start(self) -> PodLog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        shutdown(self._response)

    def _run(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                self._follow_once()
                delay = 1.0
            except Exception as exc:
                if self._stop.is_set():
                    return
                if is_idle_timeout(exc):  # a quiet container: re-open from the last line
                    continue
                self.error = self.explain(exc)
                delay = min(delay * 2, 10.0)
            self._stop.wait(delay)  # stream ended: the container stopped or the pod is going away

    def _follow_once(self) -> None:
        extra: dict[str, Any] = {"tail_lines": self.tail_lines}
        if self.last_at:
            extra = {"since_seconds": max(1, int(time.time() - self.last_at) + 2)}
            self._reopened()
        response = self.core.read_namespaced_pod_log(
            self.pod,
            self.namespace,
            container=self.container,
            follow=True,
            timestamps=True,
            _preload_content=False,
            _request_timeout=(10, self.idle_timeout),
            **extra,
        )
        self._response = response
        self.error = ""
        try:
            with contextlib.closing(stream_lines(response, self._stop)) as lines:
                for raw in lines:
                    self._line(raw.decode("utf-8", "replace").rstrip("\r"))
        finally:
            self._response = None

    def _line(self, raw: str) -> None:
        """Deliver one stamped line, unless a re-opened stream replays it. Several lines can carry
        one stamp (a burst within the stamp's resolution, or of a float's: epoch seconds hold
        about 0.2 µs), so the lines delivered at the last stamp are counted, and a re-opened
        stream skips that many at that stamp instead of every line at it."""
        if not raw:
            return
        at, text = split_stamp(raw)
        if at < self.last_at:  # delivered before the stream was re-opened
            return
        if at == self.last_at:
            if self._replayed < self._at_last:
                self._replayed += 1
                return
            self._at_last += 1
        else:
            self.last_at, self._at_last = at, 1
        self._replayed = self._at_last  # past the replay: what comes now is new
        self.sink(self.pod, at, text)

    def _reopened(self) -> None:
        """A new stream (``sinceSeconds``) starts before the last line: replay from the top."""
        self._replayed = 0


class DeploymentLogs(LineBuffer):
    """The merged, bounded log of every pod of a deployment, following pods as they come and go."""

    def __init__(
        self,
        core: Any,
        namespace: str,
        pods: Callable[[], list[str]],
        *,
        keep: int = 5000,
        explain: Callable[[Exception], str] = str,
    ) -> None:
        super().__init__(keep)
        self.core, self.namespace, self.pods = core, namespace, pods
        self.explain = explain
        self._followers: dict[str, PodLog] = {}
        self._checked = 0.0

    def _sink(self, pod: str, at: float, text: str) -> None:
        with self._lock:
            self._keep([f"[{pod}] {text}"])

    def lines(self) -> list[str]:
        """Everything followed so far; re-checks the pod list every few seconds. Blocking."""
        if time.monotonic() - self._checked > 3:
            self._checked = time.monotonic()
            current = set(self.pods())
            for pod in current - set(self._followers):
                self._followers[pod] = PodLog(
                    self.core, self.namespace, pod, self._sink, explain=self.explain
                ).start()
            for pod in set(self._followers) - current:
                self._followers.pop(pod).stop()
            if not current:
                return ["(no pods: the deployment is scaled to zero or its pods are not created yet)"]
        with self._lock:
            out = list(self._lines)
        out += [f"[{p}] ({f.error})" for p, f in self._followers.items() if f.error]
        return out

    def close(self) -> None:
        for follower in self._followers.values():
            follower.stop()
        self._followers.clear()
