"""What the runtimes say about a running canary (a field of the deployment's status)."""

from __future__ import annotations

from dataclasses import dataclass

CANARY_SUFFIX = "-canary"


@dataclass
class CanaryStatus:
    version: str
    """The canary's archive and model version, in words."""
    weight: int
    """Its share of the traffic, percent."""
    started: float
    model_version: str = ""
    ready: bool = True
    """It can take traffic (local: a READY worker; Kubernetes: a ready pod)."""
    split: str = ""
    """Who splits the traffic, in words (the Ingress, or tirui's own clients locally)."""
    policy: str = ""
    """The analysis it was started with, in words ("" for a manual canary)."""

    def text(self) -> str:
        ready = "" if self.ready else ", not ready"
        return f"canary {self.version} at {self.weight}%{ready}"
