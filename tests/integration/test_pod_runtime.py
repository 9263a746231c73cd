"""The pod tirui renders, run for real: tirui deploys to the real API server, the deployment
controller and scheduler make the pods, and the pod runner (``tests/support/kubelet.py``) runs
what is inside them — the fetch-model init script against moto, TorchServe with the rendered
``config.properties``, nginx with the rendered auth config as uid 101 on a read-only root, the exec
readiness probe, the liveness ``httpGet``, both preStop hooks and the grace period."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import HANDLERS
from tests.support.containers import stamp
from tests.support.control_plane import (
    ControlPlane,
    admin_client,
    seed_archive,
    wait_for,
    write_profile,
)
from tests.support.kubelet import PodRunner
from tests.support.node import running_node
from tirui.cluster.credentials import token_ref
from tirui.cluster.kube.runtime import KubeRuntime
from tirui.cluster.runtime import DeployOptions
from tirui.cluster.spec import DeploymentSpec
from tirui.demo.model import build_mar, expected_output
from tirui.secrets import TokenStore
from tirui.torchserve.errors import TorchServeError
from tirui.torchserve.grpc import GrpcEndpoint, TorchServeGRPC

TOKEN = "tok-pod-0123456789abcdef"
READY = float(os.environ.get("POD_READY_TIMEOUT", "240"))
"""Deadline for a pod to become Ready: fetch, JVM start and a READY worker (DESIGN: 3-13 s a
worker; the runner's probes run at the rendered periods)."""
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the pod runner needs root (namespaces)")


@dataclass
class Env:
    plane: ControlPlane
    ns: str
    profile: Any
    rt: KubeRuntime
    tokens: TokenStore
    runner: PodRunner
    s3: str

    def spec(self, name: str, source: str, **kw: Any) -> DeploymentSpec:
        kw.setdefault("gpus", 0)
        kw.setdefault("cpu_request", "100m")
        kw.setdefault("memory_request", "256Mi")
        kw.setdefault("shm_size", "")
        return DeploymentSpec(name, source, **kw)

    def deploy(self, spec: DeploymentSpec) -> Any:
        return self.rt.deploy(spec, DeployOptions())

    def pods(self, name: str) -> list[dict[str, Any]]:
        from kubernetes import client

        raw = client.CoreV1Api(self.rt.api).list_namespaced_pod(
            self.ns, label_selector=f"tirui.dev/deployment={name}", _preload_content=False
        )
        return list(json.loads(raw.data)["items"])

    def ready_pods(self, name: str) -> list[dict[str, Any]]:
        return [
            p
            for p in self.pods(name)
            if not p["metadata"].get("deletionTimestamp")
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in (p.get("status") or {}).get("conditions", [])
            )
        ]

    def wait_ready(self, name: str, count: int = 1) -> list[dict[str, Any]]:
        def check() -> list[dict[str, Any]] | None:
            assert not self.runner.errors, self.runner.errors
            pods = self.ready_pods(name)
            return pods if len(pods) == count else None

        try:
            return list(wait_for(check, f"{count} ready pod(s) of {name}", READY))
        except AssertionError:
            for p in self.pods(name):
                for c in ("fetch-model", "torchserve", "auth-proxy"):
                    with contextlib.suppress(KeyError, StopIteration):
                        print(
                            f"--- {p['metadata']['name']}/{c}\n"
                            + self.runner.logs(self.ns, p["metadata"]["name"], c)[-3000:]
                        )
                print(json.dumps(p.get("status"), indent=1)[:3000])
                print(self.runner_log(p))
            raise

    def create_pod(self, name: str, spec: dict[str, Any]) -> Any:
        """A bare pod on the runner's node, once the namespace's service account exists; returns
        the CoreV1Api it was created with."""
        from kubernetes import client

        core = client.CoreV1Api(self.rt.api)
        wait_for(
            lambda: core.list_namespaced_service_account(self.ns).items, "the namespace's service account"
        )
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": self.ns},
            "spec": {"nodeName": self.runner.node, **spec},
        }
        core.create_namespaced_pod(self.ns, pod)
        return core

    def runner_log(self, pod: dict[str, Any]) -> str:
        log = self.runner.root / "pods" / pod["metadata"]["uid"] / "kubelet.log"
        return "--- runner\n" + (log.read_text()[-3000:] if log.exists() else "")

    def logs(self, pod: dict[str, Any], container: str, previous: bool = False) -> str:
        return self.runner.logs(self.ns, pod["metadata"]["name"], container, previous)


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("pod-mars")
    size = HANDLERS / "size_handler.py"
    return {
        "tiny": build_mar(out / "v1").read_bytes(),
        "tiny2": build_mar(out / "v2", version="2.0").read_bytes(),
        "echo": build_mar(out / "echo", name="echo", handler=size).read_bytes(),
    }


