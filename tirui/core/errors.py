"""The runtime error family: every runtime operation fails with one of these, whose message is a
complete sentence for the user. Here, at the bottom, because every layer above raises or catches
them: the runtime contract and the spec (cluster), the canary analysis over any runtime
(canary), the screens and the CLI."""

from __future__ import annotations


class RuntimeFailure(Exception):
    """A runtime operation failed; the message is a complete sentence for the user."""


class DeploymentNotFound(RuntimeFailure):
    pass


class ChangedElsewhere(RuntimeFailure):
    """Nothing was changed: the change would overwrite what another tool changed since (fields
    another manager owns); deploying again with ``force`` takes them over."""
