"""``tirui deploy|status|scale|delete``: deployments from the command line.

``deploy --render`` prints the Kubernetes objects as multi-document YAML and needs no cluster
(secrets redacted unless ``--show-secrets``). On the local profile the commands drive the local
runtime (processes keep running after the command exits; the TUI or ``tirui status`` finds them).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tirui.cli.parsers import Subparsers
    from tirui.cluster.runtime import Runtime
    from tirui.cluster.spec import DeploymentSpec
    from tirui.config import Profile
    from tirui.secrets import TokenStore


class DeployCliError(Exception):
    """Printed as one line by the CLI."""


def add_parsers(sub: Subparsers) -> None:
    from tirui.cluster.spec import PROTOCOLS, DeploymentSpec

    spec = DeploymentSpec("", "")  # the defaults, written once in the spec
    d = sub.add_parser("deploy", help="deploy a model archive (eos://bucket/key.mar or a local path)")
    d.add_argument("source")
    d.add_argument("--name", required=True, help="deployment name (RFC 1123: lowercase, digits, '-')")
    d.add_argument("--gpus", type=int, default=None, help="GPUs per replica (default: profile's)")
    d.add_argument("--replicas", type=int, default=None)
    d.add_argument("--workers", type=int, default=None, help="TorchServe workers per replica")
    d.add_argument("--min-replicas", type=int, default=spec.min_replicas)
    d.add_argument("--max-replicas", type=int, default=spec.max_replicas)
    d.add_argument(
        "--autoscale-metric",
        default=spec.autoscale_metric,
        metavar="METRIC[=TARGET]",
        help="cpu (70%%), gpu (80%%), queue-latency-ms (50), inflight (4), requests-per-s (10), or a "
        "Pods metric the adapter serves; TARGET per pod in the metric's unit, e.g. queue-latency-ms=50",
    )
    d.add_argument("--target", default="", help="the autoscale target, when not given as METRIC=TARGET")
    d.add_argument("--disk", default="", help="persistent model-cache disk size, e.g. 20Gi")
    d.add_argument(
        "--disk-access",
        default=spec.disk_access,
        choices=["ReadWriteOnce", "ReadWriteMany"],
        help="ReadWriteMany (a shared storage class) keeps updates rolling; ReadWriteOnce recreates pods",
    )
    d.add_argument("--tls-host", default="", help="public host name (cert-manager issues its certificate)")
    d.add_argument("--no-auth", action="store_true", help="no bearer-token check in front of TorchServe")
    d.add_argument("--image", default=None, help="TorchServe image")
    d.add_argument(
        "--cpu", default=spec.cpu_request, help=f"CPU request per replica (default {spec.cpu_request})"
    )
    d.add_argument(
        "--memory",
        default=spec.memory_request,
        help=f"memory request per replica (default {spec.memory_request})",
    )
    d.add_argument(
        "--memory-limit",
        default=spec.memory_limit,
        help=f"memory limit per replica (default {spec.memory_limit})",
    )
    d.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="extra environment (repeatable)"
    )
    d.add_argument(
        "--max-body",
        default=None,
        metavar="SIZE",
        help="largest request/response body through nginx, TorchServe (HTTP and gRPC) and the "
        "Ingress, e.g. 64Mi (default: profile's)",
    )
    d.add_argument(
        "--request-timeout",
        "--response-timeout",
        dest="request_timeout",
        type=int,
        default=None,
        metavar="SECONDS",
        help="longest expected request: TorchServe's response timeout and the proxy's and Ingress' "
        "timeouts together (one value for the whole path); stopping pods drain this long (default 120)",
    )
    d.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default=spec.protocol,
        help="request format: TorchServe's own, KServe v1 (/v1/models/M:predict) or v2 "
        "(/v2/models/M/infer), TorchServe's service_envelope (default torchserve)",
    )
    d.add_argument(
        "--batch-size",
        type=int,
        default=None,
        metavar="N",
        help="TorchServe's batchSize: requests it hands the handler at once (default 1)",
    )
    d.add_argument(
        "--max-batch-delay",
        type=int,
        default=None,
        metavar="MS",
        help="TorchServe's maxBatchDelay: how long it waits to fill a batch (default 100)",
    )
    d.add_argument(
        "--gpu-product",
        default=None,
        help="only nodes labelled nvidia.com/gpu.product=<this>, e.g. NVIDIA-A100-SXM4-80GB",
    )
    d.add_argument(
        "--pull-secret",
        action="append",
        default=None,
        metavar="SECRET",
        help="image pull Secret for a private registry (repeatable)",
    )
    d.add_argument(
        "--shm-size", default=None, help="memory-backed /dev/shm per replica (default 1Gi; 0: none)"
    )
    mode = d.add_mutually_exclusive_group()
    mode.add_argument(
        "--render", action="store_true", help="print the YAML that would be applied; no cluster"
    )
    mode.add_argument("--dry-run", action="store_true", help="server-side dry run only")
    d.add_argument(
        "--model-name",
        default="",
        help="the name TorchServe serves the model under (default: the archive's file name, "
        "each run of characters other than letters, digits, '_', '-', '.' made one '-')",
    )
    d.add_argument(
        "--model-version",
        default="",
        help="with --render when the bucket cannot be read: the archive's modelVersion (TorchServe "
        "keys --batch-size and --max-batch-delay by it)",
    )
    d.add_argument(
        "--kube-version",
        default=None,
        metavar="1.MINOR",
        help="with --render: render the API versions that Kubernetes version serves (default: the "
        "profile's kube_version, else the newest); against a cluster tirui asks the server",
    )
    mode.add_argument(
        "--adapter-rules",
        action="store_true",
        help="print the prometheus-adapter rules the autoscale metric needs; no cluster",
    )
    d.add_argument("--show-secrets", action="store_true", help="with --render: print tokens and keys too")
    d.add_argument(
        "--force",
        action="store_true",
        help="take over fields another field manager (kubectl edit/scale) changed; named otherwise",
    )
    d.add_argument(
        "--prune-disk",
        action="store_true",
        help="when the new spec has no --disk: delete the old model-cache disk too",
    )

    r = sub.add_parser("rbac", help="print the Role + RoleBinding tirui needs in a namespace")
    r.add_argument("--namespace", default=None, help="default: the profile's namespace")
    who = r.add_mutually_exclusive_group()
    who.add_argument("--user", default="", help="bind this user (default: a USER placeholder)")
    who.add_argument("--group", default="")
    who.add_argument("--service-account", default="")


def spec_from_args(args: argparse.Namespace, profile: Profile) -> DeploymentSpec:
    from tirui.cluster.autoscale import AutoscaleError, parse_metric
    from tirui.cluster.spec import DeploymentSpec, SpecError, parse_env, secrets_of, shm_size_of

    d = profile.defaults
    try:
        env = parse_env(args.env)
        metric, target = parse_metric(args.autoscale_metric, args.target)
    except (SpecError, AutoscaleError) as exc:
        raise DeployCliError(str(exc)) from None
    secrets = args.pull_secret if args.pull_secret is not None else secrets_of(d.image_pull_secrets)
    spec = DeploymentSpec(
        name=args.name,
        source=args.source,
        env=env,
        cpu_request=args.cpu,
        memory_request=args.memory,
        memory_limit=args.memory_limit,
        gpus=d.gpus if args.gpus is None else args.gpus,
        replicas=d.replicas if args.replicas is None else args.replicas,
        workers=d.workers if args.workers is None else args.workers,
        protocol=args.protocol,
        batch_size=1 if args.batch_size is None else args.batch_size,
        max_batch_delay_ms=100 if args.max_batch_delay is None else args.max_batch_delay,
        image=args.image or d.image,
        min_replicas=args.min_replicas,
        max_replicas=args.max_replicas,
        autoscale_metric=metric,
        autoscale_target=target,
        disk_size=args.disk,
        disk_access=args.disk_access,
        storage_class=d.storage_class,
        tls_host=args.tls_host,
        tls_issuer=d.tls_issuer,
        ingress_class=d.ingress_class,
        auth=not args.no_auth,
        max_body=args.max_body or d.max_body,
        request_timeout_s=d.request_timeout_s if args.request_timeout is None else args.request_timeout,
        gpu_product=d.gpu_product if args.gpu_product is None else args.gpu_product,
        image_pull_secrets=[s.strip() for s in secrets if s.strip()],
        shm_size=shm_size_of(d.shm_size if args.shm_size is None else args.shm_size),
        model_name=args.model_name,
        model_version=args.model_version,
    )
    try:
        spec.validate()
    except SpecError as exc:
        raise DeployCliError(str(exc)) from None
    return spec


def open_runtime(profile: Profile, tokens: TokenStore | None = None) -> Runtime:
    """The profile's runtime for one command (no supervisor: local deployments are left as they
    are); ``tokens`` for commands that deploy (the token they accept, the store's keys)."""
    from tirui.cluster.open import open_runtime
    from tirui.core.errors import RuntimeFailure

    try:
        return open_runtime(profile, tokens)
    except RuntimeFailure as exc:
        raise DeployCliError(f"{exc} (--render prints the objects without a cluster)") from None


def cmd_deploy(args: argparse.Namespace) -> int:
    from tirui.cluster.manifests.build import build_for_profile, to_yaml
    from tirui.config import resolve_profile

    profile = resolve_profile(args.profile)
    spec = spec_from_args(args, profile)
    if args.adapter_rules:
        from tirui.cluster.manifests.autoscale import adapter_rules_yaml

        print(adapter_rules_yaml([spec.autoscale_metric]), end="")
        return 0
    if args.render:
        if spec.auth and args.show_secrets:
            from tirui.cluster.credentials import deployment_tokens
            from tirui.core.errors import RuntimeFailure
            from tirui.secrets import TokenStore

            try:  # the token the deployment will accept (created in the keyring on first use)
                spec.tokens = deployment_tokens(profile, TokenStore.from_env(args.secrets), spec.name)
            except RuntimeFailure as exc:
                raise DeployCliError(str(exc)) from None
        read_archive_for_render(spec, profile, args.secrets)
        objects = build_for_profile(spec, profile, show_secrets=args.show_secrets)
        print(to_yaml(for_kube_version(objects, args.kube_version, profile)), end="")
        return 0
    from tirui.cluster.runtime import DeployOptions
    from tirui.core.errors import RuntimeFailure
    from tirui.secrets import TokenStore

    runtime = open_runtime(profile, TokenStore.from_env(args.secrets))
    how = DeployOptions(dry_run=args.dry_run, force=args.force, prune_disk=args.prune_disk)
    try:
        result = runtime.deploy(spec, how)
        if how.dry_run:
            for line in result.lines():
                print(f"{spec.name}: {line}")
            return 0
    except RuntimeFailure as exc:
        raise DeployCliError(str(exc)) from None
    for line in result.lines()[1:]:
        print(f"{spec.name}: {line}", file=sys.stderr if line.startswith("warning") else sys.stdout)
    status = result.status
    assert status is not None
    print(f"{status.name}: {status.status} ({status.endpoint}); `tirui status {status.name}` follows it")
    return 0


def read_archive_for_render(spec: DeploymentSpec, profile: Profile, secrets: str | None) -> None:
    """The archive's model version and config for ``--render``, read from the bucket when it can
    be: TorchServe takes the batch settings only keyed by the model version (``models=``). When
    the bucket cannot be read and the spec has batch settings, one line says what is missing
    instead of a rendering that silently drops them."""
    from tirui.secrets import TokenStore
    from tirui.storage.factory import open_store
    from tirui.storage.mar import peek_manifest
    from tirui.storage.uri import is_remote, parse_uri

    if spec.model_version:
        return
    why = "the source is not in a bucket"
    if is_remote(spec.source):
        uri = parse_uri(spec.source)
        try:
            store = open_store(profile, TokenStore.from_env(secrets))
            manifest = peek_manifest(store, uri.bucket, uri.key)
            spec.model_version, spec.archive_config = manifest.model_version, manifest.model_config
            return
        except Exception as exc:  # unreachable, denied, not an archive, no credentials ...
            why = f"reading {spec.source} failed ({exc})"
    if spec.batch_size != 1 or spec.max_batch_delay_ms != 100:
        raise DeployCliError(
            f"--batch-size/--max-batch-delay need the archive's model version, and {why}: "
            "pass --model-version (its MANIFEST.json modelVersion; `tirui peek` shows it)"
        )


def for_kube_version(
    objects: list[dict[str, Any]], version: str | None, profile: Profile
) -> list[dict[str, Any]]:
    """``objects`` in the API versions of ``version`` (else the profile's ``kube_version``, else
    the newest): what ``--render`` prints for a cluster it cannot ask."""
    from tirui.cluster.manifests.versions import ApiVersions, for_cluster, parse_kube_version
    from tirui.core.errors import RuntimeFailure

    text = version if version is not None else profile.kubernetes.kube_version
    try:
        versions = ApiVersions.for_minor(parse_kube_version(text)) if text else ApiVersions.newest()
        return for_cluster(objects, versions)
    except RuntimeFailure as exc:
        raise DeployCliError(str(exc)) from None


def cmd_rbac(args: argparse.Namespace) -> int:
    from tirui.cluster.manifests.build import to_yaml
    from tirui.cluster.manifests.rbac import role_objects
    from tirui.config import resolve_profile

    namespace = args.namespace or resolve_profile(args.profile).kubernetes.namespace
    objects = role_objects(namespace, user=args.user, group=args.group, service_account=args.service_account)
    print(to_yaml(objects), end="")
    return 0


COMMANDS = {"rbac": cmd_rbac, "deploy": cmd_deploy}
