"""``tirui deploy|status|scale|delete`` and ``deploy --render``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import kubernetes_validate
import yaml

from tirui.locations import profiles_file


def tirui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tirui", *args], capture_output=True, text=True, timeout=180)


def test_render_needs_no_cluster_and_is_schema_valid(isolated: Path) -> None:
    profiles_file().parent.mkdir(parents=True, exist_ok=True)
    profiles_file().write_text(
        '[profiles.prod.storage]\nendpoint_url = "https://objectstore.example.net"\n'
        '[profiles.prod.kubernetes]\ncontext = "gpu"\nnamespace = "models"\n'
    )
    r = tirui(
        "--profile",
        "prod",
        "deploy",
        "eos://models/r50.mar",
        "--name",
        "resnet",
        "--gpus",
        "2",
        "--min-replicas",
        "1",
        "--max-replicas",
        "4",
        "--autoscale-metric",
        "ts_queue_latency=500m",
        "--disk",
        "20Gi",
        "--tls-host",
        "resnet.example.net",
        "--env",
        "TS_LOG_LEVEL=debug",
        "--cpu",
        "2",
        "--memory",
        "6Gi",
        "--render",
    )
    assert r.returncode == 0, r.stderr
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    assert [d["kind"] for d in docs] == [
        "Secret",
        "Secret",
        "ConfigMap",
        "PersistentVolumeClaim",
        "Deployment",
        "Service",
        "Ingress",
        "Ingress",
        "HorizontalPodAutoscaler",
    ]
    for d in docs:
        kubernetes_validate.validate(d, kubernetes_validate.latest_version(), strict=True)
        assert d["metadata"]["namespace"] == "models"
    serve = docs[4]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "TS_LOG_LEVEL", "value": "debug"} in serve["env"]
    requests = serve["resources"]["requests"]
    assert (requests["cpu"], requests["memory"]) == ("2", "6Gi")
    env = docs[4]["spec"]["template"]["spec"]["initContainers"][0]["env"]
    assert {"name": "S3_ENDPOINT", "value": "https://objectstore.example.net"} in env
    r = tirui("--profile", "prod", "deploy", "eos://models/r50.mar", "--name", "resnet")
    assert r.returncode == 1 and "kube context gpu" in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_bad_input_is_one_line(isolated: Path) -> None:
    for args, message in [
        (("deploy", "eos://m/x.mar", "--name", "Bad_Name", "--render"), "not a valid name"),
        (
            (
                "deploy",
                "eos://m/x.mar",
                "--name",
                "ok",
                "--min-replicas",
                "3",
                "--max-replicas",
                "1",
                "--render",
            ),
            "below min",
        ),
        (("deploy", "eos://m/x.txt", "--name", "ok", "--render"), "not a TorchServe model archive"),
        (("status", "nope"), "no local deployment"),
        (("deploy", "eos://m/x.mar", "--name", "ok", "--env", "NOEQUALS", "--render"), "not KEY=VALUE"),
        (
            ("deploy", "eos://m/x.mar", "--name", "ok", "--env", "9X=1", "--render"),
            "not an environment variable",
        ),
        (("deploy", "eos://m/x.mar", "--name", "ok", "--cpu", "lots", "--render"), "lots"),
    ]:
        r = tirui(*args)
        assert r.returncode == 1 and message in r.stderr and r.stderr.count("\n") == 1, (args, r.stderr)


def test_local_lifecycle_from_the_cli(isolated: Path, tiny_mar: Path) -> None:
    r = tirui("deploy", str(tiny_mar), "--name", "clid")
    assert r.returncode == 0 and "clid: Starting" in r.stdout, r.stderr
    try:
        deadline = time.monotonic() + 120
        while "Ready" not in (out := tirui("status", "clid").stdout) and time.monotonic() < deadline:
            time.sleep(1)
        assert "Ready" in out and "1/1" in out
        assert tirui("scale", "clid", "2").returncode == 0
        assert "2/2" in tirui("status", "clid").stdout
    finally:
        r = tirui("delete", "clid")
    assert r.returncode == 0 and "deleted" in r.stdout
    assert "clid" not in tirui("status").stdout


async def test_kubernetes_lifecycle_from_the_cli(isolated: Path) -> None:
    """The CLI in a subprocess against the kmock API emulator served by this test."""
    import asyncio
    import os

    from tests.kube_cluster import emulated_cluster, write_k8s_profile

    env = {
        **os.environ,
        "TIRUI_SECRETS": "env",
        "TIRUI_TOKEN_K8S_API": "k8s-token-0123456789abcdef",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret-example",
    }

    async def run(*args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tirui",
            "--profile",
            "k8s",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        return proc.returncode or 0, out.decode(), err.decode()

    async with emulated_cluster() as km:
        write_k8s_profile(isolated, km)
        code, out, err = await run("deploy", "eos://models/r50.mar", "--name", "resnet", "--dry-run")
        assert code == 0 and "dry run accepted" in out, err
        code, out, err = await run("deploy", "eos://models/r50.mar", "--name", "resnet", "--gpus", "2")
        assert code == 0 and "resnet: Starting" in out, err
        code, out, err = await run("status")
        assert code == 0 and "resnet" in out and "0/1" in out, err
        code, out, err = await run("scale", "resnet", "3")
        assert code == 0, err
        assert "0/3" in (await run("status", "resnet"))[1]
        code, out, err = await run("autoscale", "resnet", "--min", "2", "--max", "6", "--metric", "gpu=80")
        assert code == 0 and "autoscaling 2-6" in out, err
        code, out, err = await run("scale", "resnet", "1")
        assert code == 1 and "autoscaled" in err and err.count("\n") == 1
        # requests go to the deployment's Service address (no TLS host): unreachable from here
        code, out, err = await run("predict", "resnet", "r50", "--data", "[1]")
        assert code == 1 and "resnet.ml.svc" in err and err.count("\n") == 1, err
        code, out, err = await run("top", "resnet", "--once")
        assert code == 0 and out.startswith("resnet: - req/s"), out + err
        code, out, err = await run("predict", "ghost", "r50")
        assert code == 1 and "no tirui deployment named 'ghost'" in err and err.count("\n") == 1, err
        code, out, err = await run("delete", "resnet")
        assert code == 0 and "deleted" in out, err
        code, out, err = await run("status", "resnet")
        assert code == 1 and "no tirui deployment named 'resnet'" in err
