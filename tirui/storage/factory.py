"""Build the object store a profile describes, resolving keyring credentials."""

from __future__ import annotations

from pathlib import Path

from tirui import locations
from tirui.config import Profile
from tirui.secrets import SecretStoreError, TokenRef, TokenStore
from tirui.storage.base import AuthFailed, ObjectStore

S3_SECRET_NAME = "secret-key"


def s3_secret_ref(profile: Profile) -> TokenRef:
    """Where the keyring keeps a profile's S3 secret key."""
    return TokenRef(profile.name, "s3", S3_SECRET_NAME)


def open_store(profile: Profile, tokens: TokenStore | None = None) -> ObjectStore:
    """The profile's store. May block (keyring, boto3 import): call it from a worker."""
    s = profile.storage
    if s.kind == "local":
        from tirui.storage.local import LocalStore

        root = Path(s.local_root).expanduser() if s.local_root else locations.local_buckets_dir()
        return LocalStore(root)
    from tirui.storage.s3 import S3Store

    access_key = secret = None
    if s.credentials == "keyring":
        if not s.access_key_id:
            raise AuthFailed(f"Profile {profile.name}: credentials = 'keyring' needs access_key_id.")
        tokens = tokens or TokenStore.from_env()
        try:
            secret = tokens.get(s3_secret_ref(profile))
        except SecretStoreError as exc:
            raise AuthFailed(f"Profile {profile.name}: cannot read the S3 secret key: {exc}") from None
        if not secret:
            raise AuthFailed(
                f"Profile {profile.name}: no S3 secret key in the keyring; add it with "
                f"`tirui --profile {profile.name} tokens set {S3_SECRET_NAME} --scope s3`."
            )
        access_key = s.access_key_id
    return S3Store(
        endpoint_url=s.endpoint_url,
        region=s.region,
        addressing_style=s.addressing_style,
        access_key_id=access_key,
        secret_access_key=secret,
        aws_profile=s.aws_profile if s.credentials == "aws-profile" else None,
        ca_bundle=str(Path(s.ca_bundle).expanduser()) if s.ca_bundle else "",
        verify_tls=s.verify_tls,
    )
