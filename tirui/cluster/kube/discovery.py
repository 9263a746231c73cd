"""What the API server serves (discovery), asked once per connection.

Each group version tirui may write in (:data:`tirui.cluster.manifests.versions.KINDS`) is read
from ``/api/v1`` or ``/apis/GROUP/VERSION`` (a 404 there: not served) the first time a kind is
resolved; :meth:`Discovery.refresh` forgets the answers, for a call that got a 404 on a
collection (the server was upgraded, or an API was turned off).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from tirui.cluster.kube.errors import explain
from tirui.cluster.manifests.versions import KINDS, ApiVersions


def get_json(api_client: Any, path: str, timeout: float) -> Any:
    """GET ``path`` of the API server as JSON, with the client's credentials."""
    from kubernetes.client.exceptions import ApiException

    method, url, headers, body, post = api_client.param_serialize(
        "GET", path, header_params={"Accept": "application/json"}, auth_settings=["BearerToken"]
    )
    response = api_client.call_api(
        method, url, header_params=headers, body=body, post_params=post, _request_timeout=timeout
    )
    response.read()
    if not 200 <= response.status <= 299:
        raise ApiException.from_response(http_resp=response, body=None, data=None)
    return json.loads(response.data)


def group_path(api_version: str) -> str:
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"


class Discovery:
    """The resources each group version serves, cached; thread-safe."""

    def __init__(self, api_client: Any, timeout: float = 10.0) -> None:
        self.client = api_client
        self.timeout = timeout
        self._resources: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def resources(self, api_version: str) -> frozenset[str]:
        """The resource names ``api_version`` serves (empty when it is not served)."""
        from kubernetes.client.exceptions import ApiException

        with self._lock:
            if api_version in self._resources:
                return self._resources[api_version]
        try:
            data = get_json(self.client, group_path(api_version), self.timeout)
            names = frozenset(r.get("name", "") for r in data.get("resources") or [])
        except ApiException as exc:
            if exc.status != 404:
                raise explain(exc, f"discovering {api_version}") from None
            names = frozenset()
        except Exception as exc:
            raise explain(exc, f"discovering {api_version}") from None
        with self._lock:
            self._resources[api_version] = names
        return names

    def served(self, api_version: str, plural: str) -> bool:
        return plural in self.resources(api_version)

    def versions(self) -> ApiVersions:
        """Every kind tirui knows in the newest version this server serves; each kind is
        discovered the first time it is looked up (``dict(versions.chosen)`` asks for all)."""
        return ApiVersions(_ServedKinds(self), "the cluster")

    def api_version(self, kind: str) -> str:
        """The version to write ``kind`` in."""
        return self.versions().of(kind)

    def refresh(self) -> None:
        with self._lock:
            self._resources.clear()


class _ServedKinds(Mapping[str, str]):
    """kind → the newest version of it the server serves; absent when it serves none."""

    def __init__(self, discovery: Discovery) -> None:
        self.discovery = discovery

    def __getitem__(self, kind: str) -> str:
        name, candidates = KINDS[kind]
        for c in candidates:
            if self.discovery.served(c.api_version, name):
                return c.api_version
        raise KeyError(kind)

    def __iter__(self) -> Iterator[str]:
        return (kind for kind in KINDS if kind in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, kind: object) -> bool:
        try:
            self[str(kind)]
        except KeyError:
            return False
        return True
