"""The Kubernetes runtime: apply tirui's manifests and read deployments back, over the official
client (blocking: callers run it in threads).

Every write is server-side apply with field manager ``tirui`` (the first create included, and
scale, autoscale and restart, which re-apply the Deployment from the spec stored on it), so a
re-deploy converges: what the new spec no longer has is removed from the objects, and objects
the new spec no longer has are pruned (the model-cache disk only when asked). A field another
manager owns (``kubectl edit``/``scale``) is a :class:`KubeConflict` naming who owns what;
``force`` takes it over. An existing object without tirui's label is never touched. Reads use
raw JSON (``_preload_content=False``) so odd or partial objects do not trip the typed models.
"""

from __future__ import annotations

import builtins
import functools
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tirui.cluster.kube.apply import KubeWrites
from tirui.cluster.kube.canary import KubeCanaries
from tirui.cluster.kube.describe import PodSettings
from tirui.cluster.kube.errors import KubeConflict, KubeError, explain
from tirui.cluster.kube.ops import KubeOperations
from tirui.cluster.kube.reads import KubeReads
from tirui.cluster.kube.versions import carry_history
from tirui.cluster.manifests.build import build_for_profile
from tirui.cluster.manifests.canary import served_model
from tirui.cluster.runtime import DEPLOY, ApplyResult, DeployOptions
from tirui.cluster.spec import DeploymentSpec
from tirui.config import Profile
from tirui.secrets import TokenStore

__all__ = ["ApplyResult", "KubeConflict", "KubeError", "KubeRuntime", "explain"]

Obj = dict[str, Any]


class _Kind:
    """The client calls of one kind (namespaced), each with a default request timeout (a call
    may pass its own ``_request_timeout``, as watches do)."""

    def __init__(self, api: Any, suffix: str, timeout: float) -> None:
        def call(verb: str) -> Callable[..., Any]:
            return functools.partial(getattr(api, f"{verb}_namespaced_{suffix}"), _request_timeout=timeout)

        self.read = call("read")
        self.patch = call("patch")
        self.delete = call("delete")
        self.list = call("list")


