"""What the test tiers share: the servers they start (``servers``, ``torchserve_fixture``,
``control_plane``, ``s3_extra_servers``), the parts of a cluster these machines lack (the pod
runner, :mod:`.kubelet`), gRPC and HTTP targets, the handlers under ``models/`` and Pilot
helpers (``helpers``)."""

from pathlib import Path

HANDLERS = Path(__file__).with_name("models")
"""The TorchServe handlers the tests archive (slow, streaming, batching, broken, size-echoing)."""
