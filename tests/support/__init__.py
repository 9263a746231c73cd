"""What the test tiers share: the servers they start (``servers``, ``torchserve_fixture``,
``control_plane``, ``s3_extra_servers``), the parts of a cluster these machines lack (the pod
runner, :mod:`.kubelet`), gRPC and HTTP targets, the handlers under ``models/`` and Pilot
helpers (``helpers``)."""

import os
from pathlib import Path

PATIENCE = float(os.environ.get("TIRUI_TEST_PATIENCE", "4"))
"""Every test deadline is multiplied by this: a deadline only stops a hung test, and a loaded
machine (CI, two suites at once) must not fail a test that would have passed given the time."""

HANDLERS = Path(__file__).with_name("models")
"""The TorchServe handlers the tests archive (slow, streaming, batching, broken, size-echoing)."""
