"""The reading side of the Kubernetes runtime: statuses (watch-backed once :meth:`watch` runs),
events, the YAML of what was applied, pod logs, metrics sources and request targets.

All calls block (HTTP to the API server); the TUI runs them in threads. Raw JSON throughout, so
odd or partial objects never trip the client's typed models.
"""

from __future__ import annotations

import builtins
import functools
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tirui.canary.state import CANARY_SUFFIX
from tirui.cluster.kube.api import KubeApi
from tirui.cluster.kube.describe import PodSettings
from tirui.cluster.kube.errors import explain
from tirui.cluster.kube.logs import DeploymentLogs, PodLog
from tirui.cluster.kube.status import (
    canary_status_of,
    deployment_status,
    ingress_endpoint,
    ingress_hosts,
    labels,
    timestamp,
)
from tirui.cluster.kube.watch import ListWatch
from tirui.cluster.manifests.canary import CANARY_OF
from tirui.cluster.manifests.objects import DEPLOYMENT_LABEL, MANAGED_BY, METRICS_PORT
from tirui.cluster.runtime import DeploymentStatus
from tirui.core.errors import DeploymentNotFound

if TYPE_CHECKING:
    from tirui.config import Profile
    from tirui.metrics.accesslog import PushedLog
    from tirui.metrics.collector import ReplicaSource
    from tirui.metrics.promql import PrometheusSource
    from tirui.metrics.scrape import Snapshot
    from tirui.secrets import TokenStore
    from tirui.torchserve.target import Target

Obj = dict[str, Any]
MANAGED = {MANAGED_BY: "tirui"}
WATCHED = ("Deployment", "Pod", "Ingress", "HorizontalPodAutoscaler")
YAML_KINDS = (
    "Deployment",
    "Service",
    "Ingress",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "PersistentVolumeClaim",
    "ConfigMap",
    "Secret",
)
"""Kinds shown by ``y`` (items of a list response carry neither kind nor version: the version is
the one the server serves, from discovery)."""


def _explain(exc: Exception) -> str:
    return str(explain(exc, "watching"))


