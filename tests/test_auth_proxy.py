"""The rendered auth proxy, for real: Debian's nginx in front of a real TorchServe (auth off behind it)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import stop_process, wait_for_port
from tests.torchserve_fixture import wait_ready
from tirui.cluster.proxy import ProxyPorts, render_nginx
from tirui.demo.model import build_mar, expected_output
from tirui.torchserve.errors import TorchServeError
from tirui.torchserve.grpc import GrpcEndpoint, TorchServeGRPC
from tirui.torchserve.server import Ports, ServerConfig, start_server, stop_group

GOOD = "tok-aaaaaaaaaaaaaaaaaaaa"
ROTATED = "tok-bbbbbbbbbbbbbbbbbbbb"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyPorts]:
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed (apt-get install nginx)")
    root = tmp_path_factory.mktemp("proxy")
    build_mar(root / "store")
    up = Ports.free()
    front = Ports.free()
    ports = ProxyPorts(
        inference=front.inference,
        management=front.management,
        grpc_inference=front.grpc_inference,
        grpc_management=front.grpc_management,
        upstream_inference=up.inference,
        upstream_management=up.management,
        upstream_grpc_inference=up.grpc_inference,
        upstream_grpc_management=up.grpc_management,
    )
    ts = start_server(root / "ts", ServerConfig(up, root / "store", ["tiny.mar"], token_auth=False))
    runtime = root / "nginx"
    runtime.mkdir()
    conf = runtime / "nginx.conf"
    conf.write_text(
        render_nginx([GOOD, ROTATED], ports=ports, listen="127.0.0.1", runtime_dir=str(runtime), user="root")
    )
    check = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(runtime)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    nginx = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(runtime), "-g", "daemon off;"],
        start_new_session=True,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(ports.inference, proc=nginx)
        wait_ready(root / "ts", up, ["tiny"], token_auth=False)
        yield ports
    finally:
        stop_process(nginx)
        stop_group(ts.pid, proc=ts)


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
    assert (
        httpx.get(m, headers={"Authorization": f"Bearer {GOOD}"}).json()["models"][0]["modelName"] == "tiny"
    )


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


def test_rendering_rejects_unsafe_tokens_and_can_disable_auth() -> None:
    with pytest.raises(ValueError):
        render_nginx(['abc"; } server { listen 1'])
    open_conf = render_nginx([], auth=False)
    assert "default 1;" in open_conf and '"Bearer ' not in open_conf
