"""A TorchServe handler that answers with the size of each request body; ``sleep:<s>`` waits first.

Used by the body-limit tests (a 20 MB binary body over HTTP and gRPC) and the drain test (a request
still in flight while the pod is told to stop).
"""

import json
import time


def handle(data, context):
    if data is None:  # the initialization call
        return None
    out = []
    for request in data:
        body = request.get("body") if request.get("body") is not None else request.get("data")
        if isinstance(body, str):
            body = body.encode()
        body = bytes(body or b"")
        if body.startswith(b"sleep:"):
            time.sleep(float(body[6:]))
        out.append(json.dumps({"bytes": len(body)}))
    return out
