"""S3-compatible object stores (E2E EOS, MinIO, Ceph, AWS) over boto3.

boto3 is imported when a store is created, never at tirui's start. Transfers go through s3transfer's
TransferManager (multipart above the threshold) so a cancel aborts the multipart upload and leaves
no parts behind.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tirui.storage.base import (
    AccessDenied,
    AuthFailed,
    BucketInfo,
    Cancelled,
    CancelToken,
    Conflict,
    InvalidName,
    ListPage,
    NotFound,
    ObjectDetails,
    ObjectInfo,
    ProgressFn,
    StorageError,
    Throttled,
    Unreachable,
    check_destination,
    validate_bucket_name,
    validate_key,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from boto3.s3.transfer import TransferManager
    from s3transfer.futures import TransferFuture

MULTIPART_THRESHOLD = 8 * 1024 * 1024
MAX_PRESIGN_SECONDS = 7 * 24 * 3600

_AUTH_CODES = {
    "InvalidAccessKeyId": "The access key id is not known to the store",
    "SignatureDoesNotMatch": "The secret key does not match the access key id",
    "ExpiredToken": "The credentials have expired",
    "TokenRefreshRequired": "The credentials have expired",
    "InvalidToken": "The session token is invalid",
}
_THROTTLE_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "503"}


def map_error(exc: BaseException, what: str) -> StorageError:
    """Turn a botocore/s3transfer exception into a user-facing :class:`StorageError`."""
    from botocore import exceptions as bx

    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, bx.ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        message = err.get("Message") or code
        if code in _AUTH_CODES:
            return AuthFailed(f"{what}: {_AUTH_CODES[code]} ({code}). Check the profile's credentials.")
        if code in {"NoSuchBucket"}:
            return NotFound(f"{what}: the bucket does not exist.")
        if code in {"NoSuchKey", "404", "NotFound"}:
            return NotFound(f"{what}: not found.")
        if code in {"AccessDenied", "403", "AllAccessDisabled"}:
            return AccessDenied(f"{what}: access denied. The credentials are not allowed to do this.")
        if code in _THROTTLE_CODES or status == 503:
            return Throttled(f"{what}: the store is throttling requests (503 {code}); retry later.")
        if code in {"BucketAlreadyExists", "BucketAlreadyOwnedByYou"}:
            return Conflict(f"{what}: a bucket with that name already exists.")
        if code in {"InvalidBucketName"}:
            return InvalidName(f"{what}: invalid bucket name.")
        return StorageError(f"{what}: {code} (HTTP {status}): {message}")
    if isinstance(exc, bx.SSLError):
        return Unreachable(
            f"{what}: TLS verification failed ({_short(exc)}). Set ca_bundle for a private CA."
        )
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return Unreachable(f"{what}: cannot reach the endpoint ({_short(exc)}).")
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return AuthFailed(f"{what}: no credentials found for this profile.")
    if isinstance(exc, bx.ProfileNotFound):
        return AuthFailed(f"{what}: {exc}.")
    if isinstance(exc, bx.ParamValidationError):
        return InvalidName(f"{what}: {exc}")
    if isinstance(exc, bx.BotoCoreError):
        return StorageError(f"{what}: {_short(exc)}")
    if isinstance(exc, FileNotFoundError):
        return NotFound(f"{what}: local file {exc.filename} not found.")
    if isinstance(exc, OSError):
        return StorageError(f"{what}: {exc.strerror or exc} ({getattr(exc, 'filename', '')}).")
    return StorageError(f"{what}: {type(exc).__name__}: {exc}")


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) < 200 else text[:197] + "..."


class _Progress:
    """s3transfer subscriber forwarding byte counts."""

    def __init__(self, fn: ProgressFn | None) -> None:
        self.fn = fn

    def on_progress(self, future: object, bytes_transferred: int, **_: object) -> None:
        if self.fn:
            self.fn(bytes_transferred)

    # s3transfer calls these by name on subscribers.
    def on_queued(self, **_: object) -> None: ...

    def on_done(self, **_: object) -> None: ...


class S3Store:
    """An S3-compatible object store reached with boto3."""

    def __init__(
        self,
        *,
        endpoint_url: str = "",
        region: str = "us-east-1",
        addressing_style: str = "path",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        aws_profile: str | None = None,
        ca_bundle: str = "",
        verify_tls: bool = True,
        max_attempts: int = 3,
        connect_timeout: float = 5,
        read_timeout: float = 60,
    ) -> None:
        import boto3.session
        from botocore.config import Config

        self.endpoint_url = endpoint_url
        try:
            session = boto3.session.Session(
                profile_name=aws_profile or None,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
            )
        except Exception as exc:
            raise map_error(exc, "Opening the AWS profile") from None
        config = Config(
            region_name=region or "us-east-1",
            retries={"mode": "standard", "max_attempts": max_attempts},
            s3={"addressing_style": addressing_style},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=16,
            signature_version="s3v4",
        )
        verify: bool | str = ca_bundle if ca_bundle else verify_tls
        self.client = session.client("s3", endpoint_url=endpoint_url or None, verify=verify, config=config)
        self.bytes_received = 0
        """Body bytes fetched by :meth:`read_range` (the .mar peek's transfer cost)."""

    @property
    def description(self) -> str:
        return self.endpoint_url or "AWS S3"

    # -- buckets -----------------------------------------------------------------------------
    def list_buckets(self) -> list[BucketInfo]:
        try:
            response = self.client.list_buckets()
        except Exception as exc:
            raise map_error(exc, "Listing buckets") from None
        return [BucketInfo(b["Name"], b.get("CreationDate")) for b in response.get("Buckets", [])]

    def create_bucket(self, bucket: str) -> None:
        validate_bucket_name(bucket)
        try:
            self.client.head_bucket(Bucket=bucket)
        except Exception as exc:
            error = map_error(exc, f"Creating bucket {bucket}")
            if isinstance(error, AccessDenied):
                raise Conflict(f"Creating bucket {bucket}: the name is taken by another account.") from None
            if not isinstance(error, NotFound):
                raise error from None
        else:
            raise Conflict(f"Creating bucket {bucket}: a bucket with that name already exists.")
        region = self.client.meta.region_name
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**kwargs)
        except Exception as exc:
            raise map_error(exc, f"Creating bucket {bucket}") from None

    # -- listing -----------------------------------------------------------------------------
    def iter_pages(
        self, bucket: str, prefix: str = "", *, delimiter: str = "/", page_size: int = 1000
    ) -> Iterator[ListPage]:
        validate_bucket_name(bucket)
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page_size}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        list_page = self.client.list_objects_v2
        while True:
            try:
                page = list_page(**kwargs)
            except Exception as exc:
                raise map_error(exc, f"Listing eos://{bucket}/{prefix}") from None
            yield ListPage(
                prefixes=[ObjectInfo(p["Prefix"], is_prefix=True) for p in page.get("CommonPrefixes", ())],
                objects=[
                    ObjectInfo(o["Key"], o["Size"], o["LastModified"], o["ETag"].strip('"'))
                    for o in page.get("Contents", ())
                ],
            )
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            kwargs["ContinuationToken"] = token

    def head(self, bucket: str, key: str) -> ObjectDetails:
        try:
            r = self.client.head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            raise map_error(exc, f"eos://{bucket}/{key}") from None
        return ObjectDetails(
            bucket=bucket,
            key=key,
            size=r["ContentLength"],
            etag=r.get("ETag", "").strip('"'),
            content_type=r.get("ContentType", ""),
            last_modified=r.get("LastModified"),
            metadata=dict(r.get("Metadata", {})),
            storage_class=r.get("StorageClass", "STANDARD"),
        )

    def read_range(self, bucket: str, key: str, start: int, end: int) -> bytes:
        try:
            r = self.client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}")
            data: bytes = r["Body"].read()
        except Exception as exc:
            raise map_error(exc, f"Reading eos://{bucket}/{key}") from None
        self.bytes_received += len(data)
        return data

    # -- transfers ---------------------------------------------------------------------------
    def _exists(self, bucket: str, key: str) -> bool:
        try:
            self.head(bucket, key)
        except NotFound:
            return False
        return True

    def _run_transfer(
        self, start: Callable[[TransferManager], TransferFuture], cancel: CancelToken | None, what: str
    ) -> None:
        from boto3.s3.transfer import TransferConfig, create_transfer_manager

        config = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD
        )
        manager = create_transfer_manager(self.client, config)
        try:
            future = start(manager)
            while not future.done():
                if cancel is not None and cancel.cancelled:
                    future.cancel()
                    break
                time.sleep(0.02)
            try:
                future.result()
            except Exception as exc:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled(f"{what}: cancelled.") from None
                raise map_error(exc, what) from None
        finally:
            manager.shutdown(cancel=bool(cancel and cancel.cancelled))

    def upload(
        self,
        path: Path,
        bucket: str,
        key: str,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        overwrite: bool = False,
    ) -> None:
        validate_bucket_name(bucket)
        validate_key(key)
        what = f"Uploading {path} to eos://{bucket}/{key}"
        if not path.is_file():
            raise NotFound(f"{what}: local file {path} not found.")
        if not overwrite and self._exists(bucket, key):
            raise Conflict(f"{what}: eos://{bucket}/{key} already exists.")
        sub = _Progress(progress)
        try:
            self._run_transfer(lambda m: m.upload(str(path), bucket, key, subscribers=[sub]), cancel, what)
        except Cancelled:
            self.abort_uploads(bucket, key)
            raise

    def abort_uploads(self, bucket: str, key: str) -> int:
        """Abort unfinished multipart uploads of ``key`` (a safety net after a cancel)."""
        aborted = 0
        with contextlib.suppress(Exception):
            listing = self.client.list_multipart_uploads(Bucket=bucket, Prefix=key)
            for upload in listing.get("Uploads", []):
                if upload["Key"] == key:
                    self.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
                    aborted += 1
        return aborted

    def download(
        self,
        bucket: str,
        key: str,
        path: Path,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        overwrite: bool = False,
    ) -> None:
        what = f"Downloading eos://{bucket}/{key}"
        check_destination(what, path, overwrite)
        self.head(bucket, key)  # a clear 404/403 before any local file is created
        part = path.with_name(f".{path.name}.tirui-part")
        sub = _Progress(progress)
        try:
            self._run_transfer(lambda m: m.download(bucket, key, str(part), subscribers=[sub]), cancel, what)
            if cancel is not None and cancel.cancelled:
                # The last bytes arrived between two cancel checks: still honour the cancel.
                raise Cancelled(f"{what}: cancelled.")
            os.replace(part, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()

    def delete(self, bucket: str, keys: list[str]) -> list[str]:
        failed: list[str] = []
        for i in range(0, len(keys), 1000):
            batch = keys[i : i + 1000]
            try:
                r = self.client.delete_objects(
                    Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
            except Exception as exc:
                raise map_error(exc, f"Deleting from eos://{bucket}") from None
            failed.extend(e["Key"] for e in r.get("Errors", []))
        return failed

    def presign(self, bucket: str, key: str, expires_in: int) -> str:
        if not 1 <= expires_in <= MAX_PRESIGN_SECONDS:
            raise InvalidName("A presigned URL expires after 1 second to 7 days.")
        self.head(bucket, key)
        url: str = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
        )
        return url
