"""A real Kubernetes control plane for the tests: etcd + kube-apiserver + controller-manager +
scheduler from ``../shared/k8s/`` (or the binaries in ``$K8S_BIN`` / ``$KUBEBUILDER_ASSETS``),
on free loopback ports, in a temp dir. There is no kubelet: tests register Nodes and patch pod
status themselves (helpers below)."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import PATIENCE

SHARED_K8S = Path(
    os.environ.get("TIRUI_SHARED_K8S")
    or next(
        (p / "shared" / "k8s" for p in Path(__file__).resolve().parents if (p / "shared" / "k8s").is_dir()),
        Path(__file__).resolve().parents[3] / "shared" / "k8s",
    )
)
"""The scripts and binaries of the real control plane: ``shared/k8s`` beside the checkout
(``$TIRUI_SHARED_K8S`` names another copy)."""
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
_namespaces = itertools.count(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def binaries_dir() -> str | None:
    """``$K8S_BIN``, else ``$KUBEBUILDER_ASSETS`` (envtest's convention), when they hold the
    three binaries; None means: unpack the shared tarball (start.sh does)."""
    for var in ("K8S_BIN", "KUBEBUILDER_ASSETS"):
        folder = os.environ.get(var)
        if folder and all((Path(folder) / c).is_file() for c in COMPONENTS):
            return folder
    return None


@dataclass
class ControlPlane:
    run_dir: Path
    env: dict[str, str]
    api_port: int

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def kubeconfig(self) -> Path:
        """Admin (system:masters)."""
        return self.run_dir / "kubeconfig"

    @property
    def tester_kubeconfig(self) -> Path:
        """User ``tester``: authenticated, no RBAC grants at all."""
        return self.run_dir / "tester.kubeconfig"

    def _script(self, name: str, *args: str) -> None:
        r = subprocess.run(
            ["bash", str(SHARED_K8S / name), *args], env=self.env, capture_output=True, text=True
        )
        if r.returncode:
            raise RuntimeError(f"{name} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")

    def start(self) -> None:
        """Start (or restart whatever is not running); returns when every part is healthy."""
        self._script("start.sh")

    def pid(self, component: str) -> int:
        return int((self.run_dir / "pids" / f"{component}.pid").read_text())

    def stop_apiserver(self) -> None:
        """Stop only kube-apiserver (an outage); :meth:`start` brings it back on the same port."""
        pid = self.pid("kube-apiserver")
        os.kill(pid, 15)
        while _alive(pid):
            time.sleep(0.1)
        (self.run_dir / "pids" / "kube-apiserver.pid").unlink()

    def stop(self) -> None:
        self._script("stop.sh", "--purge")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False


def control_plane(run_dir: Path) -> Iterator[ControlPlane]:
    """Start a control plane in ``run_dir``; stopped (by PID files) and purged afterwards."""
    if not (SHARED_K8S / "start.sh").is_file():
        raise RuntimeError(f"{SHARED_K8S}/start.sh is missing: the real control plane comes from there")
    if shutil.which("etcd") is None and not os.environ.get("ETCD_BIN"):
        raise RuntimeError("etcd is not installed (Debian: apt-get install etcd-server)")
    env = dict(os.environ)
    folder = binaries_dir()
    if not folder:
        folder = subprocess.run(
            ["bash", str(SHARED_K8S / "bin.sh")], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
    env["K8S_BIN"] = folder
    for attempt in range(3):  # a free port can be taken between the check and the bind
        names = ("API_PORT", "ETCD_PORT", "ETCD_PEER_PORT", "KCM_PORT", "SCHED_PORT")
        ports = {k: str(_free_port()) for k in names}
        plane = ControlPlane(run_dir, {**env, **ports, "K8S_RUN": str(run_dir)}, int(ports["API_PORT"]))
        try:
            plane.start()
            break
        except RuntimeError:
            plane.stop()
            if attempt == 2:
                raise
    try:
        yield plane
    finally:
        plane.stop()


# -- per-test helpers --------------------------------------------------------------------------
def admin_client(plane: ControlPlane) -> Any:
    from kubernetes import config

    return config.new_client_from_config(config_file=str(plane.kubeconfig))


def new_namespace(api: Any) -> str:
    from kubernetes import client

    name = f"t{next(_namespaces)}-{os.getpid() % 10000}"
    client.CoreV1Api(api).create_namespace(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    return name


def _ready_condition() -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "message": "test kubelet",
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }


class _Heartbeat:
    """Renews the Ready condition of every Node the tests registered, as a kubelet does.

    Without it the node lifecycle controller sees no heartbeat for ``node-monitor-grace-period``
    (40 s), marks the Node Unknown and then sets ``Ready=False`` on each of its pods whenever that
    pod's status changes (measured: a pod that became ready after that stayed not ready), and a
    taint would evict them after 300 s. One daemon thread for the session; a Node that is gone
    (404) drops out."""

    PERIOD = 10.0

    def __init__(self) -> None:
        self.nodes: dict[str, Any] = {}
        self.failures: dict[str, int] = {}
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def add(self, api: Any, name: str) -> None:
        with self.lock:
            self.nodes[name] = api
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="node-heartbeat", daemon=True)
                self.thread.start()

    def _run(self) -> None:
        from kubernetes import client

        while True:
            time.sleep(self.PERIOD)
            with self.lock:
                nodes = list(self.nodes.items())
            for name, api in nodes:
                try:
                    client.CoreV1Api(api).patch_node_status(
                        name, {"status": {"conditions": [_ready_condition()]}}
                    )
                    self.failures[name] = 0
                except client.ApiException as e:
                    if e.status == 404:
                        self._drop(name)
                except Exception:  # three in a row: the control plane is gone, nothing to renew
                    self.failures[name] = self.failures.get(name, 0) + 1
                    if self.failures[name] >= 3:
                        self._drop(name)

    def _drop(self, name: str) -> None:
        with self.lock:
            self.nodes.pop(name, None)


_heartbeat = _Heartbeat()


def register_node(api: Any, name: str, *, gpus: int = 0, labels: dict[str, str] | None = None) -> None:
    """A Node as a kubelet would register it: capacity (``nvidia.com/gpu`` too) and Ready, kept
    Ready by a heartbeat for as long as the Node exists."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}}})
    capacity = {"cpu": "16", "memory": "64Gi", "pods": "110"}
    if gpus:
        capacity["nvidia.com/gpu"] = str(gpus)
    core.patch_node_status(
        name,
        {"status": {"capacity": capacity, "allocatable": capacity, "conditions": [_ready_condition()]}},
    )
    _heartbeat.add(api, name)


def running(containers: list[str] | None = None, restarts: int = 0) -> dict[str, Any]:
    """Pod status of a Running, Ready pod."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
        "containerStatuses": [
            {
                "name": c,
                "ready": True,
                "restartCount": restarts,
                "image": "i",
                "imageID": "",
                "state": {"running": {"startedAt": now}},
            }
            for c in containers or ["torchserve", "auth-proxy"]
        ],
    }


def crashing(reason: str = "CrashLoopBackOff", last: str = "OOMKilled", restarts: int = 4) -> dict[str, Any]:
    """Pod status of a TorchServe container in a crash loop after ``last`` (e.g. OOMKilled)."""
    return {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [
            {
                "name": "torchserve",
                "ready": False,
                "restartCount": restarts,
                "image": "i",
                "imageID": "",
                "state": {
                    "waiting": {"reason": reason, "message": "back-off 40s restarting failed container"}
                },
                "lastState": {"terminated": {"reason": last, "exitCode": 137}},
            }
        ],
    }


def set_pod_status(api: Any, namespace: str, pod: str, status: dict[str, Any]) -> None:
    """Play the kubelet: write the pod's status subresource."""
    from kubernetes import client

    client.CoreV1Api(api).patch_namespaced_pod_status(pod, namespace, {"status": status})


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy (the deadline only stops a hung test)."""
    deadline = time.monotonic() + timeout * PATIENCE
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.1)


def seed_archive(s3_endpoint: str, key: str = "tiny.mar", bucket: str = "models", body: bytes = b"") -> str:
    """An object in moto's real S3 server for deploys to HEAD (an empty zip unless ``body``);
    returns its ``eos://`` URI."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=body or b"PK\x05\x06" + b"\0" * 18)
    return f"eos://{bucket}/{key}"


def write_profile(home: Path, kubeconfig: Path, namespace: str, s3_endpoint: str, name: str = "k8s") -> Any:
    """A ``profiles.toml`` with a Kubernetes profile on ``kubeconfig`` (its current context) and
    moto as object store (env credentials); returns the loaded :class:`Profile`."""
    from tirui.config import load_profiles
    from tirui.locations import profiles_file

    path = profiles_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[profiles.{name}.storage]\nendpoint_url = "{s3_endpoint}"\ncredentials = "env"\n'
        f'[profiles.{name}.kubernetes]\nkubeconfig = "{kubeconfig}"\nnamespace = "{namespace}"\n'
        f"[profiles.{name}.defaults]\ngpus = 0\n"
    )
    return load_profiles().get(name)


def server_version(api: Any) -> str:
    """``1.MINOR`` of the API server behind ``api`` (its ``/version``)."""
    from tirui.cluster.kube.discovery import get_json

    info = get_json(api, "/version", 10.0)
    return f"{info['major']}.{str(info['minor']).rstrip('+')}"


def dry_run_create(api: Any, obj: dict[str, Any], namespace: str) -> None:
    """POST ``obj`` with ``dryRun=All``: the server's admission and validation, nothing stored.
    Raw, so it works for any version the server serves (the client's typed groups know only the
    newest)."""
    import json

    from kubernetes.client.exceptions import ApiException

    from tirui.cluster.kube.discovery import group_path
    from tirui.cluster.manifests.versions import plural

    path = f"{group_path(obj['apiVersion'])}/namespaces/{namespace}/{plural(obj['kind'])}"
    method, url, headers, body, post = api.param_serialize(
        "POST",
        path,
        query_params=[("dryRun", "All")],
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=obj,
        auth_settings=["BearerToken"],
    )
    response = api.call_api(method, url, header_params=headers, body=body, post_params=post)
    response.read()
    if not 200 <= response.status <= 299:
        raise ApiException.from_response(http_resp=response, body=None, data=None)
    json.loads(response.data)
