"""The deploy form: a model archive becomes a deployment spec, validated field by field.

On Kubernetes profiles ``ctrl+r`` previews the exact YAML that will be applied (Secret values
redacted) and submitting first runs a server-side dry run: its errors (RBAC, admission, objects
tirui does not own, missing object-store keys) stay in the form, next to the values to change.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from textual import work
from textual.binding import Binding
from textual.widgets import Input

from tirui.cluster.spec import DeploymentSpec, SpecError, parse_env
from tirui.screens.dialogs import Field, FormDialog

INT_FIELDS = (
    "workers",
    "batch_size",
    "max_batch_delay_ms",
    "gpus",
    "replicas",
    "min_replicas",
    "max_replicas",
    "request_timeout_s",
)
TEXT_FIELDS = (
    "protocol",
    "image",
    "cpu_request",
    "memory_request",
    "memory_limit",
    "autoscale_metric",
    "autoscale_target",
    "disk_size",
    "storage_class",
    "disk_access",
    "tls_host",
    "tls_issuer",
    "max_body",
    "gpu_product",
    "shm_size",
)


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
    auth = values.get("auth", "yes").strip().lower()
    if auth not in ("yes", "no", "y", "n", "true", "false", "on", "off"):
        problems["auth"] = f"{auth!r}: answer yes or no"
    text = {k: values[k].strip() for k in TEXT_FIELDS if k in values}
    env: dict[str, str] = {}
    try:
        env = parse_env(values.get("env", "").split(","))
    except SpecError as exc:
        problems.update(exc.problems)
    secrets = [s.strip() for s in values.get("image_pull_secrets", "").split(",") if s.strip()]
    spec = DeploymentSpec(
        env=env,
        image_pull_secrets=secrets,
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
        request_timeout_s=numbers.get("request_timeout_s", 120),
        auth=auth in ("yes", "y", "true", "on"),
        **text,  # type: ignore[arg-type]
    )
    problems.update({k: v for k, v in spec.problems().items() if k not in problems})
    return (None if problems else spec), problems


def kube_fields(defaults: Any, name: str) -> list[Field]:
    """The Kubernetes part of the form, starting from the profile's ``[defaults]``."""
    d = defaults
    host = f"{name}.{d.domain}" if getattr(d, "domain", "") else ""
    return [
        Field("image", "TorchServe image", d.image),
        Field("gpus", "GPUs per replica (0: CPU nodes)", str(d.gpus)),
        Field("replicas", "Replicas", str(d.replicas)),
        Field("cpu_request", "CPU request (e.g. 1, 500m)", "1"),
        Field("memory_request", "Memory request (e.g. 4Gi)", "4Gi"),
        Field("memory_limit", "Memory limit (e.g. 8Gi)", "8Gi"),
        Field("min_replicas", "Autoscale: min replicas (0: off)", "0"),
        Field("max_replicas", "Autoscale: max replicas (0: off)", "0"),
        Field(
            "autoscale_metric",
            "Autoscale on: cpu (metrics-server), gpu (dcgm-exporter + adapter), queue-latency-ms, "
            "inflight, requests-per-s (Prometheus + prometheus-adapter rule: --adapter-rules)",
            "cpu",
        ),
        Field("autoscale_target", "Target per pod: % for cpu/gpu, ms, requests or req/s", "70"),
        Field("disk_size", "Model-cache disk (e.g. 20Gi; empty: none)", required=False),
        Field(
            "storage_class",
            "Disk storage class (empty: the cluster default)",
            d.storage_class,
            required=False,
        ),
        Field(
            "disk_access",
            "Disk access: ReadWriteOnce (updates recreate pods) or ReadWriteMany (shared class; rolling)",
            "ReadWriteOnce",
        ),
        Field("tls_host", "TLS host (cert-manager; empty: no Ingress)", host, required=False),
        Field("tls_issuer", "cert-manager ClusterIssuer", d.tls_issuer),
        Field("auth", "Token authentication (yes/no)", "yes"),
        Field("max_body", "Largest request/response body: nginx, TorchServe, gRPC, Ingress", d.max_body),
        Field(
            "gpu_product",
            "GPU type: nodes labelled nvidia.com/gpu.product=<this> (GPU operator); empty: any",
            d.gpu_product,
            required=False,
        ),
        Field(
            "image_pull_secrets",
            "Image pull Secrets in the namespace (comma separated; private registries)",
            d.image_pull_secrets,
            required=False,
        ),
        Field(
            "shm_size",
            "/dev/shm size, memory-backed (DataLoader workers); empty: 64Mi",
            d.shm_size,
            required=False,
        ),
    ]


