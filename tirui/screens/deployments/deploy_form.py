"""The deploy form: a model archive becomes a deployment spec, validated field by field.

On Kubernetes profiles ``ctrl+r`` previews the exact YAML that will be applied (Secret values
redacted) and submitting first runs a server-side dry run: its errors (RBAC, admission, objects
tirui does not own, missing object-store keys) stay in the form, next to the values to change.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from textual import work
from textual.binding import Binding
from textual.widgets import Input

from tirui.cluster.runtime import DeployOptions
from tirui.cluster.spec import DeploymentSpec, ProfileDefaults, SpecError
from tirui.screens.dialogs import Field, Form

if TYPE_CHECKING:
    from tirui.cluster.runtime import ApplyResult
    from tirui.config import DeploymentDefaults

SPEC = DeploymentSpec("", "")
"""The spec's defaults, which the form starts from where the profile names none."""


def default_name(source: str) -> str:
    """``eos://models/ResNet_50.mar`` → ``resnet-50`` (a valid RFC 1123 name)."""
    stem = PurePosixPath(source.split("://", 1)[-1]).stem.lower() if source else ""
    name = re.sub(r"[^a-z0-9-]+", "-", stem).strip("-")[:40].strip("-")
    return name or "model"


@dataclass
class DeployRequest:
    """What the deploy form dismisses with: the spec and how to deploy it (the answers to the
    dry run's questions: take over fields another manager owns, delete a dropped disk)."""

    spec: DeploymentSpec
    how: DeployOptions
    values: dict[str, str] = field(default_factory=dict)
    """What was typed: the form reopens with it when the deploy fails."""


def spec_from(
    values: dict[str, str], defaults: ProfileDefaults | None = None
) -> tuple[DeploymentSpec | None, dict[str, str]]:
    """The spec the form describes (``defaults``: the profile's, for what the form does not
    ask), or the problems keyed by field."""
    try:
        return DeploymentSpec.from_values(values, defaults), {}
    except SpecError as exc:
        return None, exc.problems


