"""One Node whose pods run for real (the pod runner and its kubelet endpoint), for a test.

While it is up, every other Node is cordoned (the test session shares one control plane, and the
Nodes other tests registered have no runner), so the scheduler puts the namespace's pods here;
they are uncordoned afterwards. The test's S3 server (``127.0.0.1:PORT`` in the profile) is
reachable at the same address inside every pod.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.support.control_plane import register_node
from tests.support.kubelet import PodRunner
from tests.support.kubelet_api import KubeletEndpoint


def _cordon_others(api: Any, node: str) -> list[str]:
    core = client.CoreV1Api(api)
    names = [
        n["metadata"]["name"]
        for n in json.loads(core.list_node(_preload_content=False).data)["items"]
        if n["metadata"]["name"] != node and not n["spec"].get("unschedulable")
    ]
    for name in names:
        core.patch_node(name, {"spec": {"unschedulable": True}})
    return names


def _uncordon(api: Any, names: list[str]) -> None:
    for name in names:
        with contextlib.suppress(client.ApiException):
            client.CoreV1Api(api).patch_node(name, {"spec": {"unschedulable": False}})


@contextlib.contextmanager
def running_node(
    api: Any, namespace: str, s3_endpoint: str, *, backoff_base: float = 2.0
) -> Iterator[PodRunner]:
    node = f"runner-{namespace}"
    register_node(api, node)
    cordoned = _cordon_others(api, node)
    root = Path(tempfile.mkdtemp(prefix="tirui-pods-", dir="/var/tmp"))  # not /tmp: pods get their own
    port = int(s3_endpoint.rsplit(":", 1)[1].split("/")[0])
    try:
        with PodRunner(
            api, node, root, loopback_forwards=(port,), backoff_base=backoff_base, namespace=namespace
        ) as runner:
            kubelet = KubeletEndpoint(runner)
            kubelet.register(api, node)
            try:
                yield runner
            finally:
                kubelet.close()
    finally:
        _uncordon(api, cordoned)
        shutil.rmtree(root, ignore_errors=True)
