"""API outages in the TUI: no screen exits, the header names the kube context and says
connected/offline on every screen, and the Deployments table marks its rows stale while the
API server is down and recovers by itself when it returns (a real kube-apiserver, stopped and
started again by PID)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.control_plane import ControlPlane, seed_archive, write_profile
from tests.support.helpers import table_rows, until
from tirui.app import TiruiApp
from tirui.locations import profiles_file


def header(app: TiruiApp) -> str:
    return str(app.screen.query_one("#status-header").render())


async def test_no_screen_exits_when_the_api_server_is_unreachable(isolated: Path) -> None:
    kubeconfig = isolated / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gpu-cluster\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: gpu-cluster, context: {cluster: c, user: u}}]\n"
        "users: [{name: u, user: {token: x}}]\n"
    )
    profiles_file().parent.mkdir(parents=True, exist_ok=True)
    profiles_file().write_text(f'[profiles.k8s.kubernetes]\nkubeconfig = "{kubeconfig}"\nnamespace = "ml"\n')
    app = TiruiApp(profile="k8s", secrets_backend="env")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(
            pilot, lambda: "gpu-cluster/ml" in header(app) and "● offline │ eos" in header(app), timeout=30
        )
        for key, title in (("3", "Metrics"), ("2", "Deployments"), ("4", "Playground"), ("3", "Metrics")):
            await pilot.press(key)
            await until(pilot, lambda t=title: t == app.screen.TITLE)
            await pilot.pause(1.5)
            assert app.is_running and app.return_code is None
            assert "● offline │ eos" in header(app) and "gpu-cluster/ml" in header(app)
        await pilot.press("2")
        message = lambda: str(app.screen.query_one("#deploy-message").render())  # noqa: E731
        await until(pilot, lambda: "cannot reach the Kubernetes API" in message(), timeout=30)


async def test_stale_rows_during_an_outage_and_recovery(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, k8s: ControlPlane, k8s_ns: str, s3_endpoint: str
) -> None:
    from kubernetes import client

    from tirui.cluster.kube.runtime import KubeRuntime
    from tirui.cluster.spec import DeploymentSpec
    from tirui.secrets import TokenStore

    monkeypatch.setenv("TIRUI_TOKEN_K8S_API", "k8s-token-0123456789abcdef")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    profile = write_profile(isolated, k8s.kubeconfig, k8s_ns, s3_endpoint)
    direct = KubeRuntime.from_profile(profile, TokenStore("env"))
    spec = DeploymentSpec("resnet", seed_archive(s3_endpoint), gpus=0)
    await asyncio.to_thread(direct.deploy, spec)

    app = TiruiApp(profile="k8s", start_mode="deploy", secrets_backend="env")
    async with app.run_test(size=(110, 30)) as pilot:
        await until(pilot, lambda: any(r[0] == "resnet" for r in table_rows(app)), timeout=30)
        await until(
            pilot, lambda: "admin@loopback/" in header(app) and "● connected │ eos" in header(app), timeout=30
        )
        await asyncio.to_thread(k8s.stop_apiserver)
        try:
            await until(pilot, lambda: "stale" in table_rows(app)[0][2], timeout=60)
            assert "● offline │ eos" in header(app)
            assert "Rows are stale" in str(app.screen.query_one("#deploy-message").render())
            await pilot.press("3")  # other screens keep working during the outage
            await until(pilot, lambda: app.screen.TITLE == "Metrics")
            await pilot.pause(1.5)
            assert app.is_running and "● offline │ eos" in header(app)
            await pilot.press("2")
        finally:
            await asyncio.to_thread(k8s.start)
        await until(pilot, lambda: "● connected │ eos" in header(app), timeout=60)
        await until(pilot, lambda: "stale" not in table_rows(app)[0][2], timeout=60)
        # the watch is live again: a change made now reaches the table
        apps = client.AppsV1Api(direct.api)
        await asyncio.to_thread(
            apps.patch_namespaced_deployment_scale, "resnet", k8s_ns, {"spec": {"replicas": 3}}
        )
        await until(pilot, lambda: table_rows(app)[0][3].endswith("/3"), timeout=60)
        assert app.is_running
