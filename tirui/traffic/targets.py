"""Where requests go: a URL typed in, or a deployment of the profile's runtime, with its tokens.

Shared by the Playground, ``tirui predict`` and ``tirui bench``. Tokens come from the token store
(``<profile>/<scope>/<name>``, scope = the endpoint URL, else ``default``) or, for local
deployments, from the runtime, which keeps TorchServe's generated keys in the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tirui.config import Profile
from tirui.secrets import SecretStoreError, TokenRef, TokenStore
from tirui.torchserve.grpc import GrpcEndpoint
from tirui.torchserve.http import Endpoint
from tirui.torchserve.target import Target, TargetError

if TYPE_CHECKING:
    from tirui.cluster.runtime import Runtime

__all__ = ["Target", "TargetError", "resolve_target", "url_target"]

DEFAULT_GRPC_PORT = 7070


def _lookup(store: TokenStore | None, profile: str, scopes: list[str], name: str) -> tuple[str | None, str]:
    if store is None or not store.available:
        return None, ""
    for scope in scopes:
        ref = TokenRef(profile, scope, name)
        try:
            value = store.get(ref)
        except SecretStoreError:
            return None, ""
        if value:
            return value, ref.key
    return None, ""


def _check_port(url: str, netloc: str) -> None:
    """A port outside 1-65535 is refused here (urllib raises, sockets and gRPC fail obscurely)."""
    from tirui.limits import PORT

    host_port = netloc.rsplit("@", 1)[-1]
    text = host_port.rsplit(":", 1)[1] if ":" in host_port.lstrip("[").split("]")[-1] else ""
    if not text:
        return
    problem = PORT.problem_of(text)
    if problem:
        raise TargetError(f"{url[:200]!r}: {problem}")


def url_target(
    url: str,
    *,
    profile: str,
    store: TokenStore | None = None,
    token_name: str | None = None,
    management_url: str = "",
    grpc_target: str = "",
    verify: bool | str = True,
) -> Target:
    """A target typed as ``http(s)://host:port``; the gRPC port defaults to 7070 on the same host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "grpc", "grpcs") or not parts.hostname:
        raise TargetError(f"{url!r} is not an http(s):// or grpc(s):// URL")
    _check_port(url, parts.netloc)
    for other in (management_url, f"grpc://{grpc_target}" if grpc_target else ""):
        if other:
            _check_port(other, urlsplit(other).netloc)
    if parts.scheme.startswith("grpc"):  # grpc://host:port names the gRPC endpoint itself
        grpc_target = grpc_target or parts.netloc
        parts = parts._replace(scheme="https" if parts.scheme == "grpcs" else "http")
    base = f"{parts.scheme}://{parts.netloc}"
    token, source = _lookup(store, profile, [base, url.rstrip("/"), "default"], token_name or "api")
    if token_name and token is None:
        raise TargetError(
            f"no token {profile}/{base}/{token_name} (or {profile}/default/{token_name}) in the token store; "
            f"add it with: tirui tokens set {token_name} --scope {base}"
        )
    hostname = parts.hostname or ""
    host = f"[{hostname}]" if ":" in hostname else hostname  # IPv6
    grpc = grpc_target or f"{host}:{DEFAULT_GRPC_PORT}"
    return Target(
        name=base,
        http=Endpoint(base, management_url or base, token, token, verify=verify),
        grpc=GrpcEndpoint(grpc, grpc, token, token, tls=parts.scheme == "https"),
        token_source=source,
    )


def resolve_target(
    text: str,
    *,
    profile: Profile,
    store: TokenStore | None = None,
    token_name: str | None = None,
    management_url: str = "",
    grpc_target: str = "",
    verify: bool | str = True,
    runtime: Runtime | None = None,
) -> Target:
    """A URL, or the name of a deployment on ``runtime`` (default: a runtime for ``profile``).
    Blocking: a deployment name is looked up in its runtime (files, or the Kubernetes API)."""
    if "://" in text:
        return url_target(
            text,
            profile=profile.name,
            store=store,
            token_name=token_name,
            management_url=management_url,
            grpc_target=grpc_target,
            verify=verify,
        )
    from tirui.cluster.open import open_runtime
    from tirui.cluster.targets import deployment_target
    from tirui.core.errors import RuntimeFailure

    if runtime is None:
        try:
            runtime = open_runtime(profile, store)
        except RuntimeFailure as exc:
            raise TargetError(str(exc)) from None
    return deployment_target(text, runtime)
