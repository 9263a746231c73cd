"""The demo model's handler made deliberately slow (100 ms a batch): the canary that the analysis
must roll back on its p99. Same inputs and outputs as ``tirui/demo/handler.py``."""

import json
import time

import torch
from ts.torch_handler.base_handler import BaseHandler


class SlowTinyHandler(BaseHandler):
    def preprocess(self, data):
        time.sleep(0.1)
        rows = []
        for request in data:
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
