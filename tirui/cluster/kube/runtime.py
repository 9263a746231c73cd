"""The Kubernetes runtime: apply tirui's manifests and read deployments back, over the official
client (blocking: callers run it in threads).

Every write is server-side apply with field manager ``tirui`` (the first create included, and
scale, autoscale and restart, which re-apply the Deployment from the spec stored on it), so a
re-deploy converges: what the new spec no longer has is removed from the objects, and objects
the new spec no longer has are pruned (the model-cache disk only when asked). A field another
manager owns (``kubectl edit``/``scale``) is a :class:`KubeConflict` naming who owns what;
``force`` takes it over. An existing object without tirui's label is never touched.

The runtime is a face over collaborators that share one :class:`~tirui.cluster.kube.api.KubeApi`:
:class:`~tirui.cluster.kube.reads.KubeReads` (statuses, watches, logs, metrics, targets),
:class:`~tirui.cluster.kube.apply.KubeWrites` (apply, preflight, prune),
:class:`~tirui.cluster.kube.deploys.KubeDeploys` (archive check, objects, converge),
:class:`~tirui.cluster.kube.ops.KubeOperations` (scale, autoscale, restart, rollback, delete) and
:class:`~tirui.cluster.kube.canary.KubeCanaries`. Each is built with what it uses, nothing more.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tirui.cluster.kube.api import KubeApi
from tirui.cluster.kube.apply import KubeWrites
from tirui.cluster.kube.canary import KubeCanaries
from tirui.cluster.kube.deploys import KubeDeploys
from tirui.cluster.kube.errors import KubeConflict, KubeError, explain
from tirui.cluster.kube.logs import DeploymentLogs
from tirui.cluster.kube.ops import KubeOperations
from tirui.cluster.kube.reads import KubeReads
from tirui.cluster.runtime import DEPLOY, ApplyResult, CanaryDelegation, DeploymentStatus, DeployOptions
from tirui.cluster.spec import DeploymentSpec
from tirui.config import Profile
from tirui.metrics.collector import ReplicaSource
from tirui.secrets import TokenStore
from tirui.torchserve.target import Target

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = ["ApplyResult", "KubeConflict", "KubeError", "KubeRuntime", "explain"]


class KubeRuntime(CanaryDelegation):
    """Deployments in one namespace of one cluster: :class:`~tirui.cluster.runtime.Runtime`
    with the Autoscalable, Watchable and Reachable capabilities."""

    scale_unit = "replica"
    scale_label = "Replicas"
    config_title = "YAML"
    stops_on_exit = False
    delete_note = (
        "Its Deployment, Service, Ingresses, autoscaler, disk, config and secrets "
        "(the objects labelled managed-by=tirui for it) are deleted from the cluster."
    )

    def __init__(
        self,
        api_client: ApiClient,
        namespace: str = "default",
        *,
        profile: Profile | None = None,
        tokens: TokenStore | None = None,
        prometheus_url: str = "",
        context: str = "",
    ) -> None:
        """``profile``: the one it serves (its object store is where deploys read archives; a
        bare one named ``kubernetes`` without); ``tokens``: where deployment tokens are kept
        and store credentials read;
        ``prometheus_url``: read metrics from that Prometheus instead of the pods' proxy;
        ``context``: the kube context's name, for the header."""
        from tirui.metrics.promql import PrometheusSource

        self.api = api_client
        self.namespace = namespace
        self.profile = profile or Profile(name="kubernetes")
        self.tokens = tokens
        self.context = context
        self.last_contact = 0.0
        self.contact_error = ""
        prometheus = PrometheusSource(prometheus_url) if prometheus_url else None
        self.calls = KubeApi(api_client, namespace)
        self.writes = KubeWrites(self.calls)
        self.reads = KubeReads(self.calls, self.profile, tokens, prometheus)
        self.deploys = KubeDeploys(self.calls, self.writes, self.reads, self.profile, tokens)
        self.ops = KubeOperations(self.calls, self.writes, self.reads, self.deploys)
        self.canaries = KubeCanaries(
            self.calls, self.writes, self.reads, self.ops, self.deploys, self.profile
        )
        CanaryDelegation.__init__(self, self.canaries)

    @classmethod
    def from_profile(cls, profile: Profile, tokens: TokenStore | None = None) -> KubeRuntime:
        """Client for the profile's kubeconfig and context; clear errors when they are missing."""
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException

        k = profile.kubernetes
        if cls._in_cluster(k.kubeconfig):
            return cls(
                cls._in_cluster_client(),
                k.namespace,
                profile=profile,
                tokens=tokens,
                prometheus_url=k.prometheus_url,
                context="in-cluster",
            )
        try:
            api = config.new_client_from_config(config_file=k.kubeconfig or None, context=k.context or None)  # type: ignore[no-untyped-call]
            context = k.context
            if not context:
                _, current = config.list_kube_config_contexts(config_file=k.kubeconfig or None)  # type: ignore[no-untyped-call]
                context = str((current or {}).get("name", ""))
        except (ConfigException, OSError) as exc:
            where = k.kubeconfig or "~/.kube/config ($KUBECONFIG)"
            raise KubeError(f"kube context {k.context or '(current)'} from {where}: {exc}") from None
        return cls(
            api,
            k.namespace,
            profile=profile,
            tokens=tokens,
            prometheus_url=k.prometheus_url,
            context=context,
        )

    @staticmethod
    def _in_cluster(kubeconfig: str) -> bool:
        """In a pod (the alert CronJob) with no kubeconfig anywhere: its ServiceAccount's token."""
        import os
        from pathlib import Path

        if kubeconfig or os.environ.get("KUBECONFIG") or (Path.home() / ".kube" / "config").exists():
            return False
        return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))

    @staticmethod
    def _in_cluster_client() -> Any:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        cfg = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        except ConfigException as exc:
            raise KubeError(f"in-cluster API access: {exc}") from None
        return client.ApiClient(cfg)

    # -- reads -------------------------------------------------------------------------------
    def list(self) -> builtins.list[DeploymentStatus]:
        return self.reads.list()

    def get(self, name: str) -> DeploymentStatus:
        return self.reads.get(name)

    def pod_names(self, name: str, *, running: bool = False) -> builtins.list[str]:
        return self.reads.pod_names(name, running=running)

    def logs(self, name: str, lines: int = 200) -> builtins.list[str]:
        return self.reads.logs(name, lines)

    def follow_logs(self, name: str) -> DeploymentLogs:
        return self.reads.follow_logs(name)

    def events(self, name: str) -> builtins.list[tuple[float, str]]:
        return self.reads.events(name)

    def config_text(self, name: str) -> str:
        return self.reads.config_text(name)

    def metrics_sources(self, name: str) -> builtins.list[ReplicaSource]:
        return self.reads.metrics_sources(name)

    def target(self, name: str) -> Target:
        return self.reads.target(name)

    # -- Watchable ---------------------------------------------------------------------------
    def watch(self, on_change: Callable[[], None]) -> None:
        self.reads.watch(on_change)

    def watching(self) -> bool:
        return self.reads.watching()

    def watch_problem(self) -> str:
        return self.reads.watch_problem()

    def quitting_stops(self) -> builtins.list[str]:
        return []  # deployments on a cluster outlive tirui

    def shutdown(self, *, keep_running: bool = True) -> None:
        """Stop the watches (deployments on a cluster always keep running)."""
        self.reads.shutdown(keep_running=keep_running)

    # -- deploy and operations ---------------------------------------------------------------
    def deploy(self, spec: DeploymentSpec, how: DeployOptions = DEPLOY) -> ApplyResult:
        return self.deploys.deploy(spec, how)

    def rollback(self, name: str) -> ApplyResult:
        return self.ops.rollback(name)

    def scale(self, name: str, count: int) -> None:
        self.ops.scale(name, count)

    def restart(self, name: str) -> None:
        self.ops.restart(name)

    def delete(self, name: str) -> None:
        self.ops.delete(name)

    # -- Autoscalable ------------------------------------------------------------------------
    def autoscale(
        self, name: str, min_replicas: int, max_replicas: int, metric: str = "cpu", target: str = "70"
    ) -> None:
        self.ops.autoscale(name, min_replicas, max_replicas, metric, target)

    def autoscale_warning(self, metric: str) -> str:
        return self.deploys.autoscale_warning(metric)

    # -- Reachable ---------------------------------------------------------------------------
    def ping(self) -> None:
        """One cheap request (``/version``, readable by every user); raises :class:`KubeError`."""
        try:
            from kubernetes import client

            client.VersionApi(self.api).get_code(_preload_content=False, _request_timeout=2.0)
        except Exception as exc:
            self.contact_error = str(explain(exc, "the API server"))
            raise KubeError(self.contact_error) from None
        self.last_contact, self.contact_error = time.time(), ""
