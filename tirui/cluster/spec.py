"""What one deployment is: the spec the deploy form, the CLI and both runtimes share.

Validation returns every problem at once, keyed by field, so a form can show each next to its
input and the CLI can print the first as one line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from tirui.cluster.autoscale import metric_problem, target_problem
from tirui.cluster.quantities import QUANTITY_RE, to_bytes
from tirui.core.errors import RuntimeFailure
from tirui.storage.uri import is_remote

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
HOST_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$"
)
ENV_NAME_RE = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
"""Names Kubernetes accepts for container environment variables."""
MIN_BODY, MAX_BODY = 1024, 2**31 - 1
"""TorchServe's request/response limits are Java ints."""
MAX_NAME = 40
MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
"""What tirui serves a model as: TorchServe's URL path segment and ``config.properties`` key."""
MAX_MODEL_NAME = 100


def is_model_name(name: str) -> bool:
    """A name TorchServe takes in a URL and a config value: :data:`MODEL_NAME_RE`, at most
    :data:`MAX_MODEL_NAME` characters."""
    return len(name) <= MAX_MODEL_NAME and MODEL_NAME_RE.match(name) is not None


def model_name_of(source: str, model_name: str = "") -> str:
    """The name TorchServe serves ``source``'s model under: ``model_name`` when given, else the
    archive's file name without ``.mar``, each run of other characters than ASCII letters,
    digits, ``_``, ``-`` and ``.`` made one ``-`` (``eos://m/my model.mar`` serves ``my-model``),
    at most 100 characters. An object key reaches the pod only as data (docs/kubernetes.md); the
    name derived here is what goes into TorchServe's configuration and URLs."""
    if model_name:
        return model_name
    stem = source.rsplit("/", 1)[-1].removesuffix(".mar")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem)[:MAX_MODEL_NAME].strip("-_.")
    return name or "model"


"""RFC 1123 labels allow 63; tirui appends suffixes such as ``-tokens`` to object names."""


def version_text(source: str, model_version: str, etag: str) -> str:
    """``eos://models/tiny-v2.mar · v2.0 · etag 1a2b3c4d``: a served archive in one line."""
    parts = [source] + ([f"v{model_version}"] if model_version else [])
    return " · ".join(parts + ([f"etag {etag.strip(chr(34))[:8]}"] if etag else []))


class SpecError(RuntimeFailure, ValueError):
    """A spec with problems; ``problems`` maps field names to sentences. A runtime failure like
    any other (a deploy of it changes nothing), and a ``ValueError`` for the forms' checks."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))


if TYPE_CHECKING:
    from tirui.torchserve.settings import ModelSettings

INT_FIELDS = (
    "workers", "batch_size", "max_batch_delay_ms", "gpus", "replicas", "min_replicas", "max_replicas",
    "request_timeout_s",
)  # fmt: skip
"""The spec's whole-number fields a form fills in (:meth:`DeploymentSpec.from_values`)."""
TEXT_FIELDS = (
    "protocol", "image", "cpu_request", "memory_request", "memory_limit", "autoscale_metric",
    "autoscale_target", "disk_size", "storage_class", "disk_access", "tls_host", "tls_issuer",
    "max_body", "gpu_product", "shm_size", "ingress_class",
)  # fmt: skip
"""Its text fields a form fills in."""
PROFILE_DEFAULTS = (
    "image", "gpus", "replicas", "workers", "storage_class", "tls_issuer", "ingress_class",
    "gpu_product", "image_pull_secrets", "shm_size", "max_body", "request_timeout_s",
)  # fmt: skip
"""The fields a profile's ``[defaults]`` fills where the form or the command line gave none."""


class ProfileDefaults(Protocol):
    """What a profile's ``[defaults]`` says of the fields in :data:`PROFILE_DEFAULTS`
    (``tirui.config.DeploymentDefaults``)."""

    @property
    def image(self) -> str: ...
    @property
    def gpus(self) -> int: ...
    @property
    def replicas(self) -> int: ...
    @property
    def workers(self) -> int: ...
    @property
    def storage_class(self) -> str: ...
    @property
    def tls_issuer(self) -> str: ...
    @property
    def ingress_class(self) -> str: ...
    @property
    def gpu_product(self) -> str: ...
    @property
    def image_pull_secrets(self) -> str: ...
    @property
    def shm_size(self) -> str: ...
    @property
    def max_body(self) -> str: ...
    @property
    def request_timeout_s(self) -> int: ...


def shm_size_of(text: str) -> str:
    """``/dev/shm``'s size as the spec keeps it: ``"0"`` and ``""`` both mean no memory-backed
    ``/dev/shm`` (the runtime's 64Mi), in the form as on the command line and in the profile."""
    text = text.strip()
    return "" if text in ("", "0") else text