@pytest.fixture
def env(
    k8s: ControlPlane, k8s_ns: str, s3_endpoint: str, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Env]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv(token_ref("k8s", "tiny").env_var, TOKEN)
    monkeypatch.setenv(token_ref("k8s", "echo").env_var, TOKEN)
    profile = write_profile(isolated, k8s.kubeconfig, k8s_ns, s3_endpoint)
    tokens = TokenStore("env")
    rt = KubeRuntime.from_profile(profile, tokens)
    with running_node(admin_client(k8s), k8s_ns, s3_endpoint) as runner:
        yield Env(k8s, k8s_ns, profile, rt, tokens, runner, s3_endpoint)


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def _describe(ip: str, model: str) -> dict[str, Any]:
    r = httpx.get(f"http://{ip}:8081/models/{model}", headers=_auth())
    assert r.status_code == 200, r.text
    return dict(r.json()[0])


async def _grpc_predict(ip: str, model: str, token: str | None, data: bytes) -> bytes:
    async with TorchServeGRPC(GrpcEndpoint(f"{ip}:7070", inference_token=token)) as c:
        return (await c.predict(model, {"data": data})).payload


def _processes_of(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
    return out


def _alive(pid: int) -> bool:
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


async def test_deploy_runs_the_rendered_pod_and_serves_through_the_proxy(
    env: Env, archives: dict[str, bytes]
) -> None:
    """Fetch from the bucket, TorchServe with the rendered config (the settings it reports are the
    ones asked for), READY probe, REST and gRPC through nginx with the token and refused without;
    then deleting the deployment ends every process of the pod after the preStop drain."""
    # a key with spaces, quotes and shell in it: data for the fetch script, nothing runs; the
    # archive's file name with a space is served as "my-tiny" (spec.model_name_of)
    key = "pods/a b$(touch${IFS}PWN) `x` 'q'/my tiny.mar"
    source = seed_archive(env.s3, key, body=archives["tiny"])
    spec = env.spec("tiny", source, workers=2, batch_size=4, max_batch_delay_ms=250, request_timeout_s=90)
    await asyncio.to_thread(env.deploy, spec)
    (pod,) = await asyncio.to_thread(env.wait_ready, "tiny")
    ip = pod["status"]["podIP"]
    fetch = env.logs(pod, "fetch-model")
    assert f"download: s3://models/{key}" in fetch and "skipping" not in fetch, fetch
    d = _describe(ip, "my-tiny")
    assert (d["batchSize"], d["maxBatchDelay"], d["responseTimeout"]) == (4, 250, 90), d
    assert (d["minWorkers"], d["maxWorkers"]) == (2, 2), d
    assert len([w for w in d["workers"] if w["status"] == "READY"]) == 2, d["workers"]
    url = f"http://{ip}:8080/predictions/my-tiny"
    r = httpx.post(url, json=[1, 1, 1, 1], headers=_auth())
    assert r.status_code == 200 and r.json() == expected_output([1, 1, 1, 1])
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}):
        r = httpx.post(url, json=[1, 1, 1, 1], headers=headers)
        assert r.status_code == 401 and r.json()["type"] == "Unauthorized"
    assert json.loads(await _grpc_predict(ip, "my-tiny", TOKEN, b"[1, 1, 1, 1]")) == expected_output(
        [1, 1, 1, 1]
    )
    with pytest.raises(TorchServeError) as info:
        await _grpc_predict(ip, "my-tiny", None, b"[1, 1, 1, 1]")
    assert info.value.kind == "auth"
    (status,) = [x for x in await asyncio.to_thread(env.rt.list) if x.name == "tiny"]
    assert (status.ready, status.desired, status.status) == (1, 1, "Ready"), status
    assert status.model == "my-tiny", status
    # what tirui status and the detail pane show: TorchServe's describe, read via the pod proxy
    want = {"batchSize": 4, "maxBatchDelay": 250, "responseTimeout": 90, "minWorkers": 2, "maxWorkers": 2}
    assert status.settings == want, status.settings
    assert (await asyncio.to_thread(env.rt.get, "tiny")).settings == want
    assert httpx.get(f"http://{ip}:8080/v2/health/ready").status_code == 200  # KServe clients' probe

    worker = env.runner.worker(env.ns, pod["metadata"]["name"])
    procs = [p for c in worker.containers if c.run for p in _processes_of(c.run.init_pid)]
    assert len(procs) >= 4  # sh, torchserve, java, the model workers, nginx ...
    await asyncio.to_thread(env.rt.delete, "tiny")
    try:
        await asyncio.to_thread(wait_for, lambda: not env.pods("tiny"), "the pod object removed", 120)
    finally:
        print(env.runner_log(pod))
    assert worker.done.is_set()
    assert [p for p in procs if _alive(p)] == []
    assert worker.net.holder.poll() is not None  # the pod's network namespace is gone
    proxy = next(c for c in worker.containers if c.name == "auth-proxy")
    ts = next(c for c in worker.containers if c.name == "torchserve")
    assert proxy.history[-1][0].exit_code == 0  # nginx quit gracefully (preStop), not killed
    assert ts.history[-1][0].exit_code == 0  # TorchServe stopped on SIGTERM, after nginx drained
    log = env.runner_log(pod)
    assert "preStop hook returned" in log and "preStop hook failed" not in log and "SIGKILL" not in log, log
    from kubernetes import client

    events = json.loads(
        client.CoreV1Api(env.rt.api).list_namespaced_event(env.ns, _preload_content=False).data
    )
    assert [e for e in events["items"] if e["reason"] == "FailedPreStopHook"] == []


