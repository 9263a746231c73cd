"""``tirui deploy --render`` keeps the batch settings: a real TorchServe started with the rendered
``config.properties`` describes what was asked, whether the model version came from a reachable
bucket or from ``--model-version``; without either, the render refuses in one line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import yaml

from tests.support.servers import moto_server
from tests.support.torchserve_fixture import wait_ready
from tirui.locations import profiles_file
from tirui.torchserve.server import Ports, server_env, stop_group, torchserve_command

pytestmark = pytest.mark.slow
SETTINGS = ("--batch-size", "4", "--max-batch-delay", "250", "--response-timeout", "300")


@pytest.fixture
def bucket(isolated: Path, tiny_mar: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with moto_server() as url:
        for k, v in {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}.items():
            monkeypatch.setenv(k, v)
        s3 = boto3.client(
            "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
        )
        s3.create_bucket(Bucket="models")
        s3.put_object(Bucket="models", Key="dir/tiny.mar", Body=tiny_mar.read_bytes())
        profiles_file().parent.mkdir(parents=True, exist_ok=True)
        profiles_file().write_text(
            f'[profiles.s3.storage]\nendpoint_url = "{url}"\ncredentials = "env"\n'
            f'[profiles.off.storage]\nendpoint_url = "http://127.0.0.1:9"\ncredentials = "env"\n'
        )
        yield url


def render(profile: str, *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["--profile", profile, "deploy", "eos://models/dir/tiny.mar", "--name", "t", "--render", *extra]
    return subprocess.run([sys.executable, "-m", "tirui", *args], capture_output=True, text=True)


def config_of(stdout: str) -> str:
    docs = [d for d in yaml.safe_load_all(stdout) if d]
    return next(d for d in docs if d["kind"] == "ConfigMap")["data"]["config.properties"]


def describe_with(config: str, tiny_mar: Path, root: Path) -> dict[str, Any]:
    """Start TorchServe with ``config`` (its addresses moved to free loopback ports, its model
    store to a folder holding the archive under the rendered name) and describe the model."""
    lines = dict(line.split("=", 1) for line in config.splitlines())
    model, mar = lines["load_models"].split("=")
    store, work = root / "store", root / "run"
    store.mkdir()
    work.mkdir()
    shutil.copy(tiny_mar, store / mar)
    ports = Ports.free()
    lines |= {
        "inference_address": f"http://127.0.0.1:{ports.inference}",
        "management_address": f"http://127.0.0.1:{ports.management}",
        "metrics_address": f"http://127.0.0.1:{ports.metrics}",
        "grpc_inference_port": str(ports.grpc_inference),
        "grpc_management_port": str(ports.grpc_management),
        "model_store": str(store),
    }
    cfg = work / "config.properties"
    cfg.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    (work / "logs").mkdir()
    with (work / "logs" / "stdout.log").open("ab") as out:
        proc = subprocess.Popen(
            [*torchserve_command(), "--start", "--foreground", "--ncs", "--ts-config", str(cfg)],
            cwd=work,
            env=server_env(work),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(work, ports, [model], token_auth=False)
        r = httpx.get(f"http://127.0.0.1:{ports.management}/models/{model}", timeout=10)
        return dict(r.json()[0])
    finally:
        stop_group(proc.pid, proc=proc)


def test_settings_from_a_reachable_bucket_reach_torchserve(
    bucket: str, tiny_mar: Path, tmp_path: Path
) -> None:
    r = render("s3", *SETTINGS)
    assert r.returncode == 0, r.stderr
    config = config_of(r.stdout)
    assert "models=" in config
    d = describe_with(config, tiny_mar, tmp_path)
    assert (d["batchSize"], d["maxBatchDelay"], d["responseTimeout"]) == (4, 250, 300), d


def test_an_unreachable_bucket_needs_the_model_version(bucket: str, tiny_mar: Path, tmp_path: Path) -> None:
    r = render("off", *SETTINGS)
    assert r.returncode != 0 and r.stdout == "" and r.stderr.count("\n") == 1, r.stderr
    assert "--model-version" in r.stderr and "Traceback" not in r.stderr
    assert render("off").returncode == 0  # no batch settings: nothing is lost without the version
    r = render("off", *SETTINGS, "--model-version", "1.0")
    assert r.returncode == 0, r.stderr
    d = describe_with(config_of(r.stdout), tiny_mar, tmp_path)
    assert (d["batchSize"], d["maxBatchDelay"], d["responseTimeout"]) == (4, 250, 300), d
