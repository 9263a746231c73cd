"""Regenerate screenshots/*.svg: the demo flow on the local profile, headless, in a throwaway
config/data dir (``make screenshots``; needs the ``local`` extra: it deploys the demo model).

Buckets (the demo bucket, a .mar's details) → the deploy form → Deployments with the model Ready
→ Playground after a prediction → Metrics after a short load → Tokens → help. Then, when the real
control plane of ``../shared/k8s`` can start: a Kubernetes deployment of two replicas (the script
plays the kubelet, as the tests do) in the Deployments screen, its detail pane showing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "screenshots"
SIZE = (100, 30)


async def settle(pilot, app, seconds: float = 0.4) -> None:  # type: ignore[no-untyped-def]
    await pilot.pause(seconds)
    await pilot.pause()


async def until(pilot, cond, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise SystemExit("screenshot flow timed out")
        await pilot.pause(0.1)


def shot(app, name: str) -> None:  # type: ignore[no-untyped-def]
    app.save_screenshot(f"{name}.svg", path=str(OUT))
    print(f"wrote screenshots/{name}.svg")


async def shoot() -> None:
    from textual.widgets import DataTable, Input, Static

    from tirui.app import TiruiApp
    from tirui.demo.setup import prepare_demo
    from tirui.screens.dialogs import Form

    hint = prepare_demo()
    app = TiruiApp("local", hint=hint)
    async with app.run_test(size=SIZE) as pilot:
        table = lambda: app.screen.query_one("#objects", DataTable)  # noqa: E731
        await until(pilot, lambda: table().row_count > 0)
        await pilot.press("enter")
        await until(
            pilot, lambda: "all loaded" in str(app.screen.query_one("#listing-summary", Static).render())
        )
        app.clear_notifications()
        await settle(pilot, app)
        shot(app, "buckets")
        await pilot.press("i")
        await settle(pilot, app, 1.0)
        shot(app, "buckets-details")
        await pilot.press("escape")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, Form))
        await settle(pilot, app)
        shot(app, "deploy-form")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.current_mode == "deploy")
        await until(
            pilot,
            lambda: (
                app.runtime is not None and app.runtime.list() and app.runtime.list()[0].status == "Ready"
            ),
        )
        await settle(pilot, app, 1.5)
        app.clear_notifications()
        shot(app, "deployments")
        await pilot.press("i")  # the endpoint and sample requests
        await settle(pilot, app, 1.0)
        shot(app, "endpoint")
        await pilot.press("escape")
        await settle(pilot, app)
        await pilot.press("p")
        await until(pilot, lambda: app.current_mode == "play")
        await pilot.press("f5")
        await until(pilot, lambda: "200" in str(app.screen.query_one("#resp-status", Static).render()), 30)
        await settle(pilot, app)
        shot(app, "playground")
        await pilot.press("ctrl+t")
        await settle(pilot, app)
        app.screen.query_one("#lt-duration", Input).value = "6"  # the latency line needs seconds
        app.screen.query_one("#lt-rate", Input).value = "150"
        await pilot.press("ctrl+s")
        await until(
            pilot, lambda: getattr(app.screen, "result", None) is not None and not app.screen.running, 60
        )
        await settle(pilot, app)
        shot(app, "loadtest")
        await pilot.press("escape")
        await pilot.press("3")
        for _ in range(6):  # a few seconds of traffic for the charts
            await pilot.press("4")
            await pilot.press("f5")
            await pilot.press("3")
            await pilot.pause(1.0)
        head = lambda: str(app.screen.query_one("#metrics-head").render())  # noqa: E731
        while "window 1m " not in head():  # 1m: the few seconds of traffic fill more of the chart
            await pilot.press("w")
            await pilot.pause()
        await settle(pilot, app, 1.2)
        shot(app, "metrics")
        await pilot.press("5")
        await settle(pilot, app, 1.0)
        shot(app, "tokens")
        await pilot.press("question_mark")
        await settle(pilot, app)
        shot(app, "help")
        await pilot.press("escape")
        await shoot_canary(pilot, app)


async def shoot_canary(pilot, app) -> None:  # type: ignore[no-untyped-def]
    """A canary of a v2 archive at 30%, and the Metrics screen comparing both sides under load."""
    from tests.support.helpers import prediction_load
    from tirui.demo.model import build_mar
    from tirui.locations import local_buckets_dir
    from tirui.screens.dialogs import FormDialog
    from tirui.storage.local import LocalStore
    from tirui.traffic.loadtest import run_load

    with tempfile.TemporaryDirectory() as tmp:
        LocalStore(local_buckets_dir()).upload(build_mar(Path(tmp), version="2.0"), "models", "tiny-v2.mar")
    await pilot.press("2")
    await until(pilot, lambda: app.current_mode == "deploy")
    await pilot.press("c")
    await until(pilot, lambda: isinstance(app.screen, FormDialog))
    for name, value in (("source", "eos://models/tiny-v2.mar"), ("weight", "30"), ("steps", "")):
        app.screen.query_one(f"#field-{name}").value = value
    await pilot.press("ctrl+s")
    name = app.runtime.list()[0].name
    await until(pilot, lambda: app.runtime.get(name).canary is not None)
    target = app.runtime.target(name)
    spec = prediction_load(target, concurrency=2, rate=40, duration=12).with_canary(target)
    load = asyncio.ensure_future(run_load(spec))
    await pilot.press("m")
    await until(pilot, lambda: app.current_mode == "metrics")
    await pilot.pause(10)
    await load
    app.clear_notifications()
    await settle(pilot, app, 1.2)
    shot(app, "metrics-canary")


async def shoot_kubernetes(tmp: Path) -> None:
    """A Kubernetes profile on a real control plane: Deployments with the detail pane."""
    from tests.support.control_plane import (
        admin_client,
        control_plane,
        new_namespace,
        register_node,
        running,
        seed_archive,
        set_pod_status,
        wait_for,
        write_profile,
    )
    from tests.support.servers import moto_server
    from tirui.app import TiruiApp
    from tirui.cluster.kube.runtime import KubeRuntime
    from tirui.cluster.runtime import DeployOptions
    from tirui.cluster.spec import DeploymentSpec
    from tirui.secrets import TokenStore

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    from tirui.cluster.credentials import token_ref

    os.environ[token_ref("k8s", "resnet").env_var] = "tok-screenshot-0123456789"
    with moto_server() as s3, contextlib.ExitStack() as stack:
        plane = stack.enter_context(contextlib.contextmanager(control_plane)(tmp / "k8s"))
        api = admin_client(plane)
        namespace = new_namespace(api)
        register_node(api, "gpu-node-1", gpus=4, labels={"nvidia.com/gpu.present": "true"})
        profile = write_profile(Path(os.environ["XDG_CONFIG_HOME"]), plane.kubeconfig, namespace, s3)
        source = seed_archive(s3, "resnet-50.mar")
        runtime = KubeRuntime.from_profile(profile, TokenStore("env"))
        spec = DeploymentSpec(
            "resnet",
            source,
            gpus=1,
            replicas=2,
            min_replicas=2,
            max_replicas=4,
            autoscale_metric="queue-latency-ms",
            autoscale_target="50",
        )
        runtime.deploy(spec, DeployOptions())
        pods = wait_for(lambda: len(p := runtime.pod_names("resnet")) == 2 and p, "two pods")
        read = runtime.calls.core.read_namespaced_pod
        for pod in pods:
            wait_for(lambda pod=pod: read(pod, namespace).spec.node_name, "scheduled")
            set_pod_status(api, namespace, pod, running(["torchserve", "auth-proxy"]))
        runtime.shutdown()
        app = TiruiApp(profile="k8s", start_mode="deploy", secrets_backend="env")
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.runtime is not None and app.runtime.get("resnet").ready == 2)
            await settle(pilot, app, 2.0)
            app.clear_notifications()
            shot(app, "deployments-kubernetes")


async def shoot_history(tmp: Path) -> None:
    """The 24h Metrics window from a Prometheus over a backfilled day, and the alert history."""
    from tests.support.fake_runtime import FakeRuntime, status
    from tests.support.prometheus import NS, available, backfilled_prometheus
    from tirui.alerting.book import AlertBook, Observation
    from tirui.app import TiruiApp
    from tirui.locations import data_dir, profiles_file
    from tirui.metrics.alerts import Alert, Rule

    if not available():
        print("skipped the 24h and alert-history screenshots: no prometheus/promtool")
        return
    book = AlertBook(data_dir() / "alerts")
    day = 86400.0
    now = __import__("time").time()
    p99, down = Rule("tiny", "p99-ms", 15, 120), Rule("*", "no-ready")
    seen = Observation.of
    book.record(seen([Alert("tiny", p99, 18.2)], [], ["tiny"]), now - day * 0.28, [])
    book.record(seen([Alert("tiny", p99, 21.7)], [], ["tiny"]), now - day * 0.27, [])
    book.record(seen([], [("tiny", p99)], ["tiny"]), now - day * 0.25, [])
    book.record(seen([Alert("resnet", down, 1)], [], ["resnet"]), now - 3 * 3600, [])
    book.record(seen([], [("resnet", down)], ["resnet"]), now - 2.5 * 3600, [])
    book.record(seen([Alert("tiny", p99, 16.4)], [], ["tiny"]), now - 600, [])
    with backfilled_prometheus(tmp / "prometheus") as url:
        profiles_file().parent.mkdir(parents=True, exist_ok=True)
        profiles_file().write_text(
            f'[profiles.k8s.kubernetes]\nkubeconfig = "{tmp}/none"\nnamespace = "{NS}"\n'
            f'prometheus_url = "{url}"\n'
        )
        app = TiruiApp(
            profile="k8s",
            start_mode="metrics",
            open_runtime=lambda profile, tokens: FakeRuntime(status("tiny"), profile=profile),
        )
        async with app.run_test(size=SIZE) as pilot:
            head = lambda: str(app.screen.query_one("#metrics-head").render())  # noqa: E731
            await until(pilot, lambda: "tiny" in head())
            while "window 24h " not in head():
                await pilot.press("w")
                await pilot.pause()
            chart = app.screen.query_one("#chart-latency")
            await until(pilot, lambda: "window 24h" in head() and any(len(p) > 50 for _, p in chart.lines))
            await settle(pilot, app, 1.0)
            app.clear_notifications()
            shot(app, "metrics-24h")
            await pilot.press("A")
            await settle(pilot, app, 1.5)
            shot(app, "alert-history")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            XDG_CONFIG_HOME=f"{tmp}/config",
            XDG_DATA_HOME=f"{tmp}/data",
            XDG_CACHE_HOME=f"{tmp}/cache",
            DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent",
            TIRUI_SECRETS="env",
        )
        sys.path.insert(0, str(ROOT))
        asyncio.run(shoot())
        asyncio.run(shoot_history(Path(tmp)))
        try:
            asyncio.run(shoot_kubernetes(Path(tmp)))
        except (RuntimeError, OSError) as exc:  # no etcd or Kubernetes binaries here
            print(f"skipped the Kubernetes screenshot: {exc}")


if __name__ == "__main__":
    main()
