"""Profiles: where tirui's object store and cluster are, and the defaults for new deployments.

Profiles live in ``profiles.toml`` in the platform config dir (see :mod:`tirui.locations`)::

    default_profile = "prod"

    [profiles.prod.storage]
    kind = "s3"                       # "s3" or "local"
    endpoint_url = "https://objectstore.example.net"
    region = "us-east-1"
    addressing_style = "path"         # "path", "virtual" or "auto"
    credentials = "keyring"           # "env", "aws-profile" or "keyring"
    access_key_id = "AKIA..."         # with credentials = "keyring": the secret key is in the keyring

    [profiles.prod.kubernetes]
    context = "gpu-cluster"
    namespace = "models"

    [profiles.prod.defaults]
    gpus = 1

A built-in profile named ``local`` needs no file: buckets are folders under the user data dir and
deployments are local TorchServe processes. The active profile is ``--profile NAME``, else
``$TIRUI_PROFILE``, else ``default_profile`` from the file, else ``local``.

Errors are :class:`ProfileError` carrying the file and, where it can be found, the line.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_type_hints

from tirui import locations

LOCAL_PROFILE = "local"
PROFILE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class ProfileError(Exception):
    """A profile file that cannot be used, or an unknown profile name."""

    def __init__(self, message: str, path: Path | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line else f"{path}: "
        super().__init__(f"{where}{message}")


@dataclass(frozen=True)
class StorageSettings:
    """The object store ("EOS buckets") of a profile."""

    kind: Literal["s3", "local"] = "s3"
    """``s3`` for any S3-compatible endpoint, ``local`` for folders under the data dir."""
    endpoint_url: str = ""
    """Endpoint such as ``https://objectstore.e2enetworks.net``; empty means AWS."""
    region: str = "us-east-1"
    """Signing region."""
    addressing_style: Literal["path", "virtual", "auto"] = "path"
    """Bucket in the path (most S3-compatible stores) or in the host name."""
    credentials: Literal["env", "aws-profile", "keyring"] = "env"
    """Where the access key comes from: environment, an AWS shared-config profile, or the keyring."""
    aws_profile: str = ""
    """With ``credentials = "aws-profile"``: the profile name in ``~/.aws/config``."""
    access_key_id: str = ""
    """With ``credentials = "keyring"``: the access key id; its secret is in the keyring."""
    ca_bundle: str = ""
    """Path of a PEM bundle for endpoints signed by a private CA."""
    verify_tls: bool = True
    """Turn TLS verification off only for throwaway test endpoints."""
    local_root: str = ""
    """With ``kind = "local"``: the folder holding buckets (default: the data dir)."""


@dataclass(frozen=True)
class KubeSettings:
    """Where deployments run."""

    runtime: Literal["kubernetes", "local"] = "kubernetes"
    """``kubernetes`` for a cluster, ``local`` for TorchServe processes on this machine."""
    kubeconfig: str = ""
    """Path of the kubeconfig; empty means ``$KUBECONFIG`` or ``~/.kube/config``."""
    context: str = ""
    """Context in the kubeconfig; empty means its current context."""
    namespace: str = "default"
    """Namespace of tirui's deployments."""
    prometheus_url: str = ""
    """Optional Prometheus server for the Metrics screen (otherwise pods are scraped directly)."""
    kube_version: str = ""
    """The cluster's Kubernetes version (``1.20``) for ``--render`` without a cluster; empty means
    the newest API versions. Against a cluster, tirui asks the server what it serves instead."""


@dataclass(frozen=True)
class DeploymentDefaults:
    """Values the deploy form starts from."""

    image: str = "pytorch/torchserve:0.12.0-gpu"
    """TorchServe image."""
    gpus: int = 1
    """GPUs per replica."""
    replicas: int = 1
    """Replicas of a new deployment."""
    workers: int = 1
    """TorchServe workers per model."""
    storage_class: str = ""
    """Storage class for the optional model-cache disk."""
    tls_issuer: str = "letsencrypt"
    """cert-manager ClusterIssuer for Ingress certificates."""
    ingress_class: str = "nginx"
    """Ingress class."""
    domain: str = ""
    """When set, new deployments get ``<name>.<domain>`` as their TLS host."""
    gpu_product: str = ""
    """Schedule onto nodes with this ``nvidia.com/gpu.product`` label only (e.g. NVIDIA-L4)."""
    image_pull_secrets: str = ""
    """Comma-separated Secrets for pulling images from a private registry."""
    shm_size: str = "1Gi"
    """Memory-backed ``/dev/shm`` per replica ("" keeps the runtime's 64Mi)."""
    max_body: str = "64Mi"
    """Largest request/response body through nginx, TorchServe and the Ingress."""
    request_timeout_s: int = 120
    """Longest expected request, in seconds (proxy timeout; termination drains this long)."""


@dataclass(frozen=True)
class Profile:
    """One named place to work: an object store plus a runtime, and defaults."""

    name: str
    description: str = ""
    storage: StorageSettings = field(default_factory=StorageSettings)
    kubernetes: KubeSettings = field(default_factory=KubeSettings)
    defaults: DeploymentDefaults = field(default_factory=DeploymentDefaults)
    builtin: bool = False

    @property
    def is_local(self) -> bool:
        return self.kubernetes.runtime == "local"

    @property
    def location(self) -> str:
        """What the header shows: kube context/namespace, or ``local``."""
        if self.is_local:
            return "local runtime"
        ctx = self.kubernetes.context or "(current context)"
        return f"{ctx}/{self.kubernetes.namespace}"