class DeployForm(FormDialog):
    """The deploy form; with ``dry_run`` it checks the spec against the cluster before closing."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Deploy"),
        Binding("ctrl+r", "preview", "Preview YAML"),
    ]

    def __init__(
        self,
        fields: list[Field],
        *,
        note: str,
        dry_run: Callable[[DeploymentSpec, bool, bool], Any] | None = None,
        render: Callable[[DeploymentSpec], str] | None = None,
    ) -> None:
        """``dry_run`` and ``render`` block (the API server, the keyring): run in threads."""

        def check(values: dict[str, str]) -> str | None:
            _, problems = spec_from(values)
            labels = {f.name: f.label for f in fields}
            return "\n".join(f"{labels.get(k, k)}: {v}" for k, v in problems.items()) or None

        super().__init__("Deploy a model", fields, note=note, validate=check)
        self.dry_run = dry_run
        self.render_yaml = render
        values = {f.name: f.value for f in fields}
        name = values.get("name", "")
        self._derived: str | None = name if name == default_name(values.get("source", "")) else None
        """The name tirui gave last (as ``d`` in Buckets names it); None once the user typed one."""

    def on_input_changed(self, event: Input.Changed) -> None:
        """Typing an archive names the deployment after it, while the name is still tirui's."""
        if event.input.id != "field-source":
            return
        name = self.query_one("#field-name", Input)
        if self._derived is not None and name.value == self._derived:
            self._derived = name.value = default_name(event.value.strip())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``ctrl+r`` only where there is YAML to preview (Kubernetes profiles)."""
        return self.render_yaml is not None if action == "preview" else True

    def action_submit(self) -> None:
        values = self.values()
        if self.problem(values) is None:
            if self.dry_run is None:
                self.dismiss(values)
            else:
                self.check_with_cluster(values)

    @work(exit_on_error=False, exclusive=True, group="deploy-dry-run")
    async def check_with_cluster(self, values: dict[str, str]) -> None:
        """Dry run first; a conflict with another field manager and the removal of a model disk
        are each asked about (the answers go with the values: ``force``, ``prune_disk``)."""
        from tirui.cluster.runtime import ChangedElsewhere, RuntimeFailure
        from tirui.screens.dialogs import ConfirmDialog

        spec, _ = spec_from(values)
        assert spec is not None and self.dry_run is not None
        force = prune_disk = False
        while True:
            self.show_error("Server-side dry run…")
            try:
                result = await asyncio.to_thread(self.dry_run, spec, force, prune_disk)
            except ChangedElsewhere as exc:
                self.show_error(f"Server-side dry run: {exc}")
                if force or not await self.app.push_screen_wait(ConfirmDialog(f"{exc}\n\nTake them over?")):
                    return
                force = True
                continue
            except RuntimeFailure as exc:
                self.show_error(f"Server-side dry run failed: {exc}")
                return
            if result.kept and not prune_disk:
                question = (
                    f"The new spec has no disk: also delete {', '.join(result.kept)}? It holds the cached "
                    "model (n keeps it; a later deploy with a disk reuses it)."
                )
                if await self.app.push_screen_wait(ConfirmDialog(question)):
                    prune_disk = True
                    continue
            break
        for warning in result.warnings:
            self.notify(warning, title="Autoscaling", severity="warning", timeout=15)
        self.dismiss({**values, "force": "yes" if force else "", "prune_disk": "yes" if prune_disk else ""})

    @work(exit_on_error=False, exclusive=True, group="deploy-preview")
    async def action_preview(self) -> None:
        from tirui.cluster.runtime import RuntimeFailure
        from tirui.screens.viewer import TextViewer

        values = self.values()
        if self.render_yaml is None:
            self.show_error("The local runtime applies no YAML: it starts TorchServe on this machine.")
            return
        if self.problem(values) is not None:
            return
        spec, _ = spec_from(values)
        assert spec is not None
        try:
            text = await asyncio.to_thread(self.render_yaml, spec)
        except (RuntimeFailure, ValueError) as exc:
            self.show_error(str(exc))
            return
        self.app.push_screen(TextViewer(f"YAML to apply for {spec.name} (secrets redacted)", text.splitlines))


def deploy_form(
    source: str,
    *,
    runtime_label: str,
    kube: bool = False,
    defaults: Any = None,
    dry_run: Callable[[DeploymentSpec, bool, bool], Any] | None = None,
    render: Callable[[DeploymentSpec], str] | None = None,
) -> DeployForm:
    name = default_name(source)
    fields = [
        Field("source", "Model archive (eos://bucket/key.mar or a local path)", source),
        Field("name", "Deployment name", name),
        Field("model_name", "Model name (empty: the archive's own)", required=False),
        Field("workers", "Workers per model", str(getattr(defaults, "workers", 1))),
        Field("batch_size", "Batch size", "1"),
        Field("max_batch_delay_ms", "Max batch delay (ms)", "100"),
        Field("protocol", "Protocol: torchserve, kserve (KServe v1) or kservev2 (v2)", "torchserve"),
        Field(
            "request_timeout_s",
            "Longest request, s (TorchServe's and the proxy's timeout)",
            str(getattr(defaults, "request_timeout_s", 120)),
        ),
        Field("env", "Extra environment (KEY=VALUE, comma separated)", required=False),
    ]
    if kube:
        from tirui.config import DeploymentDefaults

        fields += kube_fields(defaults or DeploymentDefaults(), name)
    keys = (
        "ctrl+s deploys after a server-side dry run; ctrl+r previews the YAML" if kube else "ctrl+s deploys"
    )
    note = (
        f"Runtime: {runtime_label}. {keys}; the Deployments table shows it Starting, then Ready. "
        "An existing name is updated in place, without downtime (b rolls back)."
    )
    return DeployForm(fields, note=note, dry_run=dry_run, render=render)
