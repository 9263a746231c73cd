"""One namespace's client calls, shared by every collaborator of the Kubernetes runtime.

Reads use raw JSON (``_preload_content=False``) so odd or partial objects do not trip the client's
typed models; every call has a request timeout, so an unreachable cluster fails instead of hanging.
"""

from __future__ import annotations

import builtins
import functools
import json
from collections.abc import Callable
from typing import Any

from tirui.cluster.kube.errors import explain

Obj = dict[str, Any]


class Kind:
    """The client calls of one kind (namespaced), each with a default request timeout (a call
    may pass its own ``_request_timeout``, as watches do)."""

    def __init__(self, api: Any, suffix: str, timeout: float) -> None:
        def call(verb: str) -> Callable[..., Any]:
            return functools.partial(getattr(api, f"{verb}_namespaced_{suffix}"), _request_timeout=timeout)

        self.read = call("read")
        self.patch = call("patch")
        self.delete = call("delete")
        self.list = call("list")


class KubeApi:
    """The typed API groups of one client (``core``, ``apps``) and a :class:`Kind` per object kind
    tirui writes (``kinds``; ``pods`` apart: tirui reads pods, never writes them)."""

    def __init__(self, api_client: Any, namespace: str, timeout: float = 10.0) -> None:
        from kubernetes import client

        self.client = api_client
        self.namespace = namespace
        self.timeout = timeout
        """Seconds per API request."""
        core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
        net, hpa = client.NetworkingV1Api(api_client), client.AutoscalingV2Api(api_client)
        policy = client.PolicyV1Api(api_client)
        self.core: Any = core  # raw responses (``_preload_content=False``), not the typed models
        self.apps: Any = apps
        self.kinds = {
            "Secret": Kind(core, "secret", timeout),
            "ConfigMap": Kind(core, "config_map", timeout),
            "PersistentVolumeClaim": Kind(core, "persistent_volume_claim", timeout),
            "Service": Kind(core, "service", timeout),
            "Deployment": Kind(apps, "deployment", timeout),
            "Ingress": Kind(net, "ingress", timeout),
            "HorizontalPodAutoscaler": Kind(hpa, "horizontal_pod_autoscaler", timeout),
            "PodDisruptionBudget": Kind(policy, "pod_disruption_budget", timeout),
        }
        self.pods = Kind(core, "pod", timeout)

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
