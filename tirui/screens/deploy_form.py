"""The deploy form: a model archive becomes a deployment spec, validated field by field."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from tirui.cluster.spec import DeploymentSpec
from tirui.screens.dialogs import Field, FormDialog

INT_FIELDS = (
    "workers",
    "batch_size",
    "max_batch_delay_ms",
    "gpus",
    "replicas",
    "min_replicas",
    "max_replicas",
)
TEXT_FIELDS = ("tls_host", "disk_size")


def default_name(source: str) -> str:
    """``eos://models/ResNet_50.mar`` → ``resnet-50`` (a valid RFC 1123 name)."""
    stem = PurePosixPath(source.split("://", 1)[-1]).stem.lower() if source else ""
    name = re.sub(r"[^a-z0-9-]+", "-", stem).strip("-")[:40].strip("-")
    return name or "model"


def spec_from(values: dict[str, str]) -> tuple[DeploymentSpec | None, dict[str, str]]:
    """The spec the form describes, or the problems keyed by field."""
    problems: dict[str, str] = {}
    numbers: dict[str, int] = {}
    for key in INT_FIELDS:
        if key not in values:
            continue
        try:
            numbers[key] = int(values[key].strip())
        except ValueError:
            problems[key] = f"{values[key]!r} is not a whole number"
    spec = DeploymentSpec(
        name=values["name"].strip(),
        source=values["source"].strip(),
        model_name=values.get("model_name", "").strip(),
        workers=numbers.get("workers", 1),
        batch_size=numbers.get("batch_size", 1),
        max_batch_delay_ms=numbers.get("max_batch_delay_ms", 100),
        gpus=numbers.get("gpus", 0 if "gpus" not in values else 1),
        replicas=numbers.get("replicas", 1),
        min_replicas=numbers.get("min_replicas", 0),
        max_replicas=numbers.get("max_replicas", 0),
        tls_host=values.get("tls_host", "").strip(),
        disk_size=values.get("disk_size", "").strip(),
    )
    problems.update({k: v for k, v in spec.problems().items() if k not in problems})
    return (None if problems else spec), problems


def deploy_form(source: str, *, runtime_label: str, kube: bool = False) -> FormDialog:
    fields = [
        Field("source", "Model archive (eos://bucket/key.mar or a local path)", source),
        Field("name", "Deployment name", default_name(source)),
        Field("model_name", "Model name (empty: the archive's own)", required=False),
        Field("workers", "Workers per model", "1"),
        Field("batch_size", "Batch size", "1"),
        Field("max_batch_delay_ms", "Max batch delay (ms)", "100"),
    ]
    if kube:
        fields += [
            Field("gpus", "GPUs per replica", "1"),
            Field("replicas", "Replicas", "1"),
            Field("min_replicas", "Autoscale: min replicas (0: off)", "0"),
            Field("max_replicas", "Autoscale: max replicas (CPU 70%)", "0"),
            Field("disk_size", "Model-cache disk (e.g. 20Gi; empty: none)", required=False),
            Field("tls_host", "TLS host (cert-manager; empty: no Ingress)", required=False),
        ]

    def check(values: dict[str, str]) -> str | None:
        _, problems = spec_from(values)
        labels = {f.name: f.label for f in fields}
        return "\n".join(f"{labels.get(k, k)}: {v}" for k, v in problems.items()) or None

    note = f"Runtime: {runtime_label}. ctrl+s deploys; the Deployments table shows it Starting, then Ready."
    return FormDialog("Deploy a model", fields, note=note, validate=check)
