"""Canary objects on the real API server: a second tirui Deployment + Service and ingress-nginx
canary Ingresses (REST and gRPC) on the stable hosts, weights moved by re-applying them, decisions
as real Events, abort and promote (the stable rolls out with the real deployment controller
while the test plays the kubelet; the canary goes only after)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.integration.test_kube_real import Cluster
from tests.integration.test_kube_real import cluster as cluster
from tests.support.control_plane import (
    admin_client,
    register_node,
    running,
    seed_archive,
    set_pod_status,
    wait_for,
)
from tirui.canary.feed import PodGroupFeed
from tirui.cluster.kube.canary import event_reason, rolled_out
from tirui.cluster.kube.runtime import KubeError
from tirui.cluster.manifests.canary import CANARY_OF
from tirui.metrics.accesslog import AccessEntry

V2 = b"PK\x05\x06" + b"\1" * 18


def canary_objects(c: Cluster) -> dict[str, dict[str, Any]]:
    out = {}
    for kind in ("Deployment", "Service", "Ingress", "ConfigMap", "Secret"):
        for obj in c.rt.calls.list(kind, {"tirui.dev/deployment": "t-canary"}):
            out[f"{kind}/{obj['metadata']['name']}"] = obj
    return out


def test_canary_objects_weights_events_and_abort(cluster: Cluster, s3_endpoint: str) -> None:
    c = cluster
    c.deploy(c.spec(replicas=2, tls_host="t.example.com"))
    stable_template = c.raw("Deployment", "t")["spec"]["template"]  # type: ignore[index]
    v2 = seed_archive(s3_endpoint, "tiny-v2.mar", body=V2)
    status = c.rt.canary_start("t", v2, 10, "steps 10,50,100%")
    assert status.weight == 10 and status.version.startswith(v2) and not status.ready

    objects = canary_objects(c)
    assert sorted(objects) == [
        "ConfigMap/t-canary-config",
        "Deployment/t-canary",
        "Ingress/t-canary",
        "Ingress/t-canary-grpc",
        "Service/t-canary",
    ]  # the Secrets are the stable side's: one set of tokens for both
    dep = objects["Deployment/t-canary"]
    assert dep["metadata"]["labels"][CANARY_OF] == "t"
    template = dep["spec"]["template"]
    assert template["metadata"]["labels"][CANARY_OF] == "t"
    secrets = {v["secret"]["secretName"] for v in template["spec"]["volumes"] if "secret" in v}
    assert "t-tokens" in secrets and not any("canary" in s for s in secrets)
    assert "load_models=tiny=tiny.mar" in objects["ConfigMap/t-canary-config"]["data"]["config.properties"]
    service = objects["Service/t-canary"]
    assert service["spec"]["selector"] == {"tirui.dev/deployment": "t-canary"}
    stable_service = c.raw("Service", "t")
    assert stable_service is not None and stable_service["spec"]["selector"] == {"tirui.dev/deployment": "t"}
    for name, host, port in (
        ("t-canary", "t.example.com", 8080),
        ("t-canary-grpc", "grpc-t.example.com", 7070),
    ):
        ing = objects[f"Ingress/{name}"]
        notes = ing["metadata"]["annotations"]
        assert notes["nginx.ingress.kubernetes.io/canary"] == "true"
        assert notes["nginx.ingress.kubernetes.io/canary-weight"] == "10"
        assert "cert-manager.io/cluster-issuer" not in notes and "tls" not in ing["spec"]
        rule = ing["spec"]["rules"][0]
        assert rule["host"] == host
        backend = rule["http"]["paths"][0]["backend"]["service"]
        assert backend == {"name": "t-canary", "port": {"number": port}}
    assert (
        objects["Ingress/t-canary-grpc"]["metadata"]["annotations"][
            "nginx.ingress.kubernetes.io/backend-protocol"
        ]
        == "GRPC"
    )

    rows = c.rt.list()
    assert [r.name for r in rows] == ["t"]  # the canary is shown with its stable deployment
    assert rows[0].canary is not None and rows[0].canary.weight == 10
    with pytest.raises(KubeError, match="already has a canary"):
        c.rt.canary_start("t", v2, 10)

    c.rt.canary_weight("t", 50)
    objects = canary_objects(c)
    for name in ("t-canary", "t-canary-grpc"):
        assert (
            objects[f"Ingress/{name}"]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"]
            == "50"
        )
    # the weight lives in annotations (which bump a Deployment's generation) but the pod template
    # is untouched: no rollout
    assert objects["Deployment/t-canary"]["spec"]["template"] == dep["spec"]["template"]
    assert c.rt.get("t").canary.weight == 50  # type: ignore[union-attr]

    c.rt.canary_record("t", "canary rolled back at 50%: p99 120 ms vs stable 4 ms", warning=True)
    events = [text for _, text in c.rt.events("t")]
    assert any(e.startswith("Normal CanaryStarted Deployment/t: canary started") for e in events), events
    assert any(
        e.startswith("Warning CanaryRolledBack Deployment/t: canary rolled back at 50%") for e in events
    )

    c.rt.canary_abort("t")
    assert canary_objects(c) == {}
    assert c.rt.get("t").canary is None
    assert c.raw("Deployment", "t")["spec"]["template"] == stable_template  # type: ignore[index]
    with pytest.raises(KubeError, match="no canary"):
        c.rt.canary_abort("t")


def test_a_canary_needs_an_ingress_and_a_new_archive(cluster: Cluster) -> None:
    c = cluster
    c.deploy(c.spec())
    with pytest.raises(KubeError, match="no Ingress"):
        c.rt.canary_start("t", c.source, 10)
    c.deploy(c.spec(tls_host="t.example.com"))
    with pytest.raises(KubeError, match="serves already"):
        c.rt.canary_start("t", c.source, 10)
    assert canary_objects(c) == {}


def test_promotion_rolls_the_stable_out_before_the_canary_goes(cluster: Cluster, s3_endpoint: str) -> None:
    c = cluster
    api = admin_client(c.plane)
    register_node(api, f"canary-{c.ns}")

    def play_kubelet() -> None:
        for name in ("t", "t-canary"):
            for p in c.rt.pod_names(name):
                pod = c.core.read_namespaced_pod(p, c.ns)
                if (
                    pod.spec.node_name
                    and not pod.metadata.deletion_timestamp
                    and pod.status.phase != "Running"
                ):
                    set_pod_status(api, c.ns, p, running())

    c.deploy(c.spec(replicas=2, tls_host="t.example.com"))
    wait_for(lambda: (play_kubelet(), c.rt.get("t").ready == 2)[1], "2 of 2 ready")
    v2 = seed_archive(s3_endpoint, "tiny-v2.mar", body=V2)
    c.rt.canary_start("t", v2, 25)
    wait_for(
        lambda: (play_kubelet(), (c.rt.canary_status("t") or c.rt.get("t").canary).ready)[1], "canary ready"
    )  # type: ignore[union-attr]

    failure: list[BaseException] = []

    def promote() -> None:
        try:
            c.rt.canary_promote("t")
        except BaseException as exc:  # reported by the test thread
            failure.append(exc)

    promoting = threading.Thread(target=promote)
    promoting.start()

    def step() -> bool:
        # until the stable rollout is complete the canary keeps serving its share: once its
        # Deployment is gone (the promotion may still be removing the rest), the stable side has
        # rolled out to the canary's archive
        stable = c.raw("Deployment", "t")
        if c.raw("Deployment", "t-canary") is None:
            assert rolled_out(stable) and v2 in str(stable), "the canary went before the rollout"
        play_kubelet()
        return not promoting.is_alive()

    wait_for(step, "the promotion to finish", timeout=120)
    assert not failure, failure
    assert canary_objects(c) == {}
    status = c.rt.get("t")
    assert status.version.startswith(v2) and status.previous.startswith(c.source)
    assert status.ready == 2 and status.canary is None
    config = c.raw("ConfigMap", "t-config")
    assert config is not None and "load_models=tiny=tiny.mar" in config["data"]["config.properties"]


def test_event_reasons_and_the_pod_group_feed() -> None:
    assert event_reason("canary step 2/4: 25% of traffic") == "CanaryStep"
    assert event_reason("canary rolled back at 25%: …") == "CanaryRolledBack"
    assert event_reason("canary promoted: …") == "CanaryPromoted"

    class Log:
        def __init__(self, entries: list[AccessEntry]) -> None:
            self.pending, self.closed = entries, False

        def entries(self) -> list[AccessEntry]:
            out, self.pending = self.pending, []
            return out

        def close(self) -> None:
            self.closed = True

    def entry(path: str) -> AccessEntry:
        return AccessEntry(0.0, "POST", path, 200, 3.0)

    grpc = AccessEntry(
        0.0, "gRPC", "org.pytorch.serve.grpc.inference.InferenceAPIsService/Predictions", 0, 4.0
    )
    logs = {"a": Log([entry("/predictions/tiny"), entry("/ping")]), "b": Log([grpc])}
    pods = {"stable": ["a"], "canary": ["b"]}
    feed = PodGroupFeed(
        lambda: {p: (lambda p=p: logs[p]) for p in pods["stable"]},
        lambda: {p: (lambda p=p: logs[p]) for p in pods["canary"]},
        refresh_s=0,
    )
    stable, canary = feed.take()
    assert [e.path for e in stable] == ["/predictions/tiny"] and canary == [grpc]  # gRPC attributed by pod
    pods["canary"] = []
    feed.take()
    assert logs["b"].closed  # a pod that went is no longer followed
    feed.close()
    assert logs["a"].closed


async def test_canary_through_the_deployments_screen(
    isolated: Any, monkeypatch: pytest.MonkeyPatch, k8s: Any, k8s_ns: str, s3_endpoint: str
) -> None:
    """``c`` on a Kubernetes deployment: the form starts the canary objects on the real API server,
    the row shows it, the dialog moves its weight (the Ingress annotation changes) and aborts it."""
    import asyncio

    from tests.support.control_plane import write_profile
    from tests.support.helpers import fill, open_modal, table_rows, until
    from tirui.app import TiruiApp
    from tirui.cluster.spec import DeploymentSpec
    from tirui.screens.deployments.canary import CanaryDialog
    from tirui.screens.dialogs import ConfirmDialog, FormDialog

    monkeypatch.setenv("TIRUI_TOKEN_K8S_API", "k8s-token-0123456789abcdef")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    source = seed_archive(s3_endpoint)
    v2 = seed_archive(s3_endpoint, "tiny-v2.mar", body=V2)
    write_profile(isolated, k8s.kubeconfig, k8s_ns, s3_endpoint)
    app = TiruiApp(profile="k8s", start_mode="deploy", secrets_backend="env")
    async with app.run_test(size=(100, 34)) as pilot:
        runtime = await app.get_runtime()
        assert runtime is not None
        spec = DeploymentSpec("web", source, gpus=0, tls_host="web.example.com")
        await asyncio.to_thread(runtime.deploy, spec)
        await until(pilot, lambda: [r[0] for r in table_rows(app)] == ["web"], timeout=30)

        fill(await open_modal(pilot, "c", FormDialog), source=v2, weight="20", steps="")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "20%" in table_rows(app)[0][1], timeout=30)
        assert [r[0] for r in table_rows(app)] == ["web"]  # no row of its own for web-canary

        def weight() -> str:
            ing = runtime.calls.get("Ingress", "web-canary-grpc")  # type: ignore[attr-defined]
            return ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] if ing else ""

        await until(pilot, lambda: weight() == "20", timeout=30)  # the Ingresses follow the Deployment
        await open_modal(pilot, "c", CanaryDialog)
        fill(await open_modal(pilot, "w", FormDialog), weight="60")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: weight() == "60", timeout=30)
        await until(pilot, lambda: "60%" in table_rows(app)[0][1], timeout=30)

        await open_modal(pilot, "c", CanaryDialog)
        await open_modal(pilot, "x", ConfirmDialog)
        await pilot.press("y")
        await until(pilot, lambda: runtime.calls.get("Deployment", "web-canary") is None, timeout=30)  # type: ignore[attr-defined]
        await until(pilot, lambda: "%" not in table_rows(app)[0][1], timeout=30)
        events = [text for _, text in await asyncio.to_thread(runtime.events, "web")]
        assert any("CanaryAborted" in e and "by hand" in e for e in events), events