class KubeReads:
    """Everything the Kubernetes runtime reads, in one namespace: the watch-backed statuses,
    events, YAML, logs, metrics sources and request targets."""

    def __init__(
        self,
        api: KubeApi,
        profile: Profile,
        tokens: TokenStore | None,
        prometheus: PrometheusSource | None = None,
    ) -> None:
        """``prometheus``: read pod metrics from there instead of the API server's pod proxy."""
        self.api = api
        self.namespace = api.namespace
        self.profile = profile
        self.tokens = tokens
        self.prometheus = prometheus
        self.pod_settings = PodSettings(api.core, api.namespace, token_of=self.stored_token)
        self.watches: dict[str, ListWatch] = {}
        self._subscribers: builtins.list[Callable[[], None]] = []

    # -- the watch-backed model --------------------------------------------------------------
    def watch(self, on_change: Callable[[], None]) -> None:
        """Keep Deployments, Pods and Ingresses current by watches; ``on_change()`` is called from
        watch threads after every change (and when a watch disconnects or reconnects)."""
        self._subscribers.append(on_change)
        if self.watches:
            return
        lists = {kind: self.api.pods.list if kind == "Pod" else self.api.kinds[kind].list for kind in WATCHED}
        for kind in WATCHED:
            self.watches[kind] = ListWatch(
                lists[kind], self.namespace, MANAGED, self._changed, explain=_explain
            )
            self.watches[kind].start()

    def _changed(self) -> None:
        for callback in builtins.list(self._subscribers):
            callback()

    def watching(self) -> bool:
        return bool(self.watches) and all(w.synced.is_set() for w in self.watches.values())

    def watch_problem(self) -> str:
        """Why the live view may be stale ("" when every watch is connected)."""
        for kind, w in self.watches.items():
            if w.error:
                where = f" at resourceVersion {w.resource_version}" if w.resource_version else ""
                return f"{kind} watch disconnected ({w.error}); reconnecting to resume{where}"
        return ""

    def shutdown(self, *, keep_running: bool = True) -> None:
        """Stop the watches (deployments on a cluster always keep running)."""
        for w in self.watches.values():
            w.stop()
        self.watches.clear()
        self._subscribers.clear()
        if self.prometheus is not None:
            self.prometheus.close()

    def _objects(self, kind: str, selector: dict[str, str]) -> builtins.list[Obj]:
        if kind in self.watches and self.watching():
            return [
                o
                for o in self.watches[kind].snapshot()
                if all(labels(o).get(k) == v for k, v in selector.items())
            ]
        return self.api.list(kind, selector)

    # -- statuses ----------------------------------------------------------------------------
    def list(self) -> builtins.list[DeploymentStatus]:
        deployments = self._objects("Deployment", MANAGED)
        pods = self._objects("Pod", MANAGED)
        ingresses = self._objects("Ingress", MANAGED)
        hpas = self._objects("HorizontalPodAutoscaler", MANAGED)
        canaries = {labels(d)[CANARY_OF]: d for d in deployments if CANARY_OF in labels(d)}
        rows = []
        for d in sorted(deployments, key=lambda d: d["metadata"]["name"]):
            if CANARY_OF in labels(d):
                continue  # shown with its stable deployment
            name = d["metadata"]["name"]
            row = deployment_status(d, pods, ingress_endpoint(name, self.namespace, ingresses), hpas)
            row.canary = canary_status_of(canaries.get(name))
            self.pod_settings.fill(row)
            rows.append(row)
        return rows

    def managed(self, name: str) -> Obj:
        dep = self.api.get("Deployment", name)
        if dep is None or labels(dep).get(MANAGED_BY) != "tirui":
            raise DeploymentNotFound(f"no tirui deployment named {name!r} in {self.namespace}")
        return dep

    def get(self, name: str) -> DeploymentStatus:
        dep = self.managed(name)
        ingresses = self.api.list("Ingress", {DEPLOYMENT_LABEL: name})
        row = deployment_status(
            dep,
            self.api.list("Pod", {DEPLOYMENT_LABEL: name}),
            ingress_endpoint(name, self.namespace, ingresses),
            self.api.list("HorizontalPodAutoscaler", {DEPLOYMENT_LABEL: name}),
        )
        row.canary = canary_status_of(self.api.get("Deployment", name + CANARY_SUFFIX))
        self.pod_settings.fill(row)
        return row

    def pod_names(self, name: str, *, running: bool = False) -> builtins.list[str]:
        pods = self._objects("Pod", {DEPLOYMENT_LABEL: name})
        if running:
            pods = [p for p in pods if p.get("status", {}).get("phase") == "Running"]
        return sorted(p["metadata"]["name"] for p in pods)

    # -- events, YAML, logs ------------------------------------------------------------------
    def events(self, name: str) -> builtins.list[tuple[float, str]]:
        """Events of the deployment's objects, its ReplicaSets and pods, oldest first."""
        try:
            raw = self.api.core.list_namespaced_event(
                self.namespace, _preload_content=False, _request_timeout=self.api.timeout
            )
        except Exception as exc:
            raise explain(exc, f"listing events in {self.namespace}") from None
        own = re.compile(
            rf"^{re.escape(name)}(-grpc|-model-store|-config|-tokens|-storage|-[a-z0-9]{{5,10}}(-[a-z0-9]{{5}})?)?$"
        )
        pods = set(self.pod_names(name))
        out = []
        for e in json.loads(raw.data).get("items", []):
            obj = e.get("involvedObject", {})
            if not (own.match(obj.get("name", "")) or obj.get("name") in pods):
                continue
            at = timestamp(
                e.get("lastTimestamp") or e.get("eventTime") or e.get("metadata", {}).get("creationTimestamp")
            )
            count = int(e.get("count") or 1)
            what = f"{obj.get('kind', '?')}/{obj.get('name', '?')}"
            text = f"{e.get('type', 'Normal')} {e.get('reason', '')} {what}: {e.get('message', '').strip()}"
            out.append((at, text + (f" (x{count})" if count > 1 else "")))
        return sorted(out)

    def config_text(self, name: str) -> str:
        """The YAML of every object tirui applied for ``name``, as the cluster has it now.
        Secret values are never shown (``tirui deploy --render --show-secrets`` prints them)."""
        import yaml

        self.managed(name)
        docs = []
        versions = self.api.versions()
        for kind in YAML_KINDS:
            api_version = versions.of(kind)
            for item in self.api.list(kind, {MANAGED_BY: "tirui", DEPLOYMENT_LABEL: name}):
                obj = {"apiVersion": api_version, "kind": kind, **item}
                obj.get("metadata", {}).pop("managedFields", None)
                for field in ("data", "stringData"):
                    if isinstance(obj.get(field), dict) and kind == "Secret":
                        obj[field] = {k: "<redacted>" for k in obj[field]}
                docs.append(obj)
        return yaml.safe_dump_all(docs, sort_keys=False)

    def logs(self, name: str, lines: int = 200) -> builtins.list[str]:
        """The last ``lines`` of every pod's TorchServe log (``tirui logs``-style snapshot)."""
        out: builtins.list[str] = []
        for pod in self.pod_names(name):
            try:
                text = self.api.core.read_namespaced_pod_log(
                    pod,
                    self.namespace,
                    container="torchserve",
                    tail_lines=lines,
                    _preload_content=False,
                    _request_timeout=self.api.timeout,
                ).data.decode("utf-8", "replace")
            except Exception as exc:
                out.append(f"[{pod}] {explain(exc, 'reading the log')}")
                continue
            out += [f"[{pod}] {line}" for line in text.splitlines()]
        return out[-lines:]

    def follow_logs(self, name: str) -> DeploymentLogs:
        """A follower of every pod's TorchServe log; ``close()`` it when done."""
        return DeploymentLogs(
            self.api.core,
            self.namespace,
            functools.partial(self.pod_names, name),
            explain=lambda exc: str(explain(exc, "following the log")),
        )

    # -- metrics -----------------------------------------------------------------------------
    def scrape_pod(self, pod: str) -> Snapshot:
        """The pod's TorchServe metrics through the API server's pod proxy."""

        from tirui.metrics.scrape import ScrapeError, parse

        try:
            r = self.api.core.connect_get_namespaced_pod_proxy_with_path(
                f"{pod}:{METRICS_PORT}",
                self.namespace,
                "metrics",
                _preload_content=False,
                _request_timeout=2.0,
            )
        except Exception as exc:
            raise ScrapeError(str(explain(exc, f"{pod} (pod proxy)"))) from None
        return parse(r.data.decode("utf-8", "replace"))

    def access_log(self, pod: str, tail_lines: int = 2000) -> PushedLog:

        from tirui.metrics.accesslog import PushedLog

        log = PushedLog()
        follower = PodLog(
            self.api.core,
            self.namespace,
            pod,
            log.push,
            tail_lines=tail_lines,
            explain=lambda exc: str(explain(exc, f"{pod} log")),
        ).start()
        log.on_close = follower.stop
        return log

    def metrics_sources(self, name: str) -> builtins.list[ReplicaSource]:
        """Every running pod: metrics via the pod proxy (or Prometheus: one query a round for all
        pods), latencies via its log."""
        from tirui.metrics.collector import ReplicaSource
        from tirui.metrics.promql import PodBatch

        out = []
        pods = self.pod_names(name, running=True)
        batch = PodBatch(self.prometheus, self.namespace, pods) if self.prometheus is not None else None
        for pod in pods:
            if self.prometheus is not None and batch is not None:
                fetch = functools.partial(batch.get, pod)
                where = f"{self.prometheus.base_url} pod={pod}"
            else:
                fetch = functools.partial(self.scrape_pod, pod)
                where = f"pods/{pod}:{METRICS_PORT}/proxy/metrics"
            log = functools.partial(self.access_log, pod)
            out.append(
                ReplicaSource(pod, where, fetch=fetch, open_log=log, api_bound=self.prometheus is None)
            )
        return out

    # -- requests ----------------------------------------------------------------------------
    def stored_token(self, name: str) -> str | None:
        """The deployment's token from the token store (None without one, or without a store)."""
        from tirui.cluster.credentials import token_ref
        from tirui.secrets import SecretStoreError

        if self.tokens is None or not self.tokens.available:
            return None
        try:
            return self.tokens.get(token_ref(self.profile.name, name))
        except SecretStoreError:
            return None

    def target(self, name: str) -> Target:
        """REST and gRPC endpoints of ``name`` (Ingress hosts over TLS, else the in-cluster
        Service) with its token from the keyring."""
        from tirui.cluster.credentials import token_ref
        from tirui.torchserve.grpc import GrpcEndpoint
        from tirui.torchserve.http import Endpoint
        from tirui.torchserve.target import Target

        self.managed(name)
        hosts = ingress_hosts(self.api.list("Ingress", {DEPLOYMENT_LABEL: name}))
        ref = token_ref(self.profile.name, name)
        token = self.stored_token(name)
        source = (
            ref.key if token else f"no token {ref.key} in the token store (auth off, or deployed elsewhere)"
        )
        if name in hosts:
            base = f"https://{hosts[name]}"
            grpc = f"{hosts.get(f'{name}-grpc', 'grpc-' + hosts[name])}:443"
            return Target(
                name,
                Endpoint(base, base, token, token),
                GrpcEndpoint(grpc, grpc, token, token, tls=True),
                token_source=source,
            )
        svc = f"{name}.{self.namespace}.svc"
        return Target(
            name,
            Endpoint(f"http://{svc}:8080", f"http://{svc}:8081", token, token),
            GrpcEndpoint(f"{svc}:7070", f"{svc}:7071", token, token),
            token_source=source + " (Service address: reachable from inside the cluster)",
        )
