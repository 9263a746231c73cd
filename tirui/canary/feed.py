"""Each side's access-log entries as they arrive: the input of the canary analysis and of the
Metrics screen's stable-vs-canary table.

Locally both versions run in one TorchServe: a request to ``/predictions/<model>/<version>`` of
the canary's version is the canary's, every other inference request the stable side's. TorchServe
logs gRPC calls without the model or version, so locally gRPC requests cannot be attributed and
are counted apart (:attr:`VersionSplitFeed.unattributed`). On Kubernetes each side has its own
pods, so every request (REST and gRPC) is attributed by the pod that logged it
(:class:`PodGroupFeed`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from tirui.metrics.accesslog import AccessEntry, LogSource

Entries = list[AccessEntry]


class SideFeed(Protocol):
    def take(self) -> tuple[Entries, Entries]:
        """Inference entries logged since the last call: (stable, canary)."""
        ...

    def close(self) -> None: ...


def is_version_path(path: str, version: str) -> bool:
    """``/predictions/m/2.0``, ``/explanations/m/2.0``, ``/v2/models/m/versions/2.0/infer``,
    ``/v1/models/m/versions/2.0:predict``: a request for that version of the model."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    return any(p == version or p.startswith(version + ":") for p in parts[2:])


class VersionSplitFeed:
    """One TorchServe's access log, split by the version in the request path."""

    def __init__(self, log: LogSource, canary_version: str) -> None:
        self.log = log
        self.canary_version = canary_version
        self.unattributed = 0
        """gRPC inference calls seen (TorchServe's access log does not name their version)."""

    def take(self) -> tuple[Entries, Entries]:
        stable: Entries = []
        canary: Entries = []
        for e in self.log.entries():
            if not e.inference:
                continue
            if e.protocol == "grpc":
                self.unattributed += 1
            elif is_version_path(e.path, self.canary_version):
                canary.append(e)
            else:
                stable.append(e)
        return stable, canary

    def close(self) -> None:
        self.log.close()


Openers = Callable[[], dict[str, Callable[[], LogSource]]]
"""The pods of one side now, each with a function that starts following its access log."""


class PodGroupFeed:
    """The access logs of two groups of pods; pods that come and go are followed and dropped."""

    def __init__(self, stable: Openers, canary: Openers, *, refresh_s: float = 5.0) -> None:
        self._groups = (stable, canary)
        self._logs: tuple[dict[str, LogSource], dict[str, LogSource]] = ({}, {})
        self.refresh_s = refresh_s
        self._refreshed = 0.0

    def _refresh(self) -> None:
        for openers, logs in zip(self._groups, self._logs, strict=True):
            pods = openers()
            for gone in set(logs) - set(pods):
                logs.pop(gone).close()
            for pod, open_log in pods.items():
                if pod not in logs:
                    logs[pod] = open_log()
        self._refreshed = time.monotonic()

    def take(self) -> tuple[Entries, Entries]:
        if time.monotonic() - self._refreshed >= self.refresh_s:
            self._refresh()
        stable, canary = (
            [e for log in logs.values() for e in log.entries() if e.inference] for logs in self._logs
        )
        return stable, canary

    def close(self) -> None:
        for logs in self._logs:
            for log in logs.values():
                log.close()
            logs.clear()
