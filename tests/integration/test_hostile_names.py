"""Nothing an object key names runs in the pod: the rendered fetch script is executed with the
real ``aws`` against moto for keys made of shell, Python and configuration syntax, and the
rendered readiness probe against a loopback server; only the download happens, and the
configuration holds exactly the keys tirui writes."""

from __future__ import annotations

import base64
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.servers import moto_server
from tirui.cluster.manifests.build import build
from tirui.cluster.spec import DeploymentSpec

HOSTILE_KEYS = [
    "a b$(touch${IFS}PWN).mar",
    "x`touch PWN3`.mar",
    "x'+str(open('PWN2','w'))+'.mar",
    'q"uote\\d".mar',
    "semi;touch PWN4;.mar",
    "dir with space/my model.mar",
    "pct%s%n$HOME*.mar",
    "k" * 1000 + ".mar",
]
"""Keys S3 takes (any UTF-8 up to 1,024 bytes)."""
NEWLINE_KEY = "nl\nevil_key=1\n.mar"
"""S3 takes it too, moto's server does not (its router 404s a path with a newline): rendered and
probed here, not downloaded."""


@pytest.fixture(scope="module")
def store() -> Iterator[str]:
    with moto_server() as url:
        s3 = boto3.client(
            "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
        )
        s3.create_bucket(Bucket="models")
        for key in HOSTILE_KEYS:
            s3.put_object(Bucket="models", Key=key, Body=b"archive:" + key.encode())
        yield url