HOSTILE_KEYS = [
    "a b$(cd${IFS}$MODEL_STORE;touch${IFS}PWN1).mar",
    "x`cd $MODEL_STORE; touch PWN2`.mar",
    "semi;cd $MODEL_STORE;touch PWN3;.mar",
    "x'+str(open('PWN4','w'))+'.mar",
    'q"uote\\d".mar',
    "dir with space/my model.mar",
    "pct%s%n$HOME*.mar",
    "k" * 1000 + ".mar",
]
"""Object keys S3 takes, each naming a command that would leave a ``PWN`` file in the model store
if any of it ran (the store is where the check looks; no key may hold a ``/`` there)."""


def test_hostile_keys_reach_the_init_container_as_data(env: Env) -> None:
    """The rendered fetch-model init container, once for each hostile key, in one pod on the pod
    runner with the amazon/aws-cli stand-in (Debian's aws-cli 2): each download lands in the store
    under its model's file with its ETag beside it, and nothing any key names ran."""

    from tirui.cluster.manifests.build import build_for_profile

    inits, volumes, files = [], {}, {}
    for i, key in enumerate(HOSTILE_KEYS):
        source = seed_archive(env.s3, f"hostile/{key}", body=f"archive {i}".encode())
        spec = env.spec("hostile", source, model_name="")
        objects = build_for_profile(spec, env.profile, namespace=env.ns, show_secrets=True)
        template = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]
        fetch = dict(template["initContainers"][0], name=f"fetch-{i}")
        # the store Secret's two keys as the kubelet would resolve them
        fetch["env"] = [{"name": e["name"], "value": e.get("value", "testing")} for e in fetch["env"]]
        values = {e["name"]: e["value"] for e in fetch["env"]}
        assert values["S3_KEY"] == f"hostile/{key}"
        files[values["MODEL_FILE"]] = len(f"archive {i}")
        mounted = {m["name"] for m in fetch.get("volumeMounts", [])}
        volumes.update({v["name"]: v for v in template["volumes"] if v["name"] in mounted})
        inits.append(fetch)
    assert len(files) == len(HOSTILE_KEYS)  # a model file of its own for each key
    store = next(m["mountPath"] for m in inits[0]["volumeMounts"] if m["name"] in volumes)
    lister = {
        "name": "store",
        "image": inits[0]["image"],
        "command": ["sh", "-c", 'cd "$1" && stat -c "%s %n" -- * && echo END; sleep 3600', "sh", store],
        "volumeMounts": inits[0]["volumeMounts"],
    }
    core = env.create_pod(
        "hostile-keys", {"initContainers": inits, "containers": [lister], "volumes": list(volumes.values())}
    )

    def listed() -> str | None:
        assert not env.runner.errors, env.runner.errors
        try:
            text = env.runner.logs(env.ns, "hostile-keys", "store")
        except KeyError:  # not started yet (init containers still running)
            return None
        return text if "END" in text else None

    shown = wait_for(listed, "the store listed after every fetch", READY)
    found = {name: size for size, _, name in (line.partition(" ") for line in shown.splitlines()[:-1])}
    assert {name: int(size) for name, size in found.items() if not name.endswith(".etag")} == files
    assert sorted(n for n in found if n.endswith(".etag")) == sorted(f"{n}.etag" for n in files)
    assert not [n for n in found if n.startswith("PWN")], found  # (the two checks above see it too)
    for i, key in enumerate(HOSTILE_KEYS):
        log = env.runner.logs(env.ns, "hostile-keys", f"fetch-{i}")
        assert f"download: s3://models/hostile/{key}" in log, log
    assert not [p for p in Path("/").iterdir() if p.name.startswith("PWN")]
    core.delete_namespaced_pod("hostile-keys", env.ns, grace_period_seconds=0)


