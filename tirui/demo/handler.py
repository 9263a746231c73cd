"""TorchServe handler of tirui's demo model: JSON lists of 4 floats in, 2 floats out per request."""

import json

import torch
from ts.torch_handler.base_handler import BaseHandler


class TinyHandler(BaseHandler):
    """Accepts ``[a, b, c, d]`` or ``{"data": [a, b, c, d]}`` bodies, and KServe's v1 instances and
    v2 inputs through TorchServe's ``service_envelope``; batches them."""

    def preprocess(self, data):
        rows = []
        for request in data:
            body = request  # TorchServe's KServe v1 envelope hands over each instance as it is
            if isinstance(request, dict) and ("body" in request or "data" in request):
                body = request.get("body") if request.get("body") is not None else request.get("data")
            if isinstance(body, bytes | bytearray):
                body = body.decode("utf-8")
            if isinstance(body, str):
                body = json.loads(body)
            if isinstance(body, dict):
                body = body.get("data", body.get("input"))
            rows.append([float(x) for x in body])
        return torch.tensor(rows, dtype=torch.float32)

    def postprocess(self, data):
        return [[round(v, 6) for v in row] for row in data.tolist()]
