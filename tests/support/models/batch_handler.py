"""A TorchServe handler that answers each request with the size of the batch it came in.

Used to see that TorchServe batches as it was told (``batchSize``, ``maxBatchDelay``): under
concurrent load the answers name batches of the asked size and none larger.
"""

import json


def handle(data, context):
    if data is None:  # the initialization call
        return None
    return [json.dumps({"batch": len(data)}) for _ in data]