def kube_fields(defaults: DeploymentDefaults, name: str) -> list[Field]:
    """The Kubernetes part of the form, starting from the profile's ``[defaults]``."""
    d = defaults
    host = f"{name}.{d.domain}" if d.domain else ""
    return [
        Field("image", "TorchServe image", d.image),
        Field("gpus", "GPUs per replica (0: CPU nodes)", str(d.gpus)),
        Field("replicas", "Replicas", str(d.replicas)),
        Field("cpu_request", "CPU request (e.g. 1, 500m)", SPEC.cpu_request),
        Field("memory_request", "Memory request (e.g. 4Gi)", SPEC.memory_request),
        Field("memory_limit", "Memory limit (e.g. 8Gi)", SPEC.memory_limit),
        Field("min_replicas", "Autoscale: min replicas (0: off)", str(SPEC.min_replicas)),
        Field("max_replicas", "Autoscale: max replicas (0: off)", str(SPEC.max_replicas)),
        Field(
            "autoscale_metric",
            "Autoscale on: cpu (metrics-server), gpu (dcgm-exporter + adapter), queue-latency-ms, "
            "inflight, requests-per-s (Prometheus + prometheus-adapter rule: --adapter-rules)",
            SPEC.autoscale_metric,
        ),
        Field(
            "autoscale_target", "Target per pod: % for cpu/gpu, ms, requests or req/s", SPEC.autoscale_target
        ),
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
            SPEC.disk_access,
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


class DeployForm(Form[DeployRequest]):
    """The deploy form; with ``dry_run`` it checks the spec against the cluster before closing.
    Its model is a :class:`DeployRequest` (the spec from ``DeploymentSpec.from_values``, which
    owns the defaults and the rules)."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Deploy"),
        Binding("ctrl+r", "preview", "Preview YAML"),
    ]

    def __init__(
        self,
        fields: list[Field],
        *,
        note: str,
        dry_run: Callable[[DeploymentSpec, bool, bool], ApplyResult] | None = None,
        render: Callable[[DeploymentSpec], str] | None = None,
        error: str = "",
        checking: str = "Server-side dry run",
        defaults: DeploymentDefaults | None = None,
    ) -> None:
        """``dry_run`` and ``render`` block (the API server, the keyring): run in threads;
        ``checking`` names the dry run in the form's status line."""

        def check(values: dict[str, str]) -> str | None:
            _, problems = spec_from(values, defaults)
            labels = {f.name: f.label for f in fields}
            return "\n".join(f"{labels.get(k, k)}: {v}" for k, v in problems.items()) or None

        super().__init__("Deploy a model", fields, note=note, validate=check, error=error)
        self.checking = checking
        self.defaults = defaults
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

    def to_model(self, values: dict[str, str], how: DeployOptions | None = None) -> DeployRequest:
        return DeployRequest(DeploymentSpec.from_values(values), how or DeployOptions(), dict(values))

    def action_submit(self) -> None:
        values = self.values()
        if self.problem(values) is None:
            if self.dry_run is None:
                self.dismiss(self.to_model(values))
            else:
                self.check_with_cluster(values)

    @work(exit_on_error=False, exclusive=True, group="deploy-dry-run")
    async def check_with_cluster(self, values: dict[str, str]) -> None:
        """Dry run first; a conflict with another field manager and the removal of a model disk
        are each asked about (the answers go with the values: ``force``, ``prune_disk``)."""
        from tirui.core.errors import ChangedElsewhere, RuntimeFailure
        from tirui.screens.dialogs import ConfirmDialog

        spec, _ = spec_from(values, self.defaults)
        assert spec is not None and self.dry_run is not None
        force = prune_disk = False
        while True:
            self.show_error(f"{self.checking}…")
            try:
                result = await asyncio.to_thread(self.dry_run, spec, force, prune_disk)
            except ChangedElsewhere as exc:
                self.show_error(f"{self.checking}: {exc}")
                if force or not await self.app.push_screen_wait(ConfirmDialog(f"{exc}\n\nTake them over?")):
                    return
                force = True
                continue
            except RuntimeFailure as exc:
                self.show_error(f"{self.checking} failed: {exc}")
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
        self.dismiss(self.to_model(values, DeployOptions(force=force, prune_disk=prune_disk)))

    @work(exit_on_error=False, exclusive=True, group="deploy-preview")
    async def action_preview(self) -> None:
        from tirui.core.errors import RuntimeFailure
        from tirui.screens.viewer import TextViewer

        values = self.values()
        if self.render_yaml is None:
            self.show_error("The local runtime applies no YAML: it starts TorchServe on this machine.")
            return
        if self.problem(values) is not None:
            return
        spec, _ = spec_from(values, self.defaults)
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
    defaults: DeploymentDefaults | None = None,
    dry_run: Callable[[DeploymentSpec, bool, bool], ApplyResult] | None = None,
    render: Callable[[DeploymentSpec], str] | None = None,
    values: dict[str, str] | None = None,
    error: str = "",
) -> DeployForm:
    """The deploy form for ``source``; ``values`` (what was typed before) replace the defaults
    and ``error`` is shown when it opens."""
    name = default_name(source)
    fields = [
        Field("source", "Model archive (eos://bucket/key.mar or a local path)", source),
        Field("name", "Deployment name", name),
        Field("model_name", "Model name (empty: the archive's own)", required=False),
        Field("workers", "Workers per model", str(getattr(defaults, "workers", 1))),
        Field("batch_size", "Batch size", str(SPEC.batch_size)),
        Field("max_batch_delay_ms", "Max batch delay (ms)", str(SPEC.max_batch_delay_ms)),
        Field("protocol", "Protocol: torchserve, kserve (KServe v1) or kservev2 (v2)", SPEC.protocol),
        Field(
            "request_timeout_s",
            "Longest request, s (TorchServe's and the proxy's timeout)",
            str(getattr(defaults, "request_timeout_s", 120)),
        ),
        Field("env", "Extra environment (KEY=VALUE, comma separated)", required=False),
    ]
    from tirui.config import DeploymentDefaults

    if kube:
        fields += kube_fields(defaults or DeploymentDefaults(), name)
    keys = (
        "ctrl+s deploys after a server-side dry run; ctrl+r previews the YAML" if kube else "ctrl+s deploys"
    )
    note = (
        f"Runtime: {runtime_label}. {keys}; the Deployments table shows it Starting, then Ready. "
        "An existing name is updated in place, without downtime (b rolls back)."
    )
    for f in fields:
        if values and f.name in values:
            f.value = values[f.name]
    checking = "Server-side dry run" if kube else "Checking the archive"
    return DeployForm(
        fields,
        note=note,
        dry_run=dry_run,
        render=render,
        error=error,
        checking=checking,
        defaults=(defaults or DeploymentDefaults()) if kube else None,
    )
