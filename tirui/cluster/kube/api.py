"""One namespace's client calls, shared by every collaborator of the Kubernetes runtime.

Reads use raw JSON (``_preload_content=False``) so odd or partial objects do not trip the client's
typed models; every call has a request timeout, so an unreachable cluster fails instead of hanging.
"""

from __future__ import annotations

import builtins
import json
from typing import TYPE_CHECKING, Any

from tirui.cluster.kube.discovery import Discovery
from tirui.cluster.kube.errors import explain
from tirui.cluster.manifests.versions import ApiVersions, plural

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

Obj = dict[str, Any]


CORE_SUFFIX = {
    "Secret": "secret",
    "ConfigMap": "config_map",
    "PersistentVolumeClaim": "persistent_volume_claim",
    "Service": "service",
    "ServiceAccount": "service_account",
    "Pod": "pod",
}
"""The core (``v1``) kinds, by the suffix of their typed client calls."""


class Kind:
    """The client calls of one namespaced kind, in the version the server serves (discovery):
    core kinds through the typed core client, the others through the generic group-version
    calls, since the client's typed groups know only the newest versions. Each call has a
    default request timeout (a call may pass its own ``_request_timeout``, as watches do);
    deletes answer raw (servers answer some with a ``Status``, not the object)."""

    def __init__(self, api_client: ApiClient, kind: str, discovery: Discovery, timeout: float) -> None:
        from kubernetes import client

        self.kind = kind
        self.discovery = discovery
        self.timeout = timeout
        self._core = client.CoreV1Api(api_client) if kind in CORE_SUFFIX else None
        self._custom = client.CustomObjectsApi(api_client)

    def _call(self, verb: str, namespace: str, name: str | None, *args: Any, **kw: Any) -> Any:
        kw.setdefault("_request_timeout", self.timeout)
        if self._core is not None:
            fn = getattr(self._core, f"{verb}_namespaced_{CORE_SUFFIX[self.kind]}")
            return fn(*((name,) if name is not None else ()), namespace, *args, **kw)
        group, _, version = self.discovery.api_version(self.kind).rpartition("/")
        custom = {"list": "list", "read": "get", "patch": "patch", "delete": "delete"}[verb]
        fn = getattr(self._custom, f"{custom}_namespaced_custom_object")
        where = (group, version, namespace, plural(self.kind))
        return fn(*where, *((name,) if name is not None else ()), *args, **kw)

    def list(self, namespace: str, **kw: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return self._call("list", namespace, None, **kw)
        except ApiException as exc:
            if exc.status != 404 or self._core is not None:
                raise
            self.discovery.refresh()  # the collection is gone: ask again which version serves it
            return self._call("list", namespace, None, **kw)

    def read(self, name: str, namespace: str, **kw: Any) -> Any:
        return self._call("read", namespace, name, **kw)

    def patch(self, name: str, namespace: str, body: Obj, **kw: Any) -> Any:
        return self._call("patch", namespace, name, body, **kw)

    def delete(self, name: str, namespace: str, **kw: Any) -> Any:
        kw.setdefault("_preload_content", False)
        return self._call("delete", namespace, name, **kw)


class KubeApi:
    """The API groups of one client (``core``, ``apps``), the server's :class:`Discovery`, and a
    :class:`Kind` per object kind tirui writes (``kinds``; ``pods`` apart: tirui reads pods, never
    writes them)."""

    def __init__(self, api_client: ApiClient, namespace: str, timeout: float = 10.0) -> None:
        from kubernetes import client

        self.client = api_client
        self.namespace = namespace
        self.timeout = timeout
        """Seconds per API request."""
        self.discovery = Discovery(api_client, timeout)
        self.core: Any = client.CoreV1Api(api_client)  # raw responses, not the typed models
        self.apps: Any = client.AppsV1Api(api_client)
        written = (
            "Secret",
            "ConfigMap",
            "PersistentVolumeClaim",
            "Service",
            "Deployment",
            "Ingress",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
        )
        self.kinds = {k: Kind(api_client, k, self.discovery, timeout) for k in written}
        self.pods = Kind(api_client, "Pod", self.discovery, timeout)

    def versions(self) -> ApiVersions:
        """The versions this server takes each kind in (asked once per connection)."""
        return self.discovery.versions()

    def get(self, kind: str, name: str) -> Obj | None:
        """One object or None. A list filtered by name rather than a GET, so "absent" is a normal
        answer (no 404 round trip)."""
        try:
            raw = self.kinds[kind].list(
                self.namespace, field_selector=f"metadata.name={name}", _preload_content=False
            )
        except Exception as exc:
            raise explain(exc, f"reading {kind}/{name}") from None
        items = json.loads(raw.data).get("items", [])
        return next((o for o in items if o.get("metadata", {}).get("name") == name), None)

    def list(self, kind: str, selector: dict[str, str]) -> builtins.list[Obj]:
        """The objects of ``kind`` carrying every label of ``selector``."""
        label_selector = ",".join(f"{k}={v}" for k, v in selector.items())
        api = self.pods if kind == "Pod" else self.kinds[kind]
        try:
            raw = api.list(self.namespace, label_selector=label_selector, _preload_content=False)
        except Exception as exc:
            raise explain(exc, f"listing {kind}s in {self.namespace}") from None
        items = json.loads(raw.data).get("items", [])
        return [
            o
            for o in items
            if all(o.get("metadata", {}).get("labels", {}).get(k) == v for k, v in selector.items())
        ]

    def remove(self, kind: str, name: str, what: str) -> None:
        """Delete one object when it is there (``what`` names it in the error)."""
        if self.get(kind, name) is None:
            return
        try:
            self.kinds[kind].delete(name, self.namespace)
        except Exception as exc:
            raise explain(exc, f"removing {what} of {name}") from None
