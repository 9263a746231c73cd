"""The Playground's requests, without Textual: presets, execution, copy-as-curl/grpcurl, history.

A :class:`PlaygroundRequest` describes one HTTP or gRPC call; :func:`execute` sends it to a
:class:`~tirui.traffic.targets.Target` and returns a :class:`PlaygroundResponse` that is always
displayable (transport failures become an error response, never an exception). History lines
and copied commands never contain a token unless the caller asks with ``include_token``.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import shlex
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tirui.torchserve.errors import TorchServeError

if TYPE_CHECKING:
    from tirui.torchserve.target import Target

Protocol = Literal["http", "grpc"]
TOKEN_PLACEHOLDER = "$TORCHSERVE_TOKEN"
PREVIEW_BYTES = 64 * 1024

HTTP_PRESETS: dict[str, tuple[str, str, str]] = {
    # name: (api, method, path template)
    "Predict": ("inference", "POST", "/predictions/{model}{/version}"),
    "Explain": ("inference", "POST", "/explanations/{model}{/version}"),
    "KServe v1 predict": ("inference", "POST", "/v1/models/{model}:predict"),
    "KServe v2 infer": ("inference", "POST", "/v2/models/{model}/infer"),
    # answered by tirui's auth proxy on Kubernetes (TorchServe's /ping); TorchServe 0.12 says 404
    "KServe v2 ready": ("inference", "GET", "/v2/health/ready"),
    "Ping": ("inference", "GET", "/ping"),
    "List models": ("management", "GET", "/models?limit=100"),
    "Describe model": ("management", "GET", "/models/{model}{/version}"),
    "Scale workers": (
        "management",
        "PUT",
        "/models/{model}{/version}?min_worker=2&max_worker=2&synchronous=true",
    ),
    "Set default version": ("management", "PUT", "/models/{model}{/version}/set-default"),
    "Register model": (
        "management",
        "POST",
        "/models?url=file:///path/model.mar&initial_workers=1&synchronous=true",
    ),
    "Unregister model": ("management", "DELETE", "/models/{model}{/version}"),
    "Custom": ("inference", "GET", "/"),
}
GRPC_INFERENCE = ("Ping", "Predictions", "StreamPredictions", "StreamPredictions2")
GRPC_MANAGEMENT = (
    "ListModels",
    "DescribeModel",
    "ScaleWorker",
    "SetDefault",
    "RegisterModel",
    "UnregisterModel",
)
HTTP_TO_GRPC = {
    "Predict": "Predictions",
    "Ping": "Ping",
    "List models": "ListModels",
    "Describe model": "DescribeModel",
    "Scale workers": "ScaleWorker",
    "Set default version": "SetDefault",
    "Register model": "RegisterModel",
    "Unregister model": "UnregisterModel",
}
"""HTTP presets and the gRPC RPC that does the same."""
GRPC_WARNINGS = {
    "StreamPredictions2": "StreamPredictions2 is for sequence models: on an ordinary model it wedges the "
    "worker until it is scaled to 0 and back.",
    "StreamPredictions": "StreamPredictions needs a handler that streams; others lose their worker.",
}


@dataclass
class PlaygroundRequest:
    protocol: Protocol = "http"
    preset: str = "Predict"
    """HTTP preset name, or the gRPC RPC name."""
    method: str = "POST"
    path: str = "/predictions/tiny"
    api: str = "inference"
    model: str = ""
    version: str = ""
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_form(
        cls,
        protocol: str,
        preset: str,
        *,
        model: str = "",
        version: str = "",
        method: str = "POST",
        path: str = "/",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        binary: bool = False,
    ) -> PlaygroundRequest:
        """The request a form describes, as it is sent: the API its preset belongs to, a default
        ``Content-Type`` for an HTTP body (JSON; octet-stream for a ``binary`` body read from a
        file), and the checks. ``ValueError`` with a sentence for what cannot be sent."""
        if protocol not in ("http", "grpc"):
            raise ValueError(f"{protocol!r} is not a protocol: http or grpc")
        proto: Protocol = "grpc" if protocol == "grpc" else "http"
        req = cls(protocol=proto, preset=preset, model=model, version=version, body=body)
        req.headers = dict(headers or {})
        if proto == "http":
            req.api = HTTP_PRESETS.get(preset, ("inference", "", ""))[0]
            req.method, req.path = method, path or "/"
            if body and "content-type" not in {k.lower() for k in req.headers}:
                req.headers["Content-Type"] = "application/octet-stream" if binary else "application/json"
        else:
            req.api = "management" if preset in GRPC_MANAGEMENT else "inference"
        if req.names_model() and not model:
            raise ValueError("name the model to send the request to")
        problem = None if binary else req.validate_body()
        if problem:
            raise ValueError(problem)
        return req

    def names_model(self) -> bool:
        """Whether the call is addressed to one model (so one must be named)."""
        if self.protocol == "grpc":
            return self.preset in ("Predictions", "StreamPredictions", "StreamPredictions2")
        return self.preset in HTTP_PRESETS and "{model}" in HTTP_PRESETS[self.preset][2]

    def apply_preset(self, preset: str) -> None:
        """Set api/method/path from an HTTP preset (gRPC presets are RPC names)."""
        self.preset = preset
        if self.protocol == "http" and preset in HTTP_PRESETS:
            self.api, self.method, template = HTTP_PRESETS[preset]
            self.path = fill_path(template, self.model, self.version)
        elif self.protocol == "grpc":
            self.api = "management" if preset in GRPC_MANAGEMENT else "inference"

    def as_grpc(self) -> PlaygroundRequest:
        """The same call over gRPC (for ``copy as grpcurl`` from HTTP mode): the RPC that does what
        the HTTP preset does; ValueError when TorchServe's gRPC API has none (Explain, Custom)."""
        if self.protocol == "grpc":
            return self
        rpc = HTTP_TO_GRPC.get(self.preset)
        if rpc is None:
            raise ValueError(f"{self.preset!r} has no gRPC equivalent in TorchServe's API")
        out = replace(self, protocol="grpc")
        out.apply_preset(rpc)
        return out

    def validate_body(self) -> str | None:
        """A sentence when a JSON-looking body does not parse (binary bodies are left alone)."""
        if not self.body:
            return None
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if text.lstrip()[:1] in '[{"' or (self.protocol == "grpc" and self.api == "management"):
            try:
                json.loads(text)
            except ValueError as exc:
                return f"the body is not valid JSON: {exc}"
        return None


