"""Storage failures a user meets, each against a real server: a clear error, nothing half-done."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from tests.support.s3_extra_servers import self_signed_https, slowdown_server
from tests.support.servers import free_port, moto_server
from tirui.config import Profile, StorageSettings
from tirui.storage.base import AccessDenied, AuthFailed, Throttled, Unreachable
from tirui.storage.factory import open_store
from tirui.storage.s3 import S3Store


@pytest.fixture(scope="module")
def iam_moto():  # type: ignore[no-untyped-def]
    """moto with IAM checks: a user allowed only to list buckets, and one real bucket."""
    with moto_server(auth=True, free_actions=4) as url:
        admin = dict(
            endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="reader")
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        policy = {
            "Version": "2012-10-17",
            # ListBuckets is authorized as s3:ListAllMyBuckets, its IAM action (AWS's and moto's up to
            # 5.2.5); moto 5.2.6 checks the operation's name, s3:ListBuckets, instead. Both are
            # allowed, so the user may list buckets whichever moto runs, and nothing else.
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:ListAllMyBuckets", "s3:ListBuckets"], "Resource": "*"}
            ],
        }
        iam.put_user_policy(UserName="reader", PolicyName="list", PolicyDocument=json.dumps(policy))
        boto3.client("s3", **admin).create_bucket(Bucket="secured")
        yield url, key["AccessKeyId"], key["SecretAccessKey"]


def test_wrong_credentials(iam_moto) -> None:  # type: ignore[no-untyped-def]
    url, _, _ = iam_moto
    store = S3Store(endpoint_url=url, access_key_id="AKIAWRONGWRONGWRONG", secret_access_key="nope")
    with pytest.raises(AuthFailed, match="access key id is not known"):
        store.list_buckets()


def test_wrong_secret(iam_moto) -> None:  # type: ignore[no-untyped-def]
    url, key_id, _ = iam_moto
    store = S3Store(endpoint_url=url, access_key_id=key_id, secret_access_key="not-the-secret")
    with pytest.raises(AuthFailed, match="secret key does not match"):
        store.list_buckets()


def test_access_denied(iam_moto) -> None:  # type: ignore[no-untyped-def]
    url, key_id, secret = iam_moto
    store = S3Store(endpoint_url=url, access_key_id=key_id, secret_access_key=secret)
    assert "secured" in [b.name for b in store.list_buckets()]
    with pytest.raises(AccessDenied, match="access denied"):
        list(store.iter_pages("secured"))


def test_throttling_is_retried_then_reported() -> None:
    with slowdown_server() as (url, handler):
        store = S3Store(endpoint_url=url, access_key_id="a", secret_access_key="b", max_attempts=3)
        with pytest.raises(Throttled, match="throttling"):
            list(store.iter_pages("some-bucket"))
        assert handler.hits >= 3  # retried (standard mode) before giving up


def test_unreachable_endpoint() -> None:
    store = S3Store(
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        access_key_id="a",
        secret_access_key="b",
        max_attempts=1,
    )
    with pytest.raises(Unreachable, match="cannot reach"):
        store.list_buckets()


def test_tls_invalid_endpoint(tmp_path: Path) -> None:
    with self_signed_https(tmp_path) as url:
        store = S3Store(endpoint_url=url, access_key_id="a", secret_access_key="b", max_attempts=1)
        with pytest.raises(Unreachable, match="TLS verification failed"):
            store.list_buckets()


def test_keyring_credentials_missing_secret(keyring_bus: str) -> None:
    profile = Profile(
        "eos",
        storage=StorageSettings(endpoint_url="http://127.0.0.1:9", credentials="keyring", access_key_id="AK"),
    )
    with pytest.raises(AuthFailed, match="no S3 secret key in the keyring"):
        open_store(profile)


def test_keyring_credentials_used(keyring_bus: str, s3_endpoint: str) -> None:
    from tirui.secrets import TokenStore
    from tirui.storage.factory import s3_secret_ref

    profile = Profile(
        "eos",
        storage=StorageSettings(endpoint_url=s3_endpoint, credentials="keyring", access_key_id="AKIDKEYRING"),
    )
    TokenStore("system").set(s3_secret_ref(profile), "keyring-secret-0123456789")
    store = open_store(profile)
    assert isinstance(store, S3Store)
    creds = store.client._request_signer._credentials
    assert creds.access_key == "AKIDKEYRING" and creds.secret_key == "keyring-secret-0123456789"
    store.create_bucket("from-keyring")
    assert "from-keyring" in [b.name for b in store.list_buckets()]
