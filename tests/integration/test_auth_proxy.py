"""The rendered auth proxy, for real: Debian's nginx in front of a real TorchServe (auth off behind it)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import HANDLERS, PATIENCE
from tests.support.control_plane import wait_for
from tests.support.servers import stop_process, wait_for_port
from tests.support.torchserve_fixture import wait_ready
from tirui.cluster.manifests.build import torchserve_config
from tirui.cluster.manifests.proxy import (
    ProxyPorts,
    proxy_command,
    proxy_prestop,
    render_nginx,
    upstream_prestop,
)
from tirui.cluster.spec import DeploymentSpec
from tirui.demo.model import build_mar, expected_output
from tirui.torchserve.errors import TorchServeError
from tirui.torchserve.grpc import GrpcEndpoint, TorchServeGRPC
from tirui.torchserve.server import Ports, ServerConfig, start_server, stop_group

GOOD = "tok-aaaaaaaaaaaaaaaaaaaa"
ROTATED = "tok-bbbbbbbbbbbbbbbbbbbb"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


SPEC = DeploymentSpec(name="t", source="eos://models/tiny.mar", max_body="24Mi", request_timeout_s=30)
"""What the pair below is configured from: the same limits ``tirui deploy`` renders."""
MB20 = 20 * 10**6


@dataclass
class Pair:
    """nginx (as rendered for a pod) in front of TorchServe (as configured for a pod)."""

    ports: ProxyPorts
    ts: subprocess.Popen[bytes]
    nginx: subprocess.Popen[bytes]
    runtime: Path
    conf: Path


@contextmanager
def proxy_pair(root: Path) -> Iterator[Pair]:
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed (apt-get install nginx)")
    build_mar(root / "store")
    build_mar(root / "store", name="echo", handler=HANDLERS / "size_handler.py")
    up, front = Ports.free(), Ports.free()
    ports = ProxyPorts(
        inference=front.inference,
        management=front.management,
        grpc_inference=front.grpc_inference,
        grpc_management=front.grpc_management,
        upstream_inference=up.inference,
        upstream_management=up.management,
        upstream_grpc_inference=up.grpc_inference,
        upstream_grpc_management=up.grpc_management,
        metrics=front.metrics,
    )
    limits = {
        k: v
        for k, _, v in (line.partition("=") for line in torchserve_config(SPEC, "tiny.mar").splitlines())
        if k in ("max_request_size", "max_response_size")
    }
    config = ServerConfig(up, root / "store", ["tiny.mar", "echo.mar"], token_auth=False, extra=limits)
    ts = start_server(root / "ts", config)
    runtime = root / "nginx"
    runtime.mkdir()
    conf = runtime / "nginx.conf"
    rendered = render_nginx(
        [GOOD, ROTATED],
        ports=ports,
        listen="127.0.0.1",
        runtime_dir=str(runtime),
        user="root",
        max_body_bytes=SPEC.max_body_bytes,
        timeout_s=SPEC.request_timeout_s,
    )
    conf.write_text(rendered)
    check = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(runtime)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    env = {**os.environ, "PATH": f"{Path(NGINX).parent}:{os.environ.get('PATH', '')}"}
    nginx = subprocess.Popen(  # as the pod runs it: nginx under the rendered wrapper
        proxy_command(str(conf), prefix=str(runtime)),
        start_new_session=True,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        wait_for_port(ports.inference, proc=nginx)
        wait_ready(root / "ts", up, ["tiny", "echo"], token_auth=False)
        yield Pair(ports, ts, nginx, runtime, conf)
    finally:
        stop_process(nginx)
        stop_group(ts.pid, proc=ts)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with proxy_pair(tmp_path_factory.mktemp("proxy")) as p:
        yield p


@pytest.fixture(scope="module")
def proxied(pair: Pair) -> ProxyPorts:
    return pair.ports


def test_rest_needs_an_accepted_token(proxied: ProxyPorts) -> None:
    url = f"http://127.0.0.1:{proxied.inference}/predictions/tiny"
    for token in (GOOD, ROTATED):  # both tokens of a rotation work
        r = httpx.post(url, json=[1, 1, 1, 1], headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json() == expected_output([1, 1, 1, 1])
    for headers in ({}, {"Authorization": "Bearer wrong-token-xxxxxxxxxx"}, {"Authorization": GOOD}):
        r = httpx.post(url, json=[1, 1, 1, 1], headers=headers)
        assert r.status_code == 401 and r.json()["type"] == "Unauthorized"
    assert httpx.get(f"http://127.0.0.1:{proxied.inference}/ping").status_code == 200  # probes
    m = f"http://127.0.0.1:{proxied.management}/models"
    assert httpx.get(m).status_code == 401
    assert "tiny" in {
        x["modelName"] for x in httpx.get(m, headers={"Authorization": f"Bearer {GOOD}"}).json()["models"]
    }


async def test_grpc_needs_an_accepted_token(proxied: ProxyPorts) -> None:
    async def call(token: str | None) -> bytes:
        async with TorchServeGRPC(
            GrpcEndpoint(f"127.0.0.1:{proxied.grpc_inference}", inference_token=token)
        ) as c:
            return (await c.predict("tiny", {"data": b"[1, 1, 1, 1]"})).payload

    import json

    assert json.loads(await call(GOOD)) == expected_output([1, 1, 1, 1])
    for token in (None, "wrong-token-xxxxxxxxxx"):
        with pytest.raises(TorchServeError) as info:
            await call(token)
        assert info.value.kind == "auth" and "UNAUTHENTICATED" in str(info.value)


async def test_a_grpc_load_test_through_the_proxy(proxied: ProxyPorts) -> None:
    """nginx ends an HTTP/2 connection after 1,000 streams (GOAWAY, ``keepalive_requests``): the
    engine's streams it refused run again on a new connection, so every call of the run counts."""
    from tirui.traffic.engine.load import LoadSpec
    from tirui.traffic.loadtest import run_load

    def spec(token: str | None, requests: int) -> LoadSpec:
        return LoadSpec(
            protocol="grpc",
            url=f"127.0.0.1:{proxied.grpc_inference}",
            model="tiny",
            body=b"[1, 1, 1, 1]",
            token=token,
            requests=requests,
            concurrency=8,
            workers=1,
        )

    result = await run_load(spec(GOOD, 1500))
    assert result.statuses == {"OK": 1500}
    assert (await run_load(spec("wrong-token-xxxxxxxxxx", 10))).statuses == {"UNAUTHENTICATED": 10}