def fill_path(template: str, model: str, version: str) -> str:
    """The preset's path for ``model`` and ``version``, each one URL path segment (a ``/``, a
    space or ``?`` typed in either is sent as data, never as more path or a query)."""
    from urllib.parse import quote

    return template.replace("{model}", quote(model, safe="") or "MODEL").replace(
        "{/version}", f"/{quote(version, safe='')}" if version else ""
    )


@dataclass
class PlaygroundResponse:
    ok: bool
    status: str
    """``200 OK``, ``gRPC OK``, ``gRPC UNAVAILABLE`` or the error family."""
    elapsed: float = 0.0
    ttfb: float = 0.0
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    total_bytes: int = 0
    chunks: int = 0
    error: str = ""

    def preview(self) -> str:
        """Pretty JSON, text, or a hex dump of the first bytes, capped at ``PREVIEW_BYTES``."""
        data = self.body[:PREVIEW_BYTES]
        note = ""
        if self.total_bytes > len(data):
            note = f"\n… showing {len(data):,} of {self.total_bytes:,} bytes"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            rows = [
                f"{i:08x}  {data[i : i + 16].hex(' '):<47}  "
                + "".join(chr(b) if 32 <= b < 127 else "." for b in data[i : i + 16])
                for i in range(0, min(len(data), 1024), 16)
            ]
            return "\n".join(rows) + note
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False) + note
        except ValueError:
            return text + note


ChunkFn = Callable[[bytes], None]


async def execute(
    req: PlaygroundRequest, target: Target, on_chunk: ChunkFn | None = None
) -> PlaygroundResponse:
    """Send ``req``; every failure is a response with ``ok=False`` and a sentence. With a local
    canary, an inference request naming no version goes to the canary's for its share of calls."""
    if target.canary_version and req.api != "management" and not req.version:
        if req.protocol == "http":
            req = dataclasses.replace(req, path=target.route_path(req.path))
        elif req.preset in GRPC_INFERENCE[1:]:
            req = dataclasses.replace(req, version=target.pick_version())
    started = time.perf_counter()
    try:
        if req.protocol == "http":
            return await _http(req, target, on_chunk)
        return await _grpc(req, target, on_chunk)
    except TorchServeError as exc:  # how long it took to fail is worth knowing too (a timeout)
        return PlaygroundResponse(False, exc.short(), elapsed=time.perf_counter() - started, error=str(exc))


