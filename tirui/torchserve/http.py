"""Async HTTP client for TorchServe's inference and management APIs (httpx).

:meth:`TorchServeHTTP.send` is the raw request the Playground uses: it never raises for an HTTP
status (the answer is data to show), only for transport failures. The typed helpers (``predict``,
``describe``, ``scale``…) raise :class:`TorchServeError` for any error status.

Auth is ``Authorization: Bearer <token>``; TorchServe's own token auth has one key per API
(inference, management), tirui's auth proxy accepts the same token for both.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

import httpx

from tirui.torchserve.errors import TorchServeError, classify_status

Api = Literal["inference", "management"]
PREVIEW_LIMIT = 8 * 1024 * 1024
"""Bytes of a response body kept in memory; the rest is counted, not stored."""


@dataclass(frozen=True)
class Endpoint:
    """Where one TorchServe (or tirui's auth proxy in front of it) answers."""

    inference_url: str
    management_url: str = ""
    inference_token: str | None = None
    management_token: str | None = None
    verify: bool | str = True
    """TLS verification: True (system CAs), False, or the path of a CA bundle."""

    def base(self, api: Api) -> str:
        url = self.management_url if api == "management" and self.management_url else self.inference_url
        return url.rstrip("/")

    def token(self, api: Api) -> str | None:
        return self.management_token if api == "management" else self.inference_token


@dataclass
class HttpResult:
    """One answered request, with timings."""

    method: str
    url: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    total_bytes: int
    elapsed: float
    ttfb: float
    chunks: int = 1
    truncated: bool = False
    error: str | None = None
    error_kind: str | None = None
    request_headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    def json(self) -> Any:
        return json.loads(self.body)


def _phrase(status: int) -> str:
    """TorchServe sends an empty reason phrase; use the standard one."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def transport_error(exc: Exception, url: str) -> TorchServeError:
    """A clear sentence for connection refused, TLS, timeouts and broken responses."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return TorchServeError("timeout", f"{url}: no answer in time ({type(exc).__name__}).")
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return TorchServeError("tls", f"{url}: TLS failed: {cause.reason or cause}.")
        cause = cause.__cause__ or cause.__context__
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
        return TorchServeError("tls", f"{url}: TLS failed: {text}.")
    if isinstance(exc, httpx.ConnectError):
        return TorchServeError("connection", f"{url}: cannot connect ({text}).")
    if isinstance(exc, httpx.RemoteProtocolError):
        return TorchServeError("protocol", f"{url}: the server broke the connection ({text}).")
    return TorchServeError("connection", f"{url}: {text}.")


class TorchServeHTTP:
    """One endpoint; reuse the instance (it keeps a connection pool) and ``aclose`` it."""

    def __init__(
        self, endpoint: Endpoint, *, timeout: float = 30.0, client: httpx.AsyncClient | None = None
    ) -> None:
        self.endpoint = endpoint
        self._client = client or httpx.AsyncClient(verify=endpoint.verify, timeout=timeout)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> TorchServeHTTP:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    def headers(self, api: Api, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        token = self.endpoint.token(api)
        if token and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = f"Bearer {token}"
        return headers

    # -- raw ---------------------------------------------------------------------------------
    async def send(
        self,
        method: str,
        api: Api,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        on_chunk: Callable[[bytes], None] | None = None,
        max_body: int = PREVIEW_LIMIT,
    ) -> HttpResult:
        """Send one request and read the whole answer (streamed chunks go to ``on_chunk`` too)."""
        url = f"{self.endpoint.base(api)}/{path.lstrip('/')}"
        sent = self.headers(api, headers)
        started = time.perf_counter()
        kept = bytearray()
        total = chunks = 0
        try:
            async with self._client.stream(
                method.upper(), url, content=body, headers=sent, params=params
            ) as r:
                ttfb = time.perf_counter() - started
                async for chunk in r.aiter_raw():
                    chunks += 1
                    total += len(chunk)
                    if len(kept) < max_body:
                        kept += chunk[: max_body - len(kept)]
                    if on_chunk is not None and r.status_code < 400:  # an error body is the error's
                        on_chunk(chunk)
        except httpx.HTTPError as exc:
            raise transport_error(exc, url) from None
        elapsed = time.perf_counter() - started
        problem = classify_status(r.status_code, bytes(kept))
        return HttpResult(
            method=method.upper(),
            url=str(r.request.url),
            status=r.status_code,
            reason=r.reason_phrase or _phrase(r.status_code),
            headers=list(r.headers.multi_items()),
            body=bytes(kept),
            total_bytes=total,
            elapsed=elapsed,
            ttfb=ttfb,
            chunks=max(chunks, 1),
            truncated=total > len(kept),
            error=problem[1] if problem else None,
            error_kind=problem[0] if problem else None,
            request_headers=sent,
        )

    async def call(self, method: str, api: Api, path: str, **kwargs: Any) -> HttpResult:
        """:meth:`send`, raising :class:`TorchServeError` for an error status."""
        result = await self.send(method, api, path, **kwargs)
        if result.error is not None:
            raise TorchServeError(result.error_kind or "server", result.error, result.status)  # type: ignore[arg-type]
        return result

    # -- inference API -----------------------------------------------------------------------
    async def ping(self) -> str:
        return str((await self.call("GET", "inference", "/ping")).json().get("status", ""))

    @staticmethod
    def _payload(data: bytes | str | Any) -> tuple[bytes, dict[str, str]]:
        if isinstance(data, bytes):
            return data, {"Content-Type": "application/octet-stream"}
        if isinstance(data, str):
            return data.encode(), {"Content-Type": "application/json"}
        return json.dumps(data).encode(), {"Content-Type": "application/json"}

    async def predict(
        self,
        model: str,
        data: bytes | str | Any,
        *,
        version: str | None = None,
        explain: bool = False,
        on_chunk: Callable[[bytes], None] | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpResult:
        """``POST /predictions/{model}[/{version}]`` (or ``/explanations``); ``headers`` are sent
        too (after the content type, so they may override it)."""
        body, sent = self._payload(data)
        headers = {**sent, **(headers or {})}
        kind = "explanations" if explain else "predictions"
        path = f"/{kind}/{model}" + (f"/{version}" if version else "")
        return await self.call("POST", "inference", path, body=body, headers=headers, on_chunk=on_chunk)

    # -- management API ----------------------------------------------------------------------
    async def list_models(self, page_size: int = 100) -> list[dict[str, Any]]:
        """Every registered model, following ``nextPageToken``."""
        models: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if token:
                params["next_page_token"] = token
            doc = (await self.call("GET", "management", "/models", params=params)).json()
            models += doc.get("models", [])
            token = doc.get("nextPageToken")
            if not token:
                return models

    async def describe(self, model: str, version: str | None = None) -> list[dict[str, Any]]:
        path = f"/models/{model}" + (f"/{version}" if version else "")
        doc = (await self.call("GET", "management", path)).json()
        return doc if isinstance(doc, list) else [doc]

    async def ready_workers(self, model: str) -> int:
        """Workers whose status is READY (TorchServe's ``/ping`` is not readiness, docs/torchserve.md)."""
        described = await self.describe(model)
        return sum(1 for m in described for w in m.get("workers", []) if w.get("status") == "READY")

    async def register(
        self,
        url: str,
        *,
        model_name: str | None = None,
        initial_workers: int = 1,
        synchronous: bool = True,
        batch_size: int | None = None,
        max_batch_delay: int | None = None,
    ) -> str:
        params: dict[str, Any] = {
            "url": url,
            "initial_workers": initial_workers,
            "synchronous": str(synchronous).lower(),
        }
        if model_name:
            params["model_name"] = model_name
        if batch_size is not None:
            params["batch_size"] = batch_size
        if max_batch_delay is not None:
            params["max_batch_delay"] = max_batch_delay
        return str((await self.call("POST", "management", "/models", params=params)).json().get("status", ""))

    async def scale(
        self,
        model: str,
        min_worker: int,
        max_worker: int | None = None,
        *,
        version: str | None = None,
        synchronous: bool = True,
    ) -> str:
        params = {
            "min_worker": min_worker,
            "max_worker": max_worker if max_worker is not None else min_worker,
            "synchronous": str(synchronous).lower(),
        }
        path = f"/models/{model}" + (f"/{version}" if version else "")
        return str((await self.call("PUT", "management", path, params=params)).json().get("status", ""))

    async def set_default(self, model: str, version: str) -> str:
        doc = (await self.call("PUT", "management", f"/models/{model}/{version}/set-default")).json()
        return str(doc.get("status", ""))

    async def unregister(self, model: str, version: str | None = None) -> str:
        path = f"/models/{model}" + (f"/{version}" if version else "")
        return str((await self.call("DELETE", "management", path)).json().get("status", ""))
