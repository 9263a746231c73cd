"""A model's serving settings travel as one ModelSettings and are rendered by one renderer: the
spec's settings survive the local state file and an update's spec, and a local TorchServe's
``config.properties`` and a pod's say the same of them (the keys that differ are where each
listens and whether TorchServe checks tokens itself)."""

from __future__ import annotations

import json
from pathlib import Path

from tirui.cluster.local.dep import LocalDep
from tirui.cluster.local.state import LocalState
from tirui.cluster.local.versions import LocalVersions
from tirui.cluster.manifests.build import torchserve_config
from tirui.cluster.spec import DeploymentSpec
from tirui.torchserve.server import Ports, ServerConfig
from tirui.torchserve.settings import ModelSettings

SPEC = DeploymentSpec(
    "r50",
    "eos://models/r50.mar",
    workers=3,
    batch_size=8,
    max_batch_delay_ms=250,
    request_timeout_s=300,
    protocol="kservev2",
    model_version="2.0",
)
SHARED = (
    "load_models",
    "default_workers_per_model",
    "default_response_timeout",
    "models",
    "install_py_dep_per_model",
    "service_envelope",
    "metrics_mode",
)


def _keys(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def test_the_spec_settings_survive_the_state_file_and_an_update(tmp_path: Path) -> None:
    state = LocalState("r50", SPEC.source, "r50", str(tmp_path / "r50.mar"), {}, str(tmp_path))
    state.settings = SPEC.settings()
    state.protocol = SPEC.protocol
    state.save(tmp_path)
    loaded = LocalState.load(tmp_path)
    assert loaded is not None
    assert loaded.settings == ModelSettings(3, 8, 250, 300)
    assert (loaded.workers, loaded.batch_size, loaded.response_timeout_s) == (3, 8, 300)  # on disk as before
    again = LocalVersions.spec_as_is(LocalDep(loaded, tmp_path), "eos://models/r50-v2.mar")
    assert again.settings() == SPEC.settings() and again.protocol == "kservev2"


def test_a_local_and_a_pod_config_say_the_same_of_the_model() -> None:
    pod = _keys(torchserve_config(SPEC, "r50.mar"))
    local = _keys(
        ServerConfig(
            Ports(1, 2, 3, 4, 5),
            "/store",
            ["r50=r50.mar"],
            settings=SPEC.settings(),
            model_version="2.0",
            protocol="kservev2",
        ).render()
    )
    assert {k: pod.get(k) for k in SHARED} == {k: local.get(k) for k in SHARED}
    entry = json.loads(pod["models"])["r50"]["2.0"]
    assert (entry["batchSize"], entry["maxBatchDelay"], entry["responseTimeout"]) == (8, 250, 300)
    assert (entry["minWorkers"], entry["maxWorkers"]) == (3, 3)
    # where each differs, on purpose: the pod's TorchServe is behind the proxy, which checks tokens
    assert pod["disable_token_authorization"] == "true" and local["disable_token_authorization"] == "false"
    assert (
        pod["metrics_address"].startswith("http://0.0.0.0:")
        and local["metrics_address"] == "http://127.0.0.1:3"
    )
    assert pod["max_request_size"] == str(SPEC.max_body_bytes) and "max_request_size" not in local