def test_the_metrics_listener_describes_a_model_read_only(proxied: ProxyPorts) -> None:
    """What tirui reads through the pod proxy, whose Authorization is the API server's: TorchServe's
    describe of one model, GET only, with the deployment's token in X-Tirui-Token (or the usual
    bearer header); without it 401; nothing else of the management API is reachable on that port.
    The metrics stay open, as Prometheus scrapes them."""
    from tirui.cluster.manifests.proxy import DESCRIBE_TOKEN_HEADER

    base = f"http://127.0.0.1:{proxied.metrics}"
    token = {DESCRIBE_TOKEN_HEADER: GOOD}
    for headers in (token, {"Authorization": f"Bearer {GOOD}"}):
        r = httpx.get(f"{base}/models/tiny", headers=headers)
        assert r.status_code == 200 and r.json()[0]["modelName"] == "tiny"
        assert "batchSize" in r.json()[0]
    for headers in ({}, {DESCRIBE_TOKEN_HEADER: "wrong-token-xxxxxxxxxx"}, {"Authorization": "Bearer x"}):
        r = httpx.get(f"{base}/models/tiny", headers=headers)
        assert r.status_code == 401 and r.json()["type"] == "Unauthorized", headers
    assert httpx.get(f"{base}/metrics").status_code == 200
    assert httpx.put(f"{base}/models/tiny?min_worker=3", headers=token).status_code == 403  # no scaling
    assert httpx.delete(f"{base}/models/tiny", headers=token).status_code == 403
    for path in ("/models", "/models/tiny/1.0", "/models/tiny/all", "/api-description"):
        assert httpx.get(base + path, headers=token).status_code == 404, path
    assert httpx.get(f"{base}/models/nope", headers=token).status_code == 404  # TorchServe's own answer


def test_kserve_health_paths_answer_with_torchserve_ping(proxied: ProxyPorts) -> None:
    """TorchServe 0.12 answers 404 on ``/v2/health/*``; the proxy maps them to ``/ping``, open
    like it (probes and KServe clients carry no token)."""
    for path in ("/v2/health/live", "/v2/health/ready"):
        r = httpx.get(f"http://127.0.0.1:{proxied.inference}{path}")
        assert r.status_code == 200 and r.json()["status"] == "Healthy", path
    r = httpx.get(f"http://127.0.0.1:{proxied.inference}/v2/health/other")
    assert r.status_code == 401  # everything else still needs a token