def test_torchserve_killed_is_restarted_with_its_reason(env: Env, archives: dict[str, bytes]) -> None:
    """The container ends when TorchServe does (not an idle container kept by the image's
    entrypoint): the kubelet restarts it at once, the restart and its reason show in tirui."""
    source = seed_archive(env.s3, "pods/killed/tiny.mar", body=archives["tiny"])
    env.deploy(env.spec("tiny", source))
    (pod,) = env.wait_ready("tiny")
    ts = next(
        c for c in env.runner.worker(env.ns, pod["metadata"]["name"]).containers if c.name == "torchserve"
    )
    assert ts.run is not None
    java = [p for p in _processes_of(ts.run.init_pid) if b"org.pytorch.serve.ModelServer" in _cmdline(p)]
    assert len(java) == 1
    os.kill(java[0], 9)

    def restarted() -> dict[str, Any] | None:
        (p,) = env.pods("tiny")
        st = next(c for c in p["status"]["containerStatuses"] if c["name"] == "torchserve")
        return st if st["restartCount"] == 1 and st.get("ready") else None

    st = wait_for(restarted, "torchserve restarted once and ready again", READY)
    assert (
        st["lastState"]["terminated"]["exitCode"] == 1 and st["lastState"]["terminated"]["reason"] == "Error"
    )
    assert "TorchServe exited" in env.logs(pod, "torchserve", previous=True)
    (status,) = [x for x in env.rt.list() if x.name == "tiny"]
    assert status.restarts == 1 and status.status == "Ready", status
    ip = pod["status"]["podIP"]
    r = httpx.post(f"http://{ip}:8080/predictions/tiny", json=[1, 1, 1, 1], headers=_auth())
    assert r.status_code == 200


def test_body_limit_and_timeouts_end_to_end(env: Env, archives: dict[str, bytes]) -> None:
    """One body limit through nginx and TorchServe; the request timeout is TorchServe's too."""
    source = seed_archive(env.s3, "pods/echo.mar", body=archives["echo"])
    env.deploy(env.spec("echo", source, max_body="8Mi", request_timeout_s=4))
    (pod,) = env.wait_ready("echo")
    ip = pod["status"]["podIP"]
    url = f"http://{ip}:8080/predictions/echo"
    headers = {**_auth(), "Content-Type": "application/octet-stream"}
    big = 7 * 2**20  # above TorchServe's own 6,553,500-byte default
    r = httpx.post(url, content=os.urandom(big), headers=headers, timeout=60)
    assert r.status_code == 200 and r.json() == {"bytes": big}
    r = httpx.post(url, content=os.urandom(8 * 2**20 + 1), headers=headers, timeout=60)
    assert r.status_code == 413
    assert _describe(ip, "echo")["responseTimeout"] == 4
    r = httpx.post(url, content=b"sleep:1", headers=headers, timeout=60)
    assert r.status_code == 200
    r = httpx.post(url, content=b"sleep:8", headers=headers, timeout=60)
    assert r.status_code >= 500  # cut at 4 s: nginx's 504 or TorchServe's own timeout


