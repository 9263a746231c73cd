"""The TUI's deploy form and ``tirui deploy`` build the same deployment from the same profile
(issue: one source for each piece of knowledge). The form is submitted as it opens, and the
CLI is given no flags beyond the source and the name: both take everything else from the
profile's ``[defaults]``, and render the same objects."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import yaml

from tirui.cli import main
from tirui.cluster.manifests.build import build_for_profile
from tirui.config import resolve_profile
from tirui.locations import profiles_file
from tirui.screens.deployments.deploy_form import deploy_form, spec_from

PROFILES = """
[profiles.prod.storage]
endpoint_url = "https://objectstore.example.net"
[profiles.prod.kubernetes]
context = "gpu"
namespace = "models"
[profiles.prod.defaults]
image = "registry.example.net/torchserve:0.12.0-gpu"
gpus = 2
replicas = 3
workers = 2
ingress_class = "traefik"
tls_issuer = "internal-ca"
storage_class = "fast"
gpu_product = "NVIDIA-L4"
image_pull_secrets = "regcred, other"
shm_size = "{shm}"
max_body = "100Mi"
request_timeout_s = 300
"""


def cli_objects(*flags: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--profile", "prod", "deploy", "eos://models/r50.mar", "--name", "resnet", *flags])
    assert code == 0
    return [d for d in yaml.safe_load_all(out.getvalue()) if d]


def form_objects(tls_host: str = "") -> list[dict[str, Any]]:
    profile = resolve_profile("prod")
    form = deploy_form("eos://models/r50.mar", runtime_label="test", kube=True, defaults=profile.defaults)
    values = {f.name: f.value for f in form.fields} | {"name": "resnet", "tls_host": tls_host}
    spec, problems = spec_from(values, form.defaults)
    assert spec is not None, problems
    spec.model_version = "1.0"  # as --model-version says (the bucket is not read here)
    return build_for_profile(spec, profile)


def test_the_form_and_the_cli_render_the_same_objects(isolated: Path) -> None:
    for shm in ("2Gi", "0"):
        profiles_file().parent.mkdir(parents=True, exist_ok=True)
        profiles_file().write_text(PROFILES.format(shm=shm))
        cli = cli_objects("--model-version", "1.0", "--tls-host", "resnet.example.net", "--render")
        form = form_objects("resnet.example.net")
        assert [d["kind"] for d in form] == [d["kind"] for d in cli]
        for ours, theirs in zip(form, cli, strict=True):
            assert ours == theirs, ours["kind"]
        ingress = next(d for d in form if d["kind"] == "Ingress")
        assert ingress["spec"]["ingressClassName"] == "traefik"  # the TUI rendered nginx before
        pod = next(d for d in form if d["kind"] == "Deployment")["spec"]["template"]["spec"]
        shm_volumes = [v for v in pod["volumes"] if v["name"] == "dshm"]
        if shm == "0":  # no memory-backed /dev/shm (the form made a sizeLimit "0" emptyDir)
            assert shm_volumes == []
        else:
            assert shm_volumes[0]["emptyDir"]["sizeLimit"] == "2Gi"
        assert pod["imagePullSecrets"] == [{"name": "regcred"}, {"name": "other"}]