class KubeRuntime(KubeCanaries, KubeOperations, KubeWrites, KubeReads):
    """Deployments in one namespace of one cluster (reads, watches, logs, metrics: KubeReads)."""

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
        api_client: Any,
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
        from kubernetes import client

        self.api = api_client
        self.tokens = tokens
        self.prometheus = None
        if prometheus_url:
            from tirui.metrics.promql import PrometheusSource

            self.prometheus = PrometheusSource(prometheus_url)
        self._watches = {}
        self._subscribers = []
        self.timeout = 10.0
        """Seconds per API request, so an unreachable cluster fails instead of hanging."""
        self.namespace = namespace
        self.profile = profile or Profile(name="kubernetes")
        self.context = context
        self.last_contact = 0.0
        self.contact_error = ""
        core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
        net, hpa = client.NetworkingV1Api(api_client), client.AutoscalingV2Api(api_client)
        policy = client.PolicyV1Api(api_client)
        self.core, self.apps = core, apps
        self.pod_settings = PodSettings(core, namespace)
        self.kinds = {
            "Secret": _Kind(core, "secret", self.timeout),
            "ConfigMap": _Kind(core, "config_map", self.timeout),
            "PersistentVolumeClaim": _Kind(core, "persistent_volume_claim", self.timeout),
            "Service": _Kind(core, "service", self.timeout),
            "Deployment": _Kind(apps, "deployment", self.timeout),
            "Ingress": _Kind(net, "ingress", self.timeout),
            "HorizontalPodAutoscaler": _Kind(hpa, "horizontal_pod_autoscaler", self.timeout),
            "PodDisruptionBudget": _Kind(policy, "pod_disruption_budget", self.timeout),
        }
        self.pods = _Kind(core, "pod", self.timeout)

    @classmethod
    def from_profile(cls, profile: Profile, tokens: TokenStore | None = None) -> KubeRuntime:
        """Client for the profile's kubeconfig and context; clear errors when they are missing."""
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException

        k = profile.kubernetes
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

    # -- raw helpers -------------------------------------------------------------------------
    @staticmethod
    def _json(response: Any) -> Any:
        return json.loads(response.data)

    def _get(self, kind: str, name: str) -> Obj | None:
        """One object or None. A list filtered by name rather than a GET, so "absent" is a normal
        answer (no 404 round trip)."""
        try:
            raw = self.kinds[kind].list(
                self.namespace, field_selector=f"metadata.name={name}", _preload_content=False
            )
        except Exception as exc:
            raise explain(exc, f"reading {kind}/{name}") from None
        items = self._json(raw).get("items", [])
        return next((o for o in items if o.get("metadata", {}).get("name") == name), None)

    def _list(self, kind: str, selector: dict[str, str]) -> builtins.list[Obj]:
        label_selector = ",".join(f"{k}={v}" for k, v in selector.items())
        api = self.pods if kind == "Pod" else self.kinds[kind]
        try:
            raw = api.list(self.namespace, label_selector=label_selector, _preload_content=False)
        except Exception as exc:
            raise explain(exc, f"listing {kind}s in {self.namespace}") from None
        items = self._json(raw).get("items", [])
        return [
            o
            for o in items
            if all(o.get("metadata", {}).get("labels", {}).get(k) == v for k, v in selector.items())
        ]

    # -- deploy ----------------------------------------------------------------------------
    def check_source(self, spec: DeploymentSpec) -> None:
        """The archive must exist (HEAD) before anything is applied: an init container would
        otherwise fail forever on it. Its ETag and manifest's model version go into the spec
        (what the table shows as the serving version)."""
        from tirui.storage.base import StorageError
        from tirui.storage.factory import open_store
        from tirui.storage.mar import read_manifest
        from tirui.storage.uri import parse_uri

        uri = parse_uri(spec.source)
        try:
            store = open_store(self.profile, self.tokens)
            head = store.head(uri.bucket, uri.key)
        except StorageError as exc:
            raise KubeError(f"model archive {spec.source}: {exc} (nothing was changed)") from None
        spec.etag = head.etag
        try:
            read = functools.partial(store.read_range, uri.bucket, uri.key)
            manifest = read_manifest(read, head.size)
            spec.model_version, spec.archive_config = manifest.model_version, manifest.model_config
        except Exception:  # an unreadable manifest shows as an unknown version, the pod says why
            spec.model_version = ""

    def objects_with(self, spec: DeploymentSpec, *, create_token: bool = True) -> builtins.list[Obj]:
        """The objects of ``spec`` with the token and object-store keys from the profile and the
        token store (what :meth:`deploy` applies). A restart stamp already on the cluster is
        kept, so an unchanged re-deploy does not roll the pods."""
        from tirui.cluster.credentials import deployment_tokens, storage_credentials

        if spec.auth and not spec.tokens:
            spec.tokens = deployment_tokens(self.profile, self.tokens, spec.name, create=create_token)
        existing = self._get("Deployment", spec.name)
        stored = self._stored_spec(existing)
        if stored is not None:
            if not spec.restarted_at:
                spec.restarted_at = stored[0].restarted_at
            if not spec.model_name:  # a new archive keeps the model name clients call
                spec.model_name = served_model(stored[0])
        key, secret = storage_credentials(self.profile, self.tokens)
        objects = build_for_profile(
            spec,
            self.profile,
            namespace=self.namespace,
            access_key_id=key,
            secret_access_key=secret,
            show_secrets=True,
        )
        carry_history(objects, existing, spec)
        return objects

    def _converge(self, spec: DeploymentSpec, objects: builtins.list[Obj], how: DeployOptions) -> ApplyResult:
        dry_run = how.dry_run
        self.preflight(objects)
        applied = self.apply(objects, dry_run=dry_run, force=how.force)
        pruned, kept = self.prune(spec.name, objects, dry_run=dry_run, prune_disk=how.prune_disk)
        warning = self.autoscale_warning(spec.autoscale_metric) if spec.autoscaling else ""
        warnings = [w for w in (warning, spec.archive_overrides()) if w]
        return ApplyResult(applied, pruned, kept, warnings, dry_run)

    def deploy(self, spec: DeploymentSpec, how: DeployOptions = DEPLOY) -> ApplyResult:
        """Deploy (or re-deploy) ``spec`` so the cluster converges on it: archive check, dry run,
        apply, prune. ``result.status`` is the deployment's state right after.

        ``how.dry_run``: the archive check, ownership preflight and a server-side dry run of every
        write (pruning included) only; changes nothing (not even the keyring: a deployment without
        a token yet is checked with a throwaway one)."""
        objects = self._prepare(spec, create_token=not how.dry_run)
        result = self._converge(spec, objects, replace(how, dry_run=True))
        if how.dry_run:
            return result
        result = self._converge(spec, objects, how)
        result.status = self.get(spec.name)
        return result

    def _prepare(self, spec: DeploymentSpec, *, create_token: bool) -> builtins.list[Obj]:
        self.check_source(spec)
        return self.objects_with(spec, create_token=create_token)

    # -- cluster capabilities ----------------------------------------------------------------
    def ping(self) -> None:
        """One cheap request (``/version``, readable by every user); raises :class:`KubeError`."""
        import time

        try:
            from kubernetes import client

            client.VersionApi(self.api).get_code(_preload_content=False, _request_timeout=2.0)
        except Exception as exc:
            self.contact_error = str(explain(exc, "the API server"))
            raise KubeError(self.contact_error) from None
        self.last_contact, self.contact_error = time.time(), ""

    def served_api_groups(self) -> set[str]:
        """API groups the cluster serves (discovery), e.g. ``metrics.k8s.io``."""
        try:
            from kubernetes import client

            raw: Any = client.ApisApi(self.api).get_api_versions(_preload_content=False, _request_timeout=5.0)
        except Exception as exc:
            raise explain(exc, "discovering the cluster's APIs") from None
        data = json.loads(raw.data)
        return {g.get("name", "") for g in data.get("groups", [])}

    def autoscale_warning(self, metric: str) -> str:
        """Why an autoscaler on ``metric`` cannot work on this cluster ("" when it can)."""
        from tirui.cluster.kube.status import autoscale_fix

        group = "metrics.k8s.io" if metric == "cpu" else "custom.metrics.k8s.io"
        try:
            served = self.served_api_groups()
        except KubeError:
            return ""
        if group in served:
            return ""
        return (
            f"the cluster serves no {group} API, so an autoscaler on {metric} cannot act: "
            + autoscale_fix(metric)
        )