def secrets_of(text: str) -> list[str]:
    """A comma-separated list of image pull Secrets."""
    return [s.strip() for s in text.split(",") if s.strip()]


YES, NO = ("yes", "y", "true", "on"), ("no", "n", "false", "off")

PROTOCOLS = ("torchserve", "kserve", "kservev2")
"""TorchServe's request formats; the last two are its ``service_envelope`` values."""


@dataclass
class DeploymentSpec:
    """A TorchServe deployment of one model archive."""

    name: str
    source: str
    """``eos://bucket/key.mar`` or (local runtime) a path to a ``.mar``."""
    workers: int = 1
    """TorchServe workers per model (per replica)."""
    replicas: int = 1
    batch_size: int = 1
    max_batch_delay_ms: int = 100
    model_name: str = ""
    """Name the model is served under; empty means the archive's own name."""
    protocol: str = "torchserve"
    """The request format TorchServe expects: ``torchserve`` (its own), ``kserve`` (KServe v1:
    ``POST /v1/models/M:predict`` with ``{"instances": [...]}``) or ``kservev2`` (the Open
    Inference Protocol: ``POST /v2/models/M/infer``), TorchServe's ``service_envelope``."""
    env: dict[str, str] = field(default_factory=dict)
    # -- Kubernetes -------------------------------------------------------------------------
    image: str = "pytorch/torchserve:0.12.0-gpu"
    gpus: int = 1
    """``nvidia.com/gpu`` per replica; 0 runs on CPU nodes."""
    gpu_node_selector: dict[str, str] = field(default_factory=lambda: {"nvidia.com/gpu.present": "true"})
    cpu_request: str = "1"
    cpu_limit: str = ""
    memory_request: str = "4Gi"
    memory_limit: str = "8Gi"
    min_replicas: int = 0
    """With ``max_replicas``: autoscale between them (HorizontalPodAutoscaler)."""
    max_replicas: int = 0
    autoscale_metric: str = "cpu"
    """``cpu``, ``gpu``, ``queue-latency-ms``, ``inflight``, ``requests-per-s`` (see
    :mod:`tirui.cluster.autoscale`) or the name of a Pods metric the adapter serves."""
    autoscale_target: str = "70"
    """Percent for cpu/gpu; ms, requests or req/s for the named rates; a quantity for a raw metric."""
    disk_size: str = ""
    """Persistent disk caching the model store; empty means none."""
    disk_access: str = "ReadWriteOnce"
    """``ReadWriteOnce`` (one node: updates recreate the pods) or ``ReadWriteMany`` (a storage
    class that shares it, e.g. NFS/EFS/Filestore: updates roll with no downtime)."""
    storage_class: str = ""
    max_body: str = "64Mi"
    """Largest request and response body: nginx, TorchServe (HTTP and gRPC) and the Ingress."""
    request_timeout_s: int = 120
    """Longest expected request; the proxy's timeout and the drain on termination follow it."""
    gpu_product: str = ""
    """Only nodes whose ``nvidia.com/gpu.product`` label has this value (e.g. NVIDIA-A100-SXM4-80GB)."""
    image_pull_secrets: list[str] = field(default_factory=list)
    """Secrets (in the namespace) for pulling the images from a private registry."""
    shm_size: str = "1Gi"
    """Size of ``/dev/shm`` (memory-backed; PyTorch workers need more than the default 64Mi)."""
    tls_host: str = ""
    tls_issuer: str = "letsencrypt"
    ingress_class: str = "nginx"
    auth: bool = True
    tokens: list[str] = field(default_factory=list)
    """Accepted bearer tokens (several at once during a rotation). Never rendered unless asked."""
    etag: str = ""
    """What was deployed: the archive's ETag when it was checked (filled in by the runtime)."""
    model_version: str = ""
    """What was deployed: the archive manifest's model version (filled in by the runtime)."""
    archive_config: dict[str, Any] = field(default_factory=dict)
    """The archive's model-config.yaml as read when it was checked (filled in by the runtime; not
    stored): the deploy says where it overrides the settings asked for."""
    restarted_at: str = ""
    """Pod-template stamp of the last rollout restart (kept across re-deploys, so an unchanged
    re-deploy does not roll the pods)."""

    @classmethod
    def from_values(
        cls, values: Mapping[str, str], defaults: ProfileDefaults | None = None
    ) -> DeploymentSpec:
        """The spec a form describes: text values keyed by field name (whole numbers for
        :data:`INT_FIELDS`, ``yes``/``no`` for ``auth``, comma-separated ``env`` and
        ``image_pull_secrets``). An absent field takes the profile's ``defaults`` (the fields of
        :data:`PROFILE_DEFAULTS`; the CLI's ``spec_from_args`` takes the same), else the spec's
        default, written once, here; with no ``defaults`` an absent ``gpus`` means none (a form
        without the field runs on CPU). Every problem at once, keyed by field: :class:`SpecError`."""
        problems: dict[str, str] = {}
        given: dict[str, Any] = {}
        if defaults is not None:
            given = {k: getattr(defaults, k) for k in PROFILE_DEFAULTS if k not in values}
            given["image_pull_secrets"] = secrets_of(defaults.image_pull_secrets)
            given["shm_size"] = shm_size_of(defaults.shm_size)
        given |= {k: values[k].strip() for k in TEXT_FIELDS if k in values}
        if "shm_size" in values:
            given["shm_size"] = shm_size_of(values["shm_size"])
        from tirui.limits import is_whole_number

        for key in INT_FIELDS:
            if key in values:
                text = values[key].strip()
                if is_whole_number(text):  # the range is judged by problems()
                    given[key] = int(text)
                else:
                    problems[key] = f"{text[:40]!r} is not a whole number"
        if "gpus" not in values and defaults is None:
            given["gpus"] = 0
        auth = values.get("auth", "yes").strip().lower()
        if auth not in YES + NO:
            problems["auth"] = f"{auth!r}: answer yes or no"
        given["auth"] = auth not in NO
        try:
            given["env"] = parse_env(values.get("env", "").split(","))
        except SpecError as exc:
            problems.update(exc.problems)
        if "image_pull_secrets" in values:
            given["image_pull_secrets"] = secrets_of(values["image_pull_secrets"])
        spec = cls(
            name=values.get("name", "").strip(),
            source=values.get("source", "").strip(),
            model_name=values.get("model_name", "").strip(),
            **given,
        )
        problems.update({k: v for k, v in spec.problems().items() if k not in problems})
        if problems:
            raise SpecError(problems)
        return spec

    @property
    def autoscaling(self) -> bool:
        return self.max_replicas > 0

    def problems(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if not self.name:
            out["name"] = "a name is required"
        elif len(self.name) > MAX_NAME or not NAME_RE.match(self.name):
            out["name"] = (
                f"{self.name!r} is not a valid name: lowercase letters, digits and '-', starting and "
                f"ending with a letter or digit, at most {MAX_NAME} characters"
            )
        if not self.source:
            out["source"] = "a model archive is required (eos://bucket/key.mar)"
        elif not self.source.endswith(".mar"):
            out["source"] = f"{self.source!r} is not a TorchServe model archive (.mar)"
        elif is_remote(self.source) and self.source.count("/") < 3:
            out["source"] = f"{self.source!r} names no object (eos://bucket/key.mar)"
        if self.protocol not in PROTOCOLS:
            out["protocol"] = f"{self.protocol!r}: the protocol is one of {', '.join(PROTOCOLS)}"
        from tirui.limits import SPEC_FIELDS

        for key, limit in SPEC_FIELDS.items():
            if problem := limit.problem(getattr(self, key)):
                out[key] = problem
        bad_env = [k for k in self.env if not ENV_NAME_RE.match(k)]
        if bad_env:
            out["env"] = f"{', '.join(map(repr, bad_env))}: not an environment variable name"
        if self.model_name and not is_model_name(self.model_name):
            out["model_name"] = (
                f"{self.model_name!r} is not a valid model name: ASCII letters, digits, '_', '-' and '.', "
                f"starting with a letter or digit, at most {MAX_MODEL_NAME} characters"
            )
        out.update(self.kube_problems())
        return out

    def kube_problems(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if not self.image or any(c.isspace() for c in self.image):
            out["image"] = f"{self.image!r} is not an image reference"
        for key in ("cpu_request", "cpu_limit", "memory_request", "memory_limit", "disk_size"):
            value = getattr(self, key)
            if value and not QUANTITY_RE.match(value):
                out[key] = f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 4Gi)"
        if self.autoscaling or self.min_replicas:
            from tirui.limits import MAX_REPLICAS

            if problem := MAX_REPLICAS.problem(self.max_replicas):
                out["max_replicas"] = problem
            elif self.min_replicas < 1:
                out["min_replicas"] = "min replicas must be at least 1 when autoscaling"
            elif self.max_replicas < self.min_replicas:
                out["max_replicas"] = f"max replicas ({self.max_replicas}) is below min ({self.min_replicas})"
            problem = metric_problem(self.autoscale_metric)
            if problem:
                out["autoscale_metric"] = problem
            elif problem := target_problem(self.autoscale_metric, self.autoscale_target):
                out["autoscale_target"] = problem
        out.update(self._fleet_problems())
        if self.tls_host and not HOST_RE.match(self.tls_host):
            out["tls_host"] = f"{self.tls_host!r} is not a DNS host name"
        if self.auth and any(
            len(t) < 16 or any(c.isspace() or c in "\"'\\;" for c in t) for t in self.tokens
        ):
            out["tokens"] = "tokens must be at least 16 characters without spaces, quotes, backslashes or ';'"
        for key in self.env:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                out["env"] = f"{key!r} is not an environment variable name"
        return out

    def _fleet_problems(self) -> dict[str, str]:
        out: dict[str, str] = {}
        try:
            if not MIN_BODY <= self.max_body_bytes <= MAX_BODY:
                out["max_body"] = f"{self.max_body!r} is outside 1Ki-2Gi"
        except ValueError as exc:
            out["max_body"] = str(exc)
        if self.disk_access not in ("ReadWriteOnce", "ReadWriteMany"):
            out["disk_access"] = f"{self.disk_access!r}: ReadWriteOnce or ReadWriteMany"
        if self.shm_size and not QUANTITY_RE.match(self.shm_size):
            out["shm_size"] = f"{self.shm_size!r} is not a Kubernetes quantity (e.g. 1Gi)"
        if not LABEL_VALUE_RE.match(self.gpu_product):
            out["gpu_product"] = f"{self.gpu_product!r} is not a node label value (NVIDIA-A100-SXM4-80GB)"
        bad = [s for s in self.image_pull_secrets if not NAME_RE.match(s) or len(s) > 253]
        if bad:
            out["image_pull_secrets"] = f"{', '.join(map(repr, bad))}: not a Secret name"
        return out

    @property
    def version_text(self) -> str:
        """``eos://models/tiny-v2.mar · v2.0 · etag 1a2b3c4d``: what is serving, in one line."""
        return version_text(self.source, self.model_version, self.etag)

    def archive_overrides(self) -> str:
        """Where the archive's model-config.yaml overrides what this spec asks ("" nowhere)."""
        from tirui.torchserve.settings import archive_overrides

        return archive_overrides(self.archive_config, self.settings(), self.name)

    def settings(self) -> ModelSettings:
        """The per-model settings TorchServe is given (``models=``, register parameters); the
        request timeout is TorchServe's response timeout too, as well as the proxy's."""
        from tirui.torchserve.settings import ModelSettings

        return ModelSettings(self.workers, self.batch_size, self.max_batch_delay_ms, self.request_timeout_s)

    def with_settings(self, settings: ModelSettings) -> DeploymentSpec:
        """This spec with ``settings``' workers and batching (the inverse of :meth:`settings`)."""
        return replace(
            self,
            workers=settings.workers,
            batch_size=settings.batch_size,
            max_batch_delay_ms=settings.max_batch_delay_ms,
            request_timeout_s=settings.response_timeout_s,
        )

    @property
    def max_body_bytes(self) -> int:
        return to_bytes(self.max_body)

    @property
    def drain_seconds(self) -> int:
        """How long a terminating pod keeps serving after endpoints start to drop it."""
        return 5

    @property
    def grace_seconds(self) -> int:
        """terminationGracePeriodSeconds: the drain, the longest request, and a margin."""
        return self.drain_seconds + self.request_timeout_s + 10

    def validate(self) -> None:
        problems = self.problems()
        if problems:
            raise SpecError(problems)


STORED_FIELDS = tuple(f for f in DeploymentSpec.__dataclass_fields__ if f not in ("tokens", "archive_config"))
"""What the Deployment's ``tirui.dev/spec`` annotation keeps: everything but the tokens (and
what was read of the archive)."""


def spec_to_json(spec: DeploymentSpec, **extra: str) -> str:
    """The spec (without tokens) and ``extra`` values as one compact JSON string."""
    import json

    data = {k: getattr(spec, k) for k in STORED_FIELDS}
    return json.dumps({"spec": data, **extra}, sort_keys=True, separators=(",", ":"))


def spec_from_json(text: str) -> tuple[DeploymentSpec, dict[str, str]]:
    """Inverse of :func:`spec_to_json`; unknown keys (a newer tirui's) are ignored."""
    import json

    data = json.loads(text)
    fields = {k: v for k, v in data.get("spec", {}).items() if k in STORED_FIELDS}
    extra = {k: str(v) for k, v in data.items() if k != "spec"}
    return DeploymentSpec(**fields), extra


def parse_env(items: list[str]) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` (the CLI's ``--env``, the form's comma-separated field) → a dict."""
    env: dict[str, str] = {}
    for item in items:
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError({"env": f"{item!r} is not KEY=VALUE"})
        env[key.strip()] = value
    return env