def rendered(key: str, endpoint: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The fetch container, the TorchServe container and config.properties for ``key``."""
    spec = DeploymentSpec(name="h", source=f"eos://models/{key}", tokens=["t" * 24])
    objects = build(
        spec, storage_endpoint=endpoint, access_key_id="a", secret_access_key="b", show_secrets=True
    )
    dep = next(o for o in objects if o["kind"] == "Deployment")
    pod = dep["spec"]["template"]["spec"]
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]["config.properties"]
    torchserve = next(c for c in pod["containers"] if c["name"] == "torchserve")
    return pod["initContainers"][0], torchserve, config


def container_env(container: dict[str, Any], aws_dir: str, **override: str) -> dict[str, str]:
    """The container's environment as a kubelet resolves it (the store Secret's two keys)."""
    secrets = {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
    env = {}
    for e in container["env"]:
        env[e["name"]] = e["value"] if "value" in e else secrets[e["valueFrom"]["secretKeyRef"]["key"]]
    return {**env, "PATH": f"{aws_dir}:/usr/bin:/bin", **override}


AWS_CLIS = {
    "v1": str(Path(sys.executable).parent),  # PyPI's awscli in the test venv
    "v2": "/usr/bin",  # Debian's awscli 2.9, the major version of the amazon/aws-cli image
}


@pytest.fixture(params=sorted(AWS_CLIS))
def aws_dir(request: pytest.FixtureRequest) -> str:
    folder = AWS_CLIS[request.param]
    r = subprocess.run([f"{folder}/aws", "--version"], capture_output=True, text=True)
    version = (r.stdout + r.stderr).strip()
    assert version.startswith(f"aws-cli/{request.param[1]}."), (
        f"{folder}/aws is {version!r}: the fetch script is tested with awscli {request.param} "
        "(v2: Debian's awscli package, which .ci/run installs)"
    )
    return folder


@pytest.mark.parametrize("key", HOSTILE_KEYS, ids=range(len(HOSTILE_KEYS)))
def test_the_fetch_script_downloads_the_object_and_runs_nothing_else(
    key: str, store: str, tmp_path: Path, aws_dir: str
) -> None:
    fetch, _, _ = rendered(key, store)
    work, models, home = tmp_path / "work", tmp_path / "store", tmp_path / "pod-home"
    for d in (work, models, home):
        d.mkdir()
    env = container_env(fetch, aws_dir, MODEL_STORE=str(models), HOME=str(home))
    assert env["S3_KEY"] == key and env["S3_BUCKET"] == "models"
    r = subprocess.run(fetch["command"], cwd=work, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    files = sorted(p.name for p in models.iterdir())
    model_file = env["MODEL_FILE"]
    assert files == [model_file, f"{model_file}.etag"]
    assert (models / model_file).read_bytes() == b"archive:" + key.encode()
    assert list(work.iterdir()) == [], "the script ran something of the key's"
    assert not any(p.name.startswith("PWN") for p in tmp_path.rglob("*"))
    # a second run finds the same ETag on the disk and downloads nothing
    again = subprocess.run(fetch["command"], cwd=work, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "skipping the download" in again.stdout, again.stderr


class _Describe(http.server.BaseHTTPRequestHandler):
    paths: list[str] = []

    def do_GET(self) -> None:
        self.paths.append(self.path)
        body = b'[{"workers": [{"status": "READY"}]}]'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize("key", [*HOSTILE_KEYS, NEWLINE_KEY], ids=range(len(HOSTILE_KEYS) + 1))
def test_the_probe_and_the_config_take_the_served_name_as_data(key: str, tmp_path: Path) -> None:
    _, torchserve, config = rendered(key, "http://127.0.0.1:9")
    # config.properties: exactly the keys tirui writes, one per line, no line from the key
    keys = [line.split("=", 1)[0] for line in config.splitlines()]
    assert "evil_key" not in keys and len(keys) == len(set(keys))
    assert all(k.replace("_", "").isalnum() for k in keys), keys
    load = next(line for line in config.splitlines() if line.startswith("load_models="))
    model, file = load.removeprefix("load_models=").split("=")
    assert file == f"{model}.mar" and model.replace("-", "").replace("_", "").replace(".", "").isalnum()
    probe = torchserve["startupProbe"]["exec"]["command"]
    assert torchserve["readinessProbe"]["exec"]["command"] == probe
    assert probe[-1] == model  # an argument, not program text
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Describe)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Describe.paths = []
    try:
        argv = [sys.executable if probe[0] == "python" else probe[0], *probe[1:]]
        argv[3] = str(server.server_address[1])  # the management port, as the pod has it
        work = tmp_path / "probe-cwd"
        work.mkdir()
        r = subprocess.run(argv, cwd=work, capture_output=True, text=True)
    finally:
        server.shutdown()
    assert r.returncode == 0, r.stderr
    assert _Describe.paths == [f"/models/{model}"]
    assert list(work.iterdir()) == [], "the probe ran something of the key's"
    assert not any(p.name.startswith("PWN") for p in tmp_path.rglob("*"))


def test_a_key_with_spaces_serves_under_a_name_tirui_derives() -> None:
    _, _, config = rendered("dir with space/my model.mar", "http://127.0.0.1:9")
    assert "load_models=my-model=my-model.mar" in config.splitlines()


def test_an_explicit_model_name_with_syntax_is_refused() -> None:
    from tirui.cluster.spec import SpecError

    for bad in ("a b", "x'+y", "n\nl", "$(x)", "k" * 101):
        with pytest.raises(SpecError, match="model_name"):
            DeploymentSpec(name="h", source="eos://m/x.mar", model_name=bad, tokens=["t" * 24]).validate()


def test_secrets_in_the_rendering_stay_base64(store: str) -> None:
    """The store's keys reach the fetcher only through the Secret (never the script)."""
    fetch, _, _ = rendered(HOSTILE_KEYS[0], store)
    assert "b" not in fetch["command"][2].split() and "AWS_SECRET_ACCESS_KEY" not in fetch["command"][2]
    spec = DeploymentSpec(name="h", source=f"eos://models/{HOSTILE_KEYS[0]}", tokens=["t" * 24])
    secret = build(spec, access_key_id="a", secret_access_key="s3cr3t", show_secrets=True)[0]
    assert base64.b64decode(secret["data"]["AWS_SECRET_ACCESS_KEY"]) == b"s3cr3t"
    assert os.environ.get("S3_KEY") is None


def test_a_missing_object_fails_the_fetch_and_leaves_no_file(
    store: str, tmp_path: Path, aws_dir: str
) -> None:
    """What the script relies on of either awscli: a non-zero exit when the object is gone (so
    the init container fails and says why), and nothing left in the model store."""
    fetch, _, _ = rendered("gone/not-there.mar", store)
    models, home = tmp_path / "store", tmp_path / "pod-home"
    models.mkdir()
    home.mkdir()
    env = container_env(fetch, aws_dir, MODEL_STORE=str(models), HOME=str(home))
    r = subprocess.run(fetch["command"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode != 0 and ("404" in r.stderr or "Not Found" in r.stderr), r.stderr
    assert list(models.iterdir()) == []