def test_rendering_rejects_unsafe_tokens_and_can_disable_auth() -> None:
    with pytest.raises(ValueError):
        render_nginx(['abc"; } server { listen 1'])
    open_conf = render_nginx([], auth=False)
    assert "default 1;" in open_conf and '"Bearer ' not in open_conf


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {GOOD}", "Content-Type": "application/octet-stream"}


def test_a_20mb_body_passes_over_http_and_one_above_the_limit_is_refused(pair: Pair) -> None:
    """One setting (max_body) sizes nginx and TorchServe alike; TorchServe's own default
    (6,553,500 bytes) would answer 413 to this body."""
    url = f"http://127.0.0.1:{pair.ports.inference}/predictions/echo"
    body = os.urandom(MB20)
    r = httpx.post(url, content=body, headers=_auth(), timeout=120)
    assert r.status_code == 200 and r.json() == {"bytes": MB20}
    r = httpx.post(url, content=os.urandom(SPEC.max_body_bytes + 1), headers=_auth(), timeout=120)
    assert r.status_code == 413  # nginx, before TorchServe


async def test_a_20mb_message_passes_over_grpc(pair: Pair) -> None:
    async with TorchServeGRPC(
        GrpcEndpoint(f"127.0.0.1:{pair.ports.grpc_inference}", inference_token=GOOD)
    ) as c:
        reply = await c.predict("echo", {"data": os.urandom(MB20)})
    assert json.loads(reply.payload) == {"bytes": MB20}


def _inflight(ports: ProxyPorts) -> int:
    """Requests in flight at the proxy, as tirui's metrics pipeline reads its gauge."""
    from tirui.metrics.scrape import parse
    from tirui.metrics.series import MetricsPipeline, TickInput

    snap = parse(httpx.get(f"http://127.0.0.1:{ports.metrics}/metrics").text)
    assert snap.types["tirui_proxy_connections_writing"] == "gauge"
    pipeline = MetricsPipeline()
    pipeline.tick(snap.at, {"pod": TickInput(snap)})
    value = pipeline.latest("inflight")
    assert value is not None
    return int(value)


def test_a_request_in_flight_when_the_pod_stops_completes(tmp_path: Path) -> None:
    """Both preStop hooks as rendered, run the way the kubelet runs them (at once, then the
    image's stop signal to a container once its hook returns: SIGQUIT for the nginx images,
    their STOPSIGNAL): the slow request started before completes with 200, TorchServe is stopped
    only after it, and nothing new is accepted. With only TERM trapped, the QUIT ended the shell
    and left nginx serving, and TorchServe's hook waited for it until the grace period ended."""
    with proxy_pair(tmp_path) as p:
        assert _inflight(p.ports) == 0  # the scrape itself is not counted
        url = f"http://127.0.0.1:{p.ports.inference}/predictions/echo"
        done: dict[str, Any] = {}

        def slow() -> None:
            r = httpx.post(url, content=b"sleep:3", headers=_auth(), timeout=60)
            done["status"], done["body"], done["at"] = r.status_code, r.json(), time.monotonic()

        worker = threading.Thread(target=slow)
        worker.start()
        wait_for(lambda: _inflight(p.ports) == 1, "the slow request in flight at the proxy")
        hooks = [
            subprocess.Popen(cmd) for cmd in (proxy_prestop(delay_s=1), upstream_prestop(str(p.runtime)))
        ]
        assert hooks[0].wait() == 0  # the proxy's hook: the delay for endpoints to drop the pod ...
        p.nginx.send_signal(signal.SIGQUIT)  # ... then the image's stop signal: nginx drains
        # TorchServe's hook returns once nginx has drained (the deadline only stops a hung test)
        assert hooks[1].wait(timeout=30 * PATIENCE) == 0
        ts_stopped_at = time.monotonic()
        stop_group(p.ts.pid, proc=p.ts)  # ... and only then does TorchServe get SIGTERM
        worker.join()
        assert done["status"] == 200 and done["body"] == {"bytes": len(b"sleep:3")}
        assert done["at"] <= ts_stopped_at
        assert hooks[0].wait() == 0 and p.nginx.wait() == 0  # nginx quit gracefully
        with pytest.raises(httpx.ConnectError):
            httpx.post(url, content=b"x", headers=_auth())