def local_profile() -> Profile:
    """The built-in profile: local folders and local TorchServe processes, no cloud needed."""
    return Profile(
        name=LOCAL_PROFILE,
        description="Built-in: buckets are folders, deployments are local TorchServe processes",
        storage=StorageSettings(kind="local"),
        kubernetes=KubeSettings(runtime="local", namespace="local"),
        defaults=DeploymentDefaults(gpus=0, image="pytorch/torchserve:0.12.0-cpu"),
        builtin=True,
    )


@dataclass(frozen=True)
class ProfileSet:
    """Every profile known, and which one the file names as default."""

    profiles: dict[str, Profile]
    default: str
    path: Path

    def get(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise ProfileError(f"unknown profile {name!r} (known: {known})") from None


def _key_line(text: str, table: tuple[str, ...], key: str | None) -> int | None:
    """Best-effort line number of ``key`` inside ``[table]`` (or of the table header itself)."""
    current: tuple[str, ...] = ()
    header = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$")
    for number, line in enumerate(text.splitlines(), start=1):
        m = header.match(line)
        if m:
            current = tuple(p.strip().strip("\"'") for p in m.group(1).split("."))
            if key is None and current[: len(table)] == table:
                return number
            continue
        if key is not None and current == table and re.match(rf'^\s*"?{re.escape(key)}"?\s*=', line):
            return number
    return None


def _build(cls: type[Any], data: object, where: tuple[str, ...], text: str, path: Path) -> Any:
    """Make dataclass ``cls`` from a TOML table, naming the file and line of anything wrong."""
    if not isinstance(data, dict):
        raise ProfileError(f"[{'.'.join(where)}] must be a table", path, _key_line(text, where, None))
    hints = get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.name not in {"name", "builtin"}}
    values: dict[str, Any] = {}
    for key, value in data.items():
        line = _key_line(text, where, key)
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ProfileError(f"unknown key {key!r} in [{'.'.join(where)}] (known: {known})", path, line)
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            values[key] = _build(hint, value, (*where, key), text, path)  # type: ignore[arg-type]
            continue
        choices = get_args(hint) if getattr(hint, "__origin__", None) is Literal else ()
        expected = str if choices else hint
        if (expected is int and isinstance(value, bool)) or not isinstance(value, expected):
            raise ProfileError(
                f"{key!r} in [{'.'.join(where)}] must be {expected.__name__}, not {type(value).__name__}",
                path,
                line,
            )
        if choices and value not in choices:
            raise ProfileError(
                f"{key!r} in [{'.'.join(where)}] must be one of {', '.join(choices)}; got {value!r}",
                path,
                line,
            )
        if expected is int and isinstance(value, int) and value < 0:
            raise ProfileError(f"{key!r} in [{'.'.join(where)}] must be >= 0", path, line)
        values[key] = value
    return cls(**values) if cls is not Profile else values


def parse_profiles(text: str, path: Path) -> ProfileSet:
    """Parse the text of a profiles file (the built-in ``local`` profile is always added)."""
    try:
        import tomllib

        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+)", str(exc))
        raise ProfileError(f"invalid TOML: {exc}", path, int(m.group(1)) if m else None) from None
    profiles: dict[str, Profile] = {LOCAL_PROFILE: local_profile()}
    for key in doc:
        if key not in {"default_profile", "profiles"}:
            raise ProfileError(
                f"unknown top-level key {key!r} (known: default_profile, profiles)",
                path,
                _key_line(text, (), key),
            )
    tables = doc.get("profiles", {})
    if not isinstance(tables, dict):
        raise ProfileError("'profiles' must be a table", path, _key_line(text, (), "profiles"))
    for name, table in tables.items():
        where = ("profiles", name)
        if not PROFILE_NAME_RE.match(name):
            raise ProfileError(
                f"invalid profile name {name!r}: letters, digits, '-', '_' and '.' only",
                path,
                _key_line(text, where, None),
            )
        if name == LOCAL_PROFILE:
            raise ProfileError(
                "the profile name 'local' is built in; choose another name",
                path,
                _key_line(text, where, None),
            )
        values = _build(Profile, table, where, text, path)
        profiles[name] = Profile(name=name, **values)
    default = doc.get("default_profile", LOCAL_PROFILE)
    if not isinstance(default, str) or default not in profiles:
        raise ProfileError(
            f"default_profile {default!r} names no profile", path, _key_line(text, (), "default_profile")
        )
    return ProfileSet(profiles=profiles, default=default, path=path)


def load_profiles(path: Path | None = None) -> ProfileSet:
    """Read the profiles file; a missing file means only the built-in ``local`` profile."""
    path = path or locations.profiles_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ProfileSet(profiles={LOCAL_PROFILE: local_profile()}, default=LOCAL_PROFILE, path=path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"cannot read profiles file: {exc}", path) from None
    return parse_profiles(text, path)


def resolve_profile(requested: str | None = None, path: Path | None = None) -> Profile:
    """The active profile: ``requested`` (``--profile``), ``$TIRUI_PROFILE``, the file's default."""
    profiles = load_profiles(path)
    name = requested or os.environ.get("TIRUI_PROFILE") or profiles.default
    return profiles.get(name)