def test_the_disk_keeps_the_model_across_restarts(env: Env, archives: dict[str, bytes]) -> None:
    """With a disk the second pod finds the archive with the same ETag and skips the download."""
    from kubernetes import client

    folder = env.runner.root / "disks" / env.ns
    client.CoreV1Api(env.rt.api).create_persistent_volume(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"disk-{env.ns}"},
            "spec": {
                "capacity": {"storage": "2Gi"},
                "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": str(folder)},
                "claimRef": {"namespace": env.ns, "name": "tiny-model-store"},
            },
        }
    )
    source = seed_archive(env.s3, "pods/disk/tiny.mar", body=archives["tiny"])
    env.deploy(env.spec("tiny", source, disk_size="1Gi"))
    (first,) = env.wait_ready("tiny")
    assert "download: s3://" in env.logs(first, "fetch-model")
    assert (folder / "tiny.mar").read_bytes() == archives["tiny"]
    env.rt.restart("tiny")
    wait_for(
        lambda: [p for p in env.ready_pods("tiny") if p["metadata"]["uid"] != first["metadata"]["uid"]],
        "a new pod after the restart",
        READY,
    )
    (second,) = env.wait_ready("tiny")
    log = env.logs(second, "fetch-model")
    assert "model already on disk" in log and "skipping the download" in log and "download:" not in log, log
    ip = second["status"]["podIP"]
    assert (
        httpx.post(f"http://{ip}:8080/predictions/tiny", json=[1, 1, 1, 1], headers=_auth()).status_code
        == 200
    )


def test_a_rolling_update_under_load_drops_no_request(env: Env, archives: dict[str, bytes]) -> None:
    """An update rolls a new pod in (READY probe first) and the old one out through both preStop
    hooks, while 4 clients send through the Service (each request on a new connection, so every
    request is routed by the endpoints of that moment): not one request fails. The settings
    tirui reports follow to the new pod."""
    from tests.support.service_proxy import ServiceProxy

    v1 = seed_archive(env.s3, "pods/roll/v1/tiny.mar", body=archives["tiny"])
    env.deploy(env.spec("tiny", v1))
    (old,) = env.wait_ready("tiny")
    assert env.rt.get("tiny").settings["batchSize"] == 1
    service = ServiceProxy(env.rt.api, env.ns, "tiny", "http")
    wait_for(lambda: service.endpoints, "the Service's endpoint")
    stop = threading.Event()
    results: list[int | str] = []

    def client_loop() -> None:
        with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0), timeout=30) as c:
            while not stop.is_set():
                try:
                    r = c.post(f"{service.url}/predictions/tiny", json=[1, 1, 1, 1], headers=_auth())
                    results.append(r.status_code)
                except httpx.HTTPError as e:
                    results.append(f"{stamp()} {type(e).__name__}: {e}")

    clients = [threading.Thread(target=client_loop) for _ in range(4)]
    for t in clients:
        t.start()
    try:
        wait_for(lambda: len(results) > 50, "traffic before the update")
        v2 = seed_archive(env.s3, "pods/roll/v2/tiny.mar", body=archives["tiny2"])
        env.deploy(env.spec("tiny", v2, batch_size=3, max_batch_delay_ms=20))

        def rolled() -> bool:
            pods = env.pods("tiny")
            return len(pods) == 1 and pods[0]["metadata"]["uid"] != old["metadata"]["uid"]

        wait_for(rolled, "the old pod gone and the new one alone", READY)
        (new,) = env.wait_ready("tiny")
        after = len(results)
        wait_for(lambda: len(results) > after + 50, "traffic after the update")
    finally:
        stop.set()
        for t in clients:
            t.join()
        service.close()
    failures = [r for r in results if r != 200]
    assert failures == [], f"{len(failures)} of {len(results)} failed: {failures[:3]} {failures[-3:]}\n" + (
        env.runner_log(old) + str(service.log[-20:])
    )
    assert service.connections.get(old["status"]["podIP"]) and service.connections.get(new["status"]["podIP"])
    assert _describe(new["status"]["podIP"], "tiny")["modelVersion"] == "2.0"
    described = env.rt.get("tiny").settings  # the new pod's, not the old one's (asked before)
    assert (described["batchSize"], described["maxBatchDelay"]) == (3, 20), described
    assert "preStop hook" in env.runner_log(old)


