"""What a Kubernetes deployment needs from the workstation: its API token and the object-store
keys its init container downloads the model with. Both come from the profile and the token
store; nothing is written to files."""

from __future__ import annotations

import os
import secrets
from typing import TYPE_CHECKING

from tirui.core.errors import RuntimeFailure
from tirui.secrets import SecretStoreError, TokenRef

if TYPE_CHECKING:
    from tirui.config import Profile
    from tirui.secrets import TokenStore


def token_ref(profile: str, name: str) -> TokenRef:
    """Where the accepted token of deployment ``name`` is kept (the Playground finds it there)."""
    return TokenRef(profile, f"deploy/{name}", "api")


def deployment_tokens(
    profile: Profile, store: TokenStore | None, name: str, *, create: bool = True
) -> list[str]:
    """The deployment's token; a new random one is created and stored on first deploy.
    ``create=False`` (dry runs): a stored token, else a throwaway one that is not stored."""
    if store is None or not store.available:
        raise RuntimeFailure(
            "a Kubernetes deployment needs a token in the keyring: the keyring is unavailable "
            "(choose a backend with --secrets encrypted-file, or --no-auth)"
        )
    ref = token_ref(profile.name, name)
    try:
        token = store.get(ref)
        if token:
            return [token]
        if not create:
            return [secrets.token_urlsafe(32)]
        if store.read_only:
            raise RuntimeFailure(f"no token {ref.key} and the env backend is read-only: export {ref.env_var}")
        token = secrets.token_urlsafe(32)
        store.set(ref, token)
    except SecretStoreError as exc:
        raise RuntimeFailure(f"cannot read or store the deployment token: {exc}") from None
    return [token]


def storage_credentials(profile: Profile, store: TokenStore | None) -> tuple[str, str]:
    """(access key id, secret) for the init container, from the profile's credentials source."""
    s = profile.storage
    if s.credentials == "keyring":
        from tirui.storage.factory import s3_secret_ref

        try:
            secret = store.get(s3_secret_ref(profile)) if store is not None and store.available else None
        except SecretStoreError:
            secret = None
        if not secret:
            raise RuntimeFailure(
                f"profile {profile.name}: no S3 secret key in the keyring for the model download"
            )
        return s.access_key_id, secret
    if s.credentials == "aws-profile":
        import boto3

        creds = boto3.Session(profile_name=s.aws_profile or None).get_credentials()
        if creds is None:
            raise RuntimeFailure(f"AWS profile {s.aws_profile!r} has no credentials")
        return creds.access_key, creds.secret_key
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID", ""), os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not key or not secret:
        raise RuntimeFailure(
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set (the profile uses env credentials)"
        )
    return key, secret
