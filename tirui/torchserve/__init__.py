"""TorchServe itself: starting one server on loopback (config.properties, ports, keys),
its REST inference/management/metrics clients and its gRPC clients (generated from its protos),
the model settings it describes, and the ``Target`` a request is sent to (URLs plus tokens).
What the code relies on about TorchServe is written down in ``docs/torchserve.md``."""
