"""A TorchServe handler that streams: three intermediate chunks, then the model's answer.

Used by the tests of HTTP chunked responses and gRPC StreamPredictions (a non-streaming handler
would kill the worker on StreamPredictions, docs/torchserve.md).
"""

import json
import time

import torch
from ts.handler_utils.utils import send_intermediate_predict_response
from ts.torch_handler.base_handler import BaseHandler


class StreamHandler(BaseHandler):
    def handle(self, data, context):
        rows = []
        for request in data:
            body = request.get("body") if request.get("body") is not None else request.get("data")
            if isinstance(body, (bytes, bytearray)):
                body = body.decode("utf-8")
            if isinstance(body, str):
                body = json.loads(body)
            rows.append([float(x) for x in body])
        out = self.model(torch.tensor(rows, dtype=torch.float32)).tolist()
        for step in range(3):
            chunk = [json.dumps({"step": step}) + "\n" for _ in data]
            send_intermediate_predict_response(chunk, context.request_ids, "Intermediate", 200, context)
            time.sleep(0.3)  # chunks apart in time, so a client that buffers them shows it
        return [json.dumps({"step": 3, "output": [round(v, 6) for v in row]}) + "\n" for row in out]
