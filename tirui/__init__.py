"""tirui: a keyboard-driven terminal UI for TorchServe deployments."""

__version__ = "0.1.0"
