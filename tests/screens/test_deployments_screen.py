"""Deployments screen on the local runtime, driven with Pilot: deploy from Buckets, scale, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Input, Static

from tests.screens.test_buckets_screen import open_models
from tests.support.helpers import fill, open_modal, rows, table_rows, until
from tirui.app import TiruiApp
from tirui.locations import local_buckets_dir
from tirui.screens.dialogs import ConfirmDialog, Form, FormDialog
from tirui.storage.local import LocalStore
from tirui.torchserve.server import group_alive


def status_of(app: TiruiApp, name: str) -> str:
    runtime = app.runtime
    return runtime.get(name).status if runtime is not None and name in runtime.fleet.deps else ""


async def test_deploy_from_buckets_then_scale_and_delete(isolated: Path, tiny_mar: Path) -> None:
    store = LocalStore(local_buckets_dir())
    store.create_bucket("models")
    store.upload(tiny_mar, "models", "tiny.mar")
    app = TiruiApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_models(pilot, app)
        assert rows(app) == ["tiny.mar"]
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, Form))
        form = app.screen
        assert form.query_one("#field-source", Input).value == "eos://models/tiny.mar"
        assert form.query_one("#field-name", Input).value == "tiny"
        form.query_one("#field-workers", Input).value = "two"
        await pilot.press("ctrl+s")
        assert "not a whole number" in str(form.query_one("#form-error", Static).render())
        form.query_one("#field-workers", Input).value = "1"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.current_mode == "deploy" and not isinstance(app.screen, Form))
        await until(pilot, lambda: any(r[0] == "tiny" for r in table_rows(app)), timeout=30)
        await until(pilot, lambda: "Ready" in table_rows(app)[0][2], timeout=120)
        assert table_rows(app)[0][3] == "1/1"

        fill(await open_modal(pilot, "s", FormDialog), count="2")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: table_rows(app)[0][3] == "2/2", timeout=90)

        pgid = app.runtime.fleet.deps["tiny"].state.pgid
        await pilot.press("ctrl+d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: table_rows(app) == [], timeout=30)
        assert not group_alive(pgid)


async def test_kubernetes_profile_without_access_says_why(isolated: Path) -> None:
    from tirui.locations import profiles_file

    profiles_file().parent.mkdir(parents=True, exist_ok=True)
    kubeconfig = isolated / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    profiles_file().write_text(f'[profiles.k8s.kubernetes]\nkubeconfig = "{kubeconfig}"\ncontext = "gpu"\n')
    app = TiruiApp(profile="k8s", start_mode="deploy")
    async with app.run_test(size=(80, 24)) as pilot:
        message = lambda: str(app.screen.query_one("#deploy-message", Static).render())  # noqa: E731
        await until(pilot, lambda: "no Kubernetes access" in message())
        assert "gpu" in message()


async def test_kubernetes_deploy_scale_delete_through_the_screen(
    isolated: Path, monkeypatch: Any, k8s: Any, k8s_ns: str, s3_endpoint: str
) -> None:
    """The deploy form on the real control plane: preview, the dry run's refusal kept in the form,
    a conflict with another field manager confirmed before it is forced, the disk prune confirmed."""
    import asyncio

    from kubernetes import client
    from textual.widgets import Log

    from tests.support.control_plane import seed_archive, write_profile
    from tirui.screens.viewer import TextViewer

    monkeypatch.setenv("TIRUI_TOKEN_K8S_API", "k8s-token-0123456789abcdef")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    source = seed_archive(s3_endpoint)
    write_profile(isolated, k8s.kubeconfig, k8s_ns, s3_endpoint)
    app = TiruiApp(profile="k8s", start_mode="deploy", secrets_backend="env")
    async with app.run_test(size=(100, 40)) as pilot:
        await until(
            pilot,
            lambda: "No deployments" in str(app.screen.query_one("#deploy-message", Static).render()),
            timeout=30,
        )
        direct = app.runtime
        core, apps = client.CoreV1Api(direct.api), client.AppsV1Api(direct.api)

        async def open_form() -> Any:
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, Form))
            form = app.screen
            form.query_one("#field-source", Input).value = source
            form.query_one("#field-name", Input).value = "resnet"
            return form

        form = await open_form()
        form.query_one("#field-max_replicas", Input).value = "3"
        await pilot.press("ctrl+s")
        assert "min replicas must be at least 1" in str(form.query_one("#form-error", Static).render())
        form.query_one("#field-max_replicas", Input).value = "0"
        form.query_one("#field-disk_size", Input).value = "1Gi"
        # ctrl+r: the exact YAML, without secrets
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(app.screen, TextViewer))
        yaml_lines = app.screen.query_one("#viewer-log", Log).lines
        assert "kind: Deployment" in yaml_lines and not any("k8s-token" in x for x in yaml_lines)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is form)
        # the server-side dry run's refusal stays in the form
        foreign = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "taken"},
            "spec": {"ports": [{"port": 80}]},
        }
        await asyncio.to_thread(core.create_namespaced_service, k8s_ns, foreign)
        form.query_one("#field-name", Input).value = "taken"
        await pilot.press("ctrl+s")
        error = lambda: str(form.query_one("#form-error", Static).render())  # noqa: E731
        await until(pilot, lambda: "dry run failed" in error(), timeout=15)
        assert "Service/taken" in error() and "not managed by tirui" in error() and app.screen is form
        assert await asyncio.to_thread(direct.calls.get, "Deployment", "taken") is None
        form.query_one("#field-name", Input).value = "resnet"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is not form, timeout=30)  # after its dry run
        await until(pilot, lambda: any(r[0] == "resnet" for r in table_rows(app)), timeout=30)
        assert table_rows(app)[0][3] == "0/1"
        fill(await open_modal(pilot, "s", FormDialog), count="2")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: table_rows(app)[0][3] == "0/2", timeout=30)

        # autoscale: the HPA's own account (no metrics-server here) shows in the table and pane
        form = await open_modal(pilot, "a", FormDialog)
        fill(form, min="4", max="2")
        await pilot.press("ctrl+s")
        assert "not above max" in str(form.query_one("#form-error", Static).render())
        fill(form, min="1", max="3")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "autoscale ⚠" in table_rows(app)[0][2], timeout=90)
        detail = str(app.screen.query_one("#deploy-detail", Static).render())
        assert (
            "1-3 replicas on cpu" in detail and "ScalingActive=False" in detail and "metrics-server" in detail
        )
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, Form))
        app.screen.query_one("#field-max", Input).value = "0"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "autoscale" not in table_rows(app)[0][2], timeout=30)
        assert await asyncio.to_thread(direct.calls.get, "HorizontalPodAutoscaler", "resnet") is None

        # someone edits the image; a re-deploy without the disk names the conflict, asks, forces,
        # and then asks before it deletes the disk
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "torchserve", "image": "mine:1"}]}}}}
        await asyncio.to_thread(
            apps.patch_namespaced_deployment, "resnet", k8s_ns, patch, field_manager="kubectl-edit"
        )
        form = await open_form()
        form.query_one("#field-replicas", Input).value = "2"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), timeout=15)
        assert "'kubectl-edit'" in app.screen.question
        await pilot.press("y")
        await until(
            pilot, lambda: isinstance(app.screen, ConfirmDialog) and "disk" in app.screen.question, timeout=15
        )
        await pilot.press("y")

        def image() -> str:
            dep = apps.read_namespaced_deployment("resnet", k8s_ns)
            return str(dep.spec.template.spec.containers[0].image)

        async def pvc_gone() -> bool:
            pvc = await asyncio.to_thread(direct.calls.get, "PersistentVolumeClaim", "resnet-model-store")
            return pvc is None or bool(pvc["metadata"].get("deletionTimestamp"))

        for _ in range(300):
            if await asyncio.to_thread(image) != "mine:1" and await pvc_gone():
                break
            await pilot.pause(0.1)
        assert await asyncio.to_thread(image) != "mine:1" and await pvc_gone()

        await pilot.press("ctrl+d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: table_rows(app) == [], timeout=30)


async def test_kubernetes_live_table_events_yaml_logs_autoscale_and_playground(
    isolated: Path, monkeypatch: Any
) -> None:
    """The table follows the cluster by watch (no polling), and e/y/l/p work on Kubernetes.

    kmock, not the real control plane: the followed pod log (``l``) needs a kubelet, which the
    real control plane does not have; kmock serves that stream."""
    import asyncio

    from textual.widgets import Log

    from tests.support.kube_cluster import (
        NAMESPACE,
        emulated_cluster,
        pod,
        runtime_at,
        seed,
        write_k8s_profile,
    )
    from tests.support.kube_plumbing import k8s_stamp
    from tirui.cluster.spec import DeploymentSpec
    from tirui.screens.viewer import TextViewer

    monkeypatch.setenv("TIRUI_TOKEN_K8S_API", "k8s-token-0123456789abcdef")
    async with emulated_cluster() as km:
        write_k8s_profile(isolated, km)
        direct = runtime_at(str(km.url))
        spec = DeploymentSpec("resnet", "eos://models/r50.mar", tokens=["t" * 24], tls_host="r.example.net")
        await asyncio.to_thread(seed, direct, spec)
        await asyncio.to_thread(
            direct.calls.core.create_namespaced_event,
            NAMESPACE,
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "e1", "namespace": NAMESPACE},
                "involvedObject": {"kind": "Pod", "name": "resnet-0", "namespace": NAMESPACE},
                "reason": "FailedScheduling",
                "type": "Warning",
                "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
            },
        )

        async def log_stream(request: Any) -> Any:
            yield f"{k8s_stamp()} TorchServe is up\n".encode()
            await asyncio.sleep(30)

        km[f"get /api/v1/namespaces/{NAMESPACE}/pods/resnet-0/log"] << log_stream

        def pod_lists() -> int:
            return sum(
                1
                for r in km
                if r.url.path.endswith("/pods") and r.method.name == "GET" and r.params.get("watch") != "true"
            )

        app = TiruiApp(profile="k8s", start_mode="deploy", secrets_backend="env")
        async with app.run_test(size=(100, 40)) as pilot:
            await until(pilot, lambda: any(r[0] == "resnet" for r in table_rows(app)), timeout=30)
            await until(pilot, lambda: app.runtime is not None and app.runtime.watching(), timeout=30)
            await asyncio.to_thread(direct.calls.core.create_namespaced_pod, NAMESPACE, pod("resnet-0"))
            await until(pilot, lambda: table_rows(app)[0][3] == "1/1", timeout=10)
            assert table_rows(app)[0][5] == "https://r.example.net"
            polled = pod_lists()
            await pilot.pause(2.5)  # two table ticks: served from the watch cache
            assert pod_lists() == polled

            await pilot.press("e")
            await until(pilot, lambda: isinstance(app.screen, TextViewer))
            log = app.screen.query_one("#viewer-log", Log)
            await until(pilot, lambda: any("FailedScheduling Pod/resnet-0" in line for line in log.lines))
            await pilot.press("escape")
            await pilot.press("y")
            await until(pilot, lambda: isinstance(app.screen, TextViewer))
            log = app.screen.query_one("#viewer-log", Log)
            await until(pilot, lambda: any("kind: Ingress" in line for line in log.lines))
            assert "YAML of resnet" in str(app.screen.query_one("#viewer-title").render())
            assert not any("t" * 24 in line for line in log.lines)
            await pilot.press("escape")
            await pilot.press("l")
            await until(pilot, lambda: isinstance(app.screen, TextViewer))
            log = app.screen.query_one("#viewer-log", Log)
            await until(pilot, lambda: "[resnet-0] TorchServe is up" in log.lines, timeout=15)
            await pilot.press("slash", *"resnet-9", "enter")  # `/` filters: no line of that pod
            await until(pilot, lambda: log.lines == [])
            assert "lines with 'resnet-9'" in str(app.screen.query_one("#viewer-title").render())
            await pilot.press("slash", "escape")  # esc in the filter clears it
            await until(pilot, lambda: "[resnet-0] TorchServe is up" in log.lines)
            await pilot.press("escape")

            await pilot.press("p")
            await until(pilot, lambda: app.screen.TITLE == "Playground")
            target = await app.screen.resolve()  # type: ignore[attr-defined]
            assert target.http.inference_url == "https://r.example.net"
            assert target.grpc.inference_target == "grpc-r.example.net:443"
            assert target.http.inference_token == "k8s-token-0123456789abcdef"
