"""What TorchServe in a pod describes for its model (batch size, delay, timeout, workers).

Read through the API server's pod proxy from the auth proxy's metrics listener, which passes
``GET /models/<model>`` to TorchServe's management API (:mod:`tirui.cluster.manifests.proxy`) when
the request carries the deployment's token in ``X-Tirui-Token`` (the pod proxy's ``Authorization``
is the caller's API-server credential). A pod's
settings only change when the pod does (an update rolls new pods), so each pod is asked once; a
pod that could not answer is asked again after :attr:`PodSettings.retry_s`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from tirui.cluster.manifests.proxy import DESCRIBE_TOKEN_HEADER, ProxyPorts
from tirui.cluster.runtime import DeploymentStatus
from tirui.torchserve.settings import described_settings


class PodSettings:
    """Describe results per deployment (from the pod that answered), for one namespace."""

    retry_s = 30.0

    def __init__(
        self,
        core: Any,
        namespace: str,
        *,
        token_of: Callable[[str], str | None] = lambda name: None,
        timeout: float = 2.0,
    ) -> None:
        self.core = core
        self.token_of = token_of
        """A deployment's token by its name (None: ask without one, as for ``--no-auth``)."""
        self.namespace = namespace
        self.timeout = timeout
        self._known: dict[str, tuple[str, dict[str, int]]] = {}
        self._failed: dict[str, float] = {}

    def describe(self, pod: str, model: str, token: str | None = None) -> dict[str, int]:
        """The pod's describe of ``model`` ({} when it cannot answer now)."""
        if time.monotonic() - self._failed.get(pod, -self.retry_s) < self.retry_s:
            return {}
        try:
            r = self.core.connect_get_namespaced_pod_proxy_with_path(
                f"{pod}:{ProxyPorts().metrics}",
                self.namespace,
                f"models/{model}",
                _preload_content=False,
                _request_timeout=self.timeout,
                _headers={DESCRIBE_TOKEN_HEADER: token} if token else None,
            )
            doc = json.loads(r.data)
            return described_settings(doc[0]) if isinstance(doc, list) and doc else {}
        except Exception:  # the pod is not up yet, or an older proxy without the route
            self._failed[pod] = time.monotonic()
            return {}

    def fill(self, row: DeploymentStatus) -> None:
        """Set ``row.settings`` from a ready pod: the one asked before while it stays ready."""
        ready = [r.name for r in row.replicas if r.ready]
        pod, settings = self._known.get(row.name, ("", {}))
        if pod not in ready:
            pod, settings = "", {}
            token = self.token_of(row.name) if ready and row.model else None
            for candidate in ready[:2]:
                settings = self.describe(candidate, row.model, token) if row.model else {}
                if settings:
                    pod = candidate
                    break
            if pod:
                self._known[row.name] = (pod, settings)
            else:
                self._known.pop(row.name, None)
        row.settings = settings