async def _http(req: PlaygroundRequest, target: Target, on_chunk: ChunkFn | None) -> PlaygroundResponse:
    from tirui.torchserve.http import TorchServeHTTP

    async with TorchServeHTTP(target.http) as client:
        r = await client.send(
            req.method,
            "management" if req.api == "management" else "inference",
            req.path,
            body=req.body or None,
            headers=req.headers,
            on_chunk=on_chunk,
        )
    return PlaygroundResponse(
        ok=r.ok,
        status=f"{r.status} {r.reason}",
        elapsed=r.elapsed,
        ttfb=r.ttfb,
        headers=r.headers,
        body=r.body,
        total_bytes=r.total_bytes,
        chunks=r.chunks,
        error=r.error or "",
    )


def _grpc_fields(req: PlaygroundRequest) -> dict[str, Any]:
    if not req.body:
        return {}
    doc = json.loads(req.body)
    if not isinstance(doc, dict):
        raise TorchServeError("bad_request", "a management RPC takes a JSON object of request fields")
    return doc


async def _grpc(req: PlaygroundRequest, target: Target, on_chunk: ChunkFn | None) -> PlaygroundResponse:
    from tirui.torchserve.grpc import TorchServeGRPC

    md = list(req.headers.items())
    started = time.perf_counter()
    async with TorchServeGRPC(target.grpc) as client:
        rpc = req.preset
        if rpc == "Ping":
            payload = (await client.ping()).encode()
        elif rpc == "Predictions":
            r = await client.predict(req.model, {"data": req.body}, version=req.version, metadata=md)
            return PlaygroundResponse(
                True,
                "gRPC OK",
                r.elapsed,
                r.ttfb,
                r.initial_metadata + r.trailers,
                r.payload,
                len(r.payload),
                1,
            )
        elif rpc in ("StreamPredictions", "StreamPredictions2"):
            parts: list[bytes] = []
            first = 0.0
            if rpc == "StreamPredictions":
                stream = client.stream_predict(
                    req.model, {"data": req.body}, version=req.version, metadata=md
                )
            else:
                stream = client.stream_predict2(
                    [client.request(req.model, {"data": req.body}, req.version)], metadata=md
                )
            async for part in stream:
                first = first or time.perf_counter() - started
                parts.append(part)
                if on_chunk is not None:
                    on_chunk(part)
            body = b"".join(parts)
            return PlaygroundResponse(
                True, "gRPC OK", time.perf_counter() - started, first, [], body, len(body), len(parts)
            )
        else:
            fields = _grpc_fields(req)
            calls: dict[str, Callable[[], Any]] = {
                "ListModels": lambda: client.list_models(int(fields.get("limit", 100))),
                "DescribeModel": lambda: client.describe(req.model, req.version),
                "ScaleWorker": lambda: client.scale(
                    req.model, int(fields.get("min_worker", 1)), fields.get("max_worker"), req.version
                ),
                "SetDefault": lambda: client.set_default(req.model, req.version),
                "UnregisterModel": lambda: client.unregister(req.model, req.version),
                "RegisterModel": lambda: client.register(
                    str(fields.get("url", "")),
                    model_name=str(fields.get("model_name", "")),
                    initial_workers=int(fields.get("initial_workers", 1)),
                ),
            }
            if rpc not in calls:
                raise TorchServeError("bad_request", f"unknown RPC {rpc!r}")
            payload = str(await calls[rpc]()).encode()
    elapsed = time.perf_counter() - started
    return PlaygroundResponse(True, "gRPC OK", elapsed, elapsed, [], payload, len(payload), 1)


# -- copy as ------------------------------------------------------------------------------------
def _auth_arg(header: str, token: str, include_token: bool) -> str:
    """The token itself only when asked; otherwise a variable the shell expands."""
    if include_token:
        return shlex.quote(f"{header}: Bearer {token}")
    return f'"{header}: Bearer {TOKEN_PLACEHOLDER}"'


