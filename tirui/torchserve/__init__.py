"""torchserve."""
