"""The Kubernetes runtime: apply tirui's manifests and read deployments back, over the official
client (blocking: callers run it in threads).

Apply is create-or-server-side-apply (field manager ``tirui``) object by object, after a dry run
of the same requests; an existing object without tirui's label is never overwritten. Reads use
raw JSON (``_preload_content=False``) so odd or partial objects do not trip the typed models.
Label selectors are sent and the results filtered again locally.
"""

from __future__ import annotations

import builtins
import datetime as dt
import functools
import json
from collections.abc import Callable
from typing import Any

from tirui.cluster.kube_reads import KubeReads
from tirui.cluster.manifests import DEPLOYMENT_LABEL, MANAGED_BY, RESTARTED_AT, build, build_for_profile
from tirui.cluster.runtime import DeploymentStatus, RuntimeError_
from tirui.cluster.spec import DeploymentSpec

Obj = dict[str, Any]


class KubeError(RuntimeError_):
    """A Kubernetes API failure, said plainly (forbidden, unreachable, conflict, ...)."""


def explain(exc: Exception, what: str) -> KubeError:
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, ApiException):
        try:
            message = json.loads(exc.body or "{}").get("message", "") or exc.reason
        except ValueError:
            message = exc.reason
        if exc.status == 403:
            return KubeError(f"{what}: forbidden by RBAC ({message})")
        if exc.status == 401:
            return KubeError(f"{what}: the cluster rejected the credentials of the kube context ({message})")
        if exc.status == 409:
            return KubeError(f"{what}: conflict ({message})")
        return KubeError(f"{what}: {exc.status} {message}")
    detail = (str(exc).strip().splitlines() or [""])[0][:200]
    return KubeError(f"{what}: cannot reach the Kubernetes API ({type(exc).__name__}: {detail})")


class _Kind:
    """The client calls of one kind (namespaced), each with a default request timeout (a call
    may pass its own ``_request_timeout``, as watches do)."""

    def __init__(self, api: Any, suffix: str, timeout: float) -> None:
        def call(verb: str) -> Callable[..., Any]:
            return functools.partial(getattr(api, f"{verb}_namespaced_{suffix}"), _request_timeout=timeout)

        self.create = call("create")
        self.read = call("read")
        self.patch = call("patch")
        self.delete = call("delete")
        self.list = call("list")