async def test_logs_and_metrics_come_from_the_running_pod(env: Env, archives: dict[str, bytes]) -> None:
    """The API server serves the pod's logs from the runner (as from a kubelet) and proxies its
    metrics port: tirui's collector counts exactly what was sent and its p99 from the followed
    pod log is the p99 of the access-log lines TorchServe wrote in the pod."""
    from tests.support.helpers import nearest_rank
    from tirui.metrics.accesslog import parse_line
    from tirui.metrics.collector import Collector
    from tirui.metrics.series import MetricsPipeline

    source = seed_archive(env.s3, "pods/metrics/echo.mar", body=archives["echo"])
    await asyncio.to_thread(env.deploy, env.spec("echo", source))
    (pod,) = await asyncio.to_thread(env.wait_ready, "echo")
    name, ip = pod["metadata"]["name"], pod["status"]["podIP"]
    lines = await asyncio.to_thread(env.rt.logs, "echo")
    assert any("Model server started" in line for line in lines), lines[-5:]

    sources = await asyncio.to_thread(env.rt.metrics_sources, "echo")
    assert [s.name for s in sources] == [name]
    pipeline = MetricsPipeline(model="echo")
    collector = Collector(pipeline)
    n = 40
    try:
        await collector.collect(sources)  # baseline scrape through the pod proxy; follows the log
        first = pipeline.replicas[name].prev
        assert first is not None, pipeline.replicas[name].note
        before = len(env.runner.container(env.ns, name, "torchserve").sink.snapshot()[1])
        async with httpx.AsyncClient(headers=_auth()) as c:
            for i in range(n):
                body = b"sleep:0.25" if i % 10 == 0 else b"x"
                r = await c.post(f"http://{ip}:8080/predictions/echo", content=body, timeout=30)
                assert r.status_code == 200
        deadline = asyncio.get_running_loop().time() + 60
        while pipeline.aggregate_quantiles.count(3600, time.time() + 1) < n:
            assert asyncio.get_running_loop().time() < deadline, "the followed pod log never had the requests"
            await collector.collect(sources)
            await asyncio.sleep(0.2)
        await collector.collect(sources)
        last = pipeline.replicas[name].prev
        assert last is not None
        sent = (last.total("ts_inference_requests_total", model_name="echo") or 0) - (
            first.total("ts_inference_requests_total", model_name="echo") or 0
        )
        assert sent == n
        written = env.runner.container(env.ns, name, "torchserve").sink.snapshot()[1][before:]
        logged = [
            e.latency_ms
            for _, line in written
            if "ACCESS_LOG" in line and (e := parse_line(line)) and e.path == "/predictions/echo"
        ]
        assert len(logged) == n
        ours = pipeline.percentiles(3600, time.time() + 1)[0.99]
        ref = nearest_rank(logged, 0.99)
        assert ref >= 250 and ours is not None and abs(ours - ref) <= 0.1 * ref, (ours, ref)
    finally:
        await collector.aclose()


def test_the_image_entrypoint_keeps_a_container_whose_command_ended(env: Env) -> None:
    """Why tirui sets the TorchServe container's ``command``: through the pytorch/torchserve
    entrypoint (``eval "$@"``, then ``tail -f /dev/null``), arguments that end leave the container
    running with nothing in it — no restart, no reason, only a liveness probe could tell."""
    from kubernetes import client

    env.create_pod(
        "entrypoint",
        {"containers": [{"name": "ts", "image": "pytorch/torchserve:0.12.0-cpu", "args": ["echo", "done"]}]},
    )

    def said_done() -> bool:
        try:
            return "done" in env.runner.logs(env.ns, "entrypoint", "ts")
        except KeyError:  # not picked up yet
            return False

    wait_for(said_done, "the arguments evaluated")
    ts = env.runner.container(env.ns, "entrypoint", "ts")
    assert ts.run is not None and not ts.run.wait(3)  # still running after its command ended
    (p,) = [
        x
        for x in json.loads(
            client.CoreV1Api(env.rt.api).list_namespaced_pod(env.ns, _preload_content=False).data
        )["items"]
        if x["metadata"]["name"] == "entrypoint"
    ]
    assert p["status"]["containerStatuses"][0]["restartCount"] == 0
    assert "running" in p["status"]["containerStatuses"][0]["state"]
