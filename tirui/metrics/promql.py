"""Read a deployment's TorchServe metrics from a Prometheus server instead of the pods themselves.

One instant query per round, ``{namespace="ns", pod=~"pod-a|pod-b|…"}``, gives every series
Prometheus last scraped from each pod (:class:`PodBatch` shares it between the pods' sources).
Each pod's part becomes the same :class:`Snapshot` a direct scrape gives, so rates, counter resets
and percentiles work unchanged. Metric types come from ``/api/v1/metadata`` (cached), since an
instant query does not carry them.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from tirui.metrics.scrape import ScrapeError, Snapshot

TARGET_LABELS = frozenset(
    {"__name__", "namespace", "pod", "instance", "job", "container", "endpoint", "service"}
)
"""Labels Prometheus adds for the scrape target; dropped so series match a direct scrape."""


class PrometheusSource:
    """A Prometheus HTTP API client for per-pod snapshots (blocking: run it in a thread)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 2.0,
        headers: dict[str, str] | None = None,
        verify: bool | str = True,
    ) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.client = httpx.Client(headers=headers or {}, verify=verify, timeout=timeout)
        self._types: dict[str, str] = {}
        self._types_at = 0.0
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def get(self, path: str, params: dict[str, str]) -> Any:
        """One API call's ``data`` (ScrapeError with a sentence when it fails)."""
        return self._get(path, params)

    def _get(self, path: str, params: dict[str, str]) -> Any:
        import httpx

        url = f"{self.base_url}{path}"
        try:
            r = self.client.get(url, params=params)
        except httpx.TimeoutException:
            raise ScrapeError(f"Prometheus {self.base_url}: no answer within {self.timeout:.0f}s") from None
        except httpx.HTTPError as exc:
            raise ScrapeError(f"Prometheus {self.base_url}: {exc or type(exc).__name__}") from None
        try:
            body = r.json()
        except ValueError:
            raise ScrapeError(
                f"Prometheus {url}: HTTP {r.status_code}, not a Prometheus API answer"
            ) from None
        if r.status_code != 200 or body.get("status") != "success":
            raise ScrapeError(f"Prometheus {url}: HTTP {r.status_code} {body.get('error', '')}".rstrip())
        return body.get("data")

    def types(self) -> dict[str, str]:
        """Metric family → type, refreshed at most once a minute; empty if metadata is unavailable."""
        with self._lock:
            if time.monotonic() - self._types_at > 60 or not self._types:
                self._types_at = time.monotonic()
                try:
                    data = self._get("/api/v1/metadata", {}) or {}
                    self._types = {
                        name: (entries or [{}])[0].get("type", "") for name, entries in data.items()
                    }
                except ScrapeError:
                    pass
            return self._types

    def snapshot(self, namespace: str, pod: str) -> Snapshot:
        """Everything Prometheus last scraped from ``pod``; ScrapeError when it has nothing."""
        snap = self.snapshots(namespace, [pod]).get(pod)
        if snap is None:
            raise ScrapeError(f"Prometheus has no series for pod {pod} (is it scraped?)")
        return snap

    def snapshots(self, namespace: str, pods: list[str]) -> dict[str, Snapshot]:
        """One query for every pod in ``pods``: pod → its snapshot (pods without series absent)."""
        # Pod names are DNS names ([a-z0-9.-]): only '.' needs escaping in the regex, and the
        # backslash itself in the PromQL string literal
        names = "|".join(p.replace(".", "\\\\.") for p in pods)
        query = f'{{namespace="{namespace}",pod=~"{names}"}}'
        data = self._get("/api/v1/query", {"query": query}) or {}
        types = self.types() if data.get("result") else {}
        now = time.time()
        out: dict[str, Snapshot] = {}
        for item in data.get("result", []):
            metric, value = item.get("metric", {}), item.get("value", [0, "NaN"])
            pod = metric.get("pod", "")
            if pod not in pods:
                continue
            snap = out.setdefault(pod, Snapshot(now))
            name = metric.get("__name__", "")
            labels = tuple(sorted((k, v) for k, v in metric.items() if k not in TARGET_LABELS))
            try:
                snap.values[(name, labels)] = float(value[1])
            except (TypeError, ValueError, IndexError):
                continue
            family = name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
            if family in types:
                snap.types[family] = types[family]
            elif name in types:
                snap.types[name] = types[name]
        return out


class PodBatch:
    """The pods of one deployment read from Prometheus with one query a round: the first
    :meth:`get` of a round queries for all of them, the others take their part (a round is
    shorter than the collector's 1 s tick)."""

    ROUND = 0.5

    def __init__(self, source: PrometheusSource, namespace: str, pods: list[str]) -> None:
        self.source, self.namespace, self.pods = source, namespace, pods
        self._lock = threading.Lock()
        self._at = 0.0
        self._result: dict[str, Snapshot] = {}
        self._error: ScrapeError | None = None

    def get(self, pod: str) -> Snapshot:
        with self._lock:
            if time.monotonic() - self._at > self.ROUND:
                self._at = time.monotonic()
                try:
                    self._result, self._error = self.source.snapshots(self.namespace, self.pods), None
                except ScrapeError as exc:
                    self._result, self._error = {}, exc
            if self._error is not None:
                raise self._error
            snap = self._result.get(pod)
        if snap is None:
            raise ScrapeError(f"Prometheus has no series for pod {pod} (is it scraped?)")
        return snap