class KubeRuntime(KubeReads):
    """Deployments in one namespace of one cluster (reads, watches, logs, metrics: KubeReads)."""

    def __init__(
        self,
        api_client: Any,
        namespace: str = "default",
        *,
        profile: str = "",
        tokens: Any = None,
        prometheus_url: str = "",
    ) -> None:
        """``tokens``: the token store the Playground's targets read deployment tokens from;
        ``prometheus_url``: read metrics from that Prometheus instead of the pods' proxy."""
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
        self.profile = profile
        core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
        net, hpa = client.NetworkingV1Api(api_client), client.AutoscalingV2Api(api_client)
        self.core, self.apps = core, apps
        self.kinds = {
            "Secret": _Kind(core, "secret", self.timeout),
            "ConfigMap": _Kind(core, "config_map", self.timeout),
            "PersistentVolumeClaim": _Kind(core, "persistent_volume_claim", self.timeout),
            "Service": _Kind(core, "service", self.timeout),
            "Deployment": _Kind(apps, "deployment", self.timeout),
            "Ingress": _Kind(net, "ingress", self.timeout),
            "HorizontalPodAutoscaler": _Kind(hpa, "horizontal_pod_autoscaler", self.timeout),
        }
        self.pods = _Kind(core, "pod", self.timeout)

    @classmethod
    def from_profile(cls, profile: Any, tokens: Any = None) -> KubeRuntime:
        """Client for the profile's kubeconfig and context; clear errors when they are missing."""
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException

        k = profile.kubernetes
        try:
            api = config.new_client_from_config(config_file=k.kubeconfig or None, context=k.context or None)  # type: ignore[no-untyped-call]
        except (ConfigException, OSError) as exc:
            where = k.kubeconfig or "~/.kube/config ($KUBECONFIG)"
            raise KubeError(f"kube context {k.context or '(current)'} from {where}: {exc}") from None
        return cls(api, k.namespace, profile=profile.name, tokens=tokens, prometheus_url=k.prometheus_url)

    # -- raw helpers -------------------------------------------------------------------------
    @staticmethod
    def _json(response: Any) -> Any:
        return json.loads(response.data)

    def _get(self, kind: str, name: str) -> Obj | None:
        """One object or None. A list filtered by name rather than a GET, so "absent" is a normal
        answer (no 404 round trip; also what the kmock emulator handles well)."""
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
        try:
            if kind == "Pod":
                raw = self.pods.list(self.namespace, label_selector=label_selector, _preload_content=False)
            else:
                raw = self.kinds[kind].list(
                    self.namespace, label_selector=label_selector, _preload_content=False
                )
        except Exception as exc:
            raise explain(exc, f"listing {kind}s in {self.namespace}") from None
        items = self._json(raw).get("items", [])
        return [
            o
            for o in items
            if all(o.get("metadata", {}).get("labels", {}).get(k) == v for k, v in selector.items())
        ]

    # -- apply -------------------------------------------------------------------------------
    def apply(self, objects: builtins.list[Obj], *, dry_run: bool = False) -> builtins.list[str]:
        """Create or update each object; refuses to touch objects tirui does not manage."""
        done: builtins.list[str] = []
        extra = {"dry_run": "All"} if dry_run else {}
        for obj in objects:
            kind, name = obj["kind"], obj["metadata"]["name"]
            ref = f"{kind}/{name}"
            try:
                existing = self._get(kind, name)
                if (
                    existing is not None
                    and existing.get("metadata", {}).get("labels", {}).get(MANAGED_BY) != "tirui"
                ):
                    raise KubeError(
                        f"{ref} already exists in {self.namespace} and is not managed by tirui: "
                        "refusing to overwrite it"
                    )
                if existing is None:
                    self.kinds[kind].create(self.namespace, obj, **extra)
                else:
                    self.kinds[kind].patch(
                        name,
                        self.namespace,
                        obj,
                        field_manager="tirui",
                        force=True,
                        _content_type="application/apply-patch+yaml",
                        **extra,
                    )
            except KubeError as exc:
                raise self._partial(done, ref, str(exc), dry_run) from None
            except Exception as exc:
                raise self._partial(done, ref, str(explain(exc, f"applying {ref}")), dry_run) from None
            done.append(ref)
        return done

    @staticmethod
    def _partial(done: builtins.list[str], ref: str, message: str, dry_run: bool) -> KubeError:
        if dry_run or not done:
            return KubeError(
                message + (" (dry run: nothing was changed)" if dry_run else " (nothing was applied)")
            )
        return KubeError(f"{message}. Already applied: {', '.join(done)}; `tirui delete` removes them.")

    def preflight(self, objects: builtins.list[Obj]) -> None:
        """Before any write: every object either does not exist or is tirui's. Names all others."""
        foreign = []
        for obj in objects:
            kind, name = obj["kind"], obj["metadata"]["name"]
            existing = self._get(kind, name)
            if (
                existing is not None
                and existing.get("metadata", {}).get("labels", {}).get(MANAGED_BY) != "tirui"
            ):
                foreign.append(f"{kind}/{name}")
        if foreign:
            raise KubeError(
                f"{', '.join(foreign)} already exist(s) in {self.namespace} and is not managed by tirui: "
                "refusing to overwrite; pick another name or remove them (nothing was changed)"
            )

    def objects_with(
        self, spec: DeploymentSpec, profile: Any, tokens: Any, *, create_token: bool = True
    ) -> builtins.list[Obj]:
        """The objects of ``spec`` with the token and object-store keys from the profile and the
        token store (what :meth:`deploy_with` applies)."""
        from tirui.cluster.credentials import deployment_tokens, storage_credentials

        if spec.auth and not spec.tokens:
            spec.tokens = deployment_tokens(profile, tokens, spec.name, create=create_token)
        key, secret = storage_credentials(profile, tokens)
        return build_for_profile(
            spec,
            profile,
            namespace=self.namespace,
            access_key_id=key,
            secret_access_key=secret,
            show_secrets=True,
        )

    def dry_run_with(self, spec: DeploymentSpec, profile: Any, tokens: Any) -> builtins.list[str]:
        """Ownership preflight and a server-side dry run of every object; changes nothing (not
        even the keyring: a deployment without a token yet is checked with a throwaway one)."""
        objects = self.objects_with(spec, profile, tokens, create_token=False)
        self.preflight(objects)
        return self.apply(objects, dry_run=True)

    def deploy_with(self, spec: DeploymentSpec, profile: Any, tokens: Any) -> DeploymentStatus:
        """Deploy with the token and object-store keys from the profile and the token store."""
        return self._deploy_objects(spec.name, self.objects_with(spec, profile, tokens))

    def _deploy_objects(self, name: str, objects: builtins.list[Obj]) -> DeploymentStatus:
        self.preflight(objects)
        self.apply(objects, dry_run=True)
        self.apply(objects)
        return self.get(name)

    def deploy(
        self,
        spec: DeploymentSpec,
        store: Any = None,
        *,
        access_key_id: str = "",
        secret_access_key: str = "",
        storage_endpoint: str = "",
        storage_region: str = "us-east-1",
    ) -> DeploymentStatus:
        objects = build(
            spec,
            namespace=self.namespace,
            storage_endpoint=storage_endpoint,
            storage_region=storage_region,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            show_secrets=True,
        )
        return self._deploy_objects(spec.name, objects)

    # -- operations --------------------------------------------------------------------------
    def scale(self, name: str, count: int) -> None:
        if count < 0:
            raise KubeError("replicas must be 0 or more")
        self._managed(name)
        if self._get("HorizontalPodAutoscaler", name) is not None:
            raise KubeError(
                f"{name} is autoscaled: change its range (tirui autoscale) or remove autoscaling first"
            )
        try:
            self.apps.patch_namespaced_deployment_scale(
                name, self.namespace, {"spec": {"replicas": count}}, _request_timeout=self.timeout
            )
        except Exception as exc:
            raise explain(exc, f"scaling {name}") from None

    def autoscale(
        self, name: str, min_replicas: int, max_replicas: int, metric: str = "cpu", target: str = "70"
    ) -> None:
        """Create or update the HPA; ``max_replicas == 0`` removes autoscaling."""
        from tirui.cluster.manifests import _hpa, names

        dep = self._managed(name)
        if max_replicas == 0:
            hpa = self._get("HorizontalPodAutoscaler", name)
            if hpa is not None:
                self.kinds["HorizontalPodAutoscaler"].delete(name, self.namespace)
            return
        spec = DeploymentSpec(
            name=name,
            source=dep["metadata"].get("annotations", {}).get("tirui.dev/source", "x.mar"),
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            autoscale_metric=metric,
            autoscale_target=target,
        )
        problems = spec.kube_problems()
        if problems:
            raise KubeError("; ".join(problems.values()))
        self.apply([_hpa(spec, self.namespace, names(spec))])

    def restart(self, name: str) -> None:
        """A rollout restart: a new pod-template annotation."""
        self._managed(name)
        now = dt.datetime.now(dt.UTC).isoformat()
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
        try:
            self.kinds["Deployment"].patch(name, self.namespace, body)
        except Exception as exc:
            raise explain(exc, f"restarting {name}") from None

    def delete(self, name: str) -> None:
        """Delete every object carrying both tirui labels for ``name``; nothing else."""
        self._managed(name)
        selector = {MANAGED_BY: "tirui", DEPLOYMENT_LABEL: name}
        for kind in (
            "HorizontalPodAutoscaler",
            "Ingress",
            "Service",
            "Deployment",
            "PersistentVolumeClaim",
            "ConfigMap",
            "Secret",
        ):
            for obj in self._list(kind, selector):
                try:
                    self.kinds[kind].delete(obj["metadata"]["name"], self.namespace)
                except Exception as exc:
                    raise explain(exc, f"deleting {kind}/{obj['metadata']['name']}") from None