def to_curl(req: PlaygroundRequest, target: Target, *, include_token: bool = False) -> str:
    base = target.http.base("management" if req.api == "management" else "inference")
    parts = ["curl", "-sS", "-X", req.method, shlex.quote(base + "/" + req.path.lstrip("/"))]
    token = target.http.token("management" if req.api == "management" else "inference")
    for k, v in req.headers.items():
        parts += ["-H", shlex.quote(f"{k}: {v}")]
    if token:
        parts += ["-H", _auth_arg("Authorization", token, include_token)]
    if req.body:
        try:
            parts += ["--data-binary", shlex.quote(req.body.decode("utf-8"))]
        except UnicodeDecodeError:
            parts += ["--data-binary", "@body.bin"]
    return " ".join(parts)


def to_grpcurl(req: PlaygroundRequest, target: Target, *, include_token: bool = False) -> str:
    from importlib import resources

    proto_dir = resources.files("tirui.torchserve") / "protos"
    management = req.api == "management"
    service = (
        "org.pytorch.serve.grpc.management.ManagementAPIsService"
        if management
        else "org.pytorch.serve.grpc.inference.InferenceAPIsService"
    )
    endpoint = (
        target.grpc.management_target
        if management and target.grpc.management_target
        else target.grpc.inference_target
    )
    if req.preset in GRPC_MANAGEMENT:
        data: dict[str, Any] = {"model_name": req.model} if req.model else {}
        if req.version:
            data["model_version"] = req.version
        if req.body:  # a JSON object's fields join the request's (a model's body does not)
            with contextlib.suppress(ValueError):
                extra = json.loads(req.body)
                if isinstance(extra, dict):
                    data.update(extra)
    elif req.preset == "Ping":
        data = {}
    else:
        data = {"model_name": req.model, "input": {"data": base64.b64encode(req.body).decode()}}
        if req.version:
            data["model_version"] = req.version
    parts = ["grpcurl", "-plaintext" if not target.grpc.tls else ""]
    parts += [
        "-import-path",
        shlex.quote(str(proto_dir)),
        "-proto",
        "management.proto" if management else "inference.proto",
    ]
    token = target.grpc.management_token if management else target.grpc.inference_token
    if token:
        parts += ["-H", _auth_arg("authorization", token, include_token)]
    for k, v in req.headers.items():
        parts += ["-H", shlex.quote(f"{k.lower()}: {v}")]
    parts += ["-d", shlex.quote(json.dumps(data)), endpoint, f"{service}/{req.preset}"]
    return " ".join(p for p in parts if p)


# -- history ------------------------------------------------------------------------------------
@dataclass
class HistoryEntry:
    ts: float
    target: str
    request: dict[str, Any]
    status: str
    elapsed_ms: float


def _clean_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie", "x-api-key")}


def history_file(profile: str) -> Path:
    from tirui import locations

    return locations.history_dir() / f"{profile}.jsonl"


def record(
    profile: str, target_text: str, req: PlaygroundRequest, resp: PlaygroundResponse, limit: int = 200
) -> None:
    """Append one entry (no tokens, bodies only when small text) and keep the newest ``limit``."""
    from tirui import locations

    path = history_file(profile)
    doc = asdict(req)
    doc["headers"] = _clean_headers(req.headers)
    try:
        doc["body"] = req.body.decode("utf-8") if len(req.body) <= 16384 else ""
    except UnicodeDecodeError:
        doc["body"] = ""
    entry = HistoryEntry(time.time(), target_text, doc, resp.status, round(resp.elapsed * 1000, 2))
    lines = path.read_text().splitlines() if path.exists() else []
    lines.append(json.dumps(asdict(entry)))
    locations.write_private(path, "\n".join(lines[-limit:]) + "\n")


def load_history(profile: str) -> list[HistoryEntry]:
    path = history_file(profile)
    out: list[HistoryEntry] = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        try:
            out.append(HistoryEntry(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return out


def request_from(entry: HistoryEntry) -> PlaygroundRequest:
    doc = dict(entry.request)
    body = doc.pop("body", "")
    req = PlaygroundRequest(**{k: v for k, v in doc.items() if k in PlaygroundRequest.__dataclass_fields__})
    req.body = body.encode() if isinstance(body, str) else b""
    return req
