"""Sample requests for a deployment: where it answers and ready-to-run client lines.

What a user's own client needs to move to a tirui deployment is the endpoint and an
``Authorization: Bearer`` header; this puts both into lines that run as printed: ``curl``,
Python ``requests``, and ``grpcurl`` with TorchServe's protos. The token is ``$TORCHSERVE_TOKEN``
unless the user asks for it (``reveal``), so the lines can be pasted into tickets and history.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

from tirui.torchserve.target import Target
from tirui.traffic.playground import TOKEN_PLACEHOLDER, PlaygroundRequest, to_curl, to_grpcurl

SAMPLE_BODY = "[1, 1, 1, 1]"
STREAM_LABEL = "grpcurl stream (streaming handlers only)"
"""TorchServe drops the worker of a handler that does not stream on StreamPredictions."""
MANAGEMENT_PLACEHOLDER = "$TORCHSERVE_MANAGEMENT_TOKEN"
"""The management API's token where it is not the inference one (a local TorchServe's keys)."""


@dataclass(frozen=True)
class Sample:
    label: str
    """``curl predict``, ``python predict``, ``grpcurl stream`` …"""
    command: str


@dataclass
class EndpointSamples:
    name: str
    model: str
    rest_url: str
    management_url: str
    grpc_address: str
    tls: bool
    header: str
    """The header to add, with the token as ``$TORCHSERVE_TOKEN`` unless revealed ("" without auth)."""
    token_source: str
    samples: list[Sample] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """What ``tirui endpoint`` prints and the Deployments screen shows."""
        out = [
            f"REST:        {self.rest_url}",
            f"management:  {self.management_url or '(not reachable from here)'}",
            f"gRPC:        {self.grpc_address} ({'TLS' if self.tls else 'plaintext'})",
            f"header:      {self.header or '(none: the deployment takes no token)'}",
        ]
        if self.header and TOKEN_PLACEHOLDER in self.header:
            out.append(
                f"token:       {self.token_source or 'the token store'}; "
                f"export TORCHSERVE_TOKEN=$(tirui endpoint {self.name} --token)"
            )
        if any(MANAGEMENT_PLACEHOLDER in s.command for s in self.samples):
            out.append(
                f"management token: export TORCHSERVE_MANAGEMENT_TOKEN=$(tirui endpoint {self.name} "
                "--token --management)"
            )
        for s in self.samples:
            out += ["", f"# {s.label}", s.command]
        return out


def _python(url: str, token: str | None, reveal: bool, body: str, verify: bool | str) -> str:
    """A ``python3 -c`` line; its strings in double quotes, so the shell's single quotes wrap it."""
    auth = ""
    if token:
        value = json.dumps(f"Bearer {token}") if reveal else '"Bearer " + os.environ["TORCHSERVE_TOKEN"]'
        auth = f', headers={{"Authorization": {value}}}'
    tls = (
        f", verify={json.dumps(verify) if isinstance(verify, str) else verify}" if verify is not True else ""
    )
    code = (
        f"import os, requests; r = requests.post({json.dumps(url)}, data={json.dumps(body)}{auth}{tls}, "
        "timeout=60); print(r.status_code, r.text)"
    )
    return f"python3 -c {shlex.quote(code)}"


def kserve_body(protocol: str, body: str) -> str:
    """A TorchServe JSON body as the KServe protocol's request: v1 ``{"instances": [body]}``,
    v2 one FP32 input tensor holding it (a flat list)."""
    data = json.loads(body)
    if protocol == "kserve":
        return json.dumps({"instances": [data]})
    size = len(data) if isinstance(data, list) else 1
    return json.dumps({"inputs": [{"name": "input-0", "shape": [size], "datatype": "FP32", "data": data}]})


KSERVE_PRESETS = {"kserve": "KServe v1 predict", "kservev2": "KServe v2 infer"}


def endpoint_samples(
    target: Target,
    model: str,
    *,
    reveal: bool = False,
    body: str = SAMPLE_BODY,
    protocol: str = "torchserve",
) -> EndpointSamples:
    """The endpoints of ``target`` and sample calls of ``model`` (predict and stream over both
    protocols, describe where the management API is reachable). A KServe ``protocol`` predicts
    on its own path with its own body (TorchServe's envelope unwraps it); gRPC stays TorchServe's."""
    http, grpc = target.http, target.grpc
    preset, http_body = "Predict", body
    if protocol in KSERVE_PRESETS:
        preset, http_body = KSERVE_PRESETS[protocol], kserve_body(protocol, body)
    token = http.inference_token
    header = ""
    if token:
        header = f"Authorization: Bearer {token if reveal else TOKEN_PLACEHOLDER}"
    predict = PlaygroundRequest(
        protocol="http", model=model, body=http_body.encode(), headers={"Content-Type": "application/json"}
    )
    predict.apply_preset(preset)
    samples = [
        Sample("curl predict", to_curl(predict, target, include_token=reveal)),
        Sample(
            "python predict (requests)",
            _python(f"{http.base('inference')}{predict.path}", token, reveal, http_body, http.verify),
        ),
    ]
    if http.management_url:
        describe = PlaygroundRequest(protocol="http", model=model)
        describe.apply_preset("Describe model")
        line = to_curl(describe, target, include_token=reveal)
        if http.management_token and http.management_token != token:  # a key of its own
            line = line.replace(TOKEN_PLACEHOLDER, MANAGEMENT_PLACEHOLDER)
        samples.append(Sample("curl describe", line))
    grpc_calls = [("Ping", "grpcurl ping"), ("Predictions", "grpcurl predict")]
    grpc_calls += [("StreamPredictions", STREAM_LABEL)]
    if grpc.management_target:
        grpc_calls.append(("DescribeModel", "grpcurl describe"))
    for rpc, label in grpc_calls:
        sent = body.encode() if rpc in ("Predictions", "StreamPredictions") else b""
        call = PlaygroundRequest(protocol="grpc", model=model, body=sent)
        call.apply_preset(rpc)
        line = to_grpcurl(call, target, include_token=reveal)
        if rpc == "DescribeModel" and grpc.management_token and grpc.management_token != grpc.inference_token:
            line = line.replace(TOKEN_PLACEHOLDER, MANAGEMENT_PLACEHOLDER)
        samples.append(Sample(label, line))
    return EndpointSamples(
        name=target.name,
        model=model,
        rest_url=http.base("inference"),
        management_url=http.management_url.rstrip("/") if http.management_url else "",
        grpc_address=grpc.inference_target,
        tls=grpc.tls,
        header=header,
        token_source=target.token_source,
        samples=samples,
    )
