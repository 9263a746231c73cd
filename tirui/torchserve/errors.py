"""What went wrong talking to TorchServe, as a kind plus a sentence fit to show a user."""

from __future__ import annotations

import json
from typing import Literal

ErrorKind = Literal[
    "auth",
    "not_found",
    "unavailable",
    "bad_request",
    "too_large",
    "worker_died",
    "server",
    "connection",
    "tls",
    "timeout",
    "protocol",
]


class TorchServeError(Exception):
    """A failed call; ``str(error)`` is a complete sentence, ``kind`` says which family."""

    def __init__(self, kind: ErrorKind, message: str, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        """The HTTP status, when the server answered."""
        self.code = code
        """The gRPC status code's name (``UNAVAILABLE``), when the call was gRPC."""

    def short(self) -> str:
        """A few words for a status column: ``HTTP 404``, ``gRPC NOT_FOUND``, ``unreachable``."""
        if self.code:
            return f"gRPC {self.code}"
        if self.status:
            return f"HTTP {self.status}"
        return _SHORT.get(self.kind, self.kind.replace("_", " "))


_SHORT: dict[str, str] = {
    "connection": "unreachable",
    "tls": "TLS failed",
    "timeout": "timed out",
    "protocol": "connection broken",
}


def server_message(body: bytes) -> str:
    """TorchServe's ``{"code", "type", "message"}`` error body as one line (or the raw text)."""
    text = body.decode("utf-8", "replace").strip()
    try:
        doc = json.loads(text)
    except ValueError:
        return text[:300]
    if isinstance(doc, dict) and "message" in doc:
        kind = f"{doc['type']}: " if doc.get("type") else ""
        return f"{kind}{doc['message']}"
    return text[:300]


def classify_status(status: int, body: bytes) -> tuple[ErrorKind, str] | None:
    """The error family of an HTTP answer, or None for success.

    TorchServe answers a missing or wrong token with **400** ``InvalidKeyException`` (not 401);
    the auth proxy tirui deploys answers 401. Both are "auth".
    """
    if status < 400:
        return None
    detail = server_message(body)
    if status in (401, 403) or "InvalidKeyException" in detail:
        return "auth", f"authentication failed ({status}): the token is missing, wrong or expired. {detail}"
    if status == 404:
        return "not_found", f"not found (404): {detail}"
    if status == 503:
        if "prediction failed" in detail.lower():  # the handler raised: a worker was there
            return "server", f"the model failed on this input (503): {detail}"
        if "worker" in detail.lower() or not detail:
            return "unavailable", f"no worker ready (503): {detail}"
        return "unavailable", f"unavailable (503): {detail}"
    if status == 413:
        return "too_large", f"request too large (413): {detail}"
    if status == 507:
        return "worker_died", f"the model worker died (507): {detail}"
    if status < 500:
        return "bad_request", f"rejected ({status}): {detail}"
    return "server", f"server error ({status}): {detail}"
