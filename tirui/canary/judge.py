"""One side's numbers over a window, and the verdict on a canary against its stable side."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from tirui.canary.policy import Policy
from tirui.metrics.accesslog import AccessEntry


def _quantile(sorted_ms: Sequence[float], q: float) -> float | None:
    """Nearest rank: the smallest latency at or above which ``q`` of the requests fall."""
    if not sorted_ms:
        return None
    return sorted_ms[min(len(sorted_ms) - 1, max(0, math.ceil(q * len(sorted_ms)) - 1))]


@dataclass(frozen=True)
class SideStats:
    """Requests of one side (stable or canary) in a window, from its access log."""

    requests: int = 0
    errors: int = 0
    """Server errors: HTTP 5xx, gRPC codes other than the caller's mistakes."""
    p50_ms: float | None = None
    p99_ms: float | None = None
    seconds: float = 0.0

    @classmethod
    def of(cls, entries: Sequence[AccessEntry], seconds: float) -> SideStats:
        latencies = sorted(e.latency_ms for e in entries)
        errors = sum(1 for e in entries if e.status_class == "5xx")
        return cls(len(entries), errors, _quantile(latencies, 0.5), _quantile(latencies, 0.99), seconds)

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def text(self) -> str:
        if not self.requests:
            return "no requests"
        return (
            f"{self.requests} req ({self.rps:.1f}/s), p50 {self.p50_ms:g} ms, p99 {self.p99_ms:g} ms, "
            f"errors {self.error_rate * 100:.1f}%"
        )


@dataclass(frozen=True)
class Verdict:
    kind: Literal["pass", "fail", "wait"]
    text: str
    """The reason with its numbers (what goes into the deployment's events)."""


def judge(baseline: SideStats | None, canary: SideStats, policy: Policy, *, weight: int) -> Verdict:
    """``baseline``: the stable side in this window, or (at 100%, when stable gets nothing) the
    last window in which it had enough requests; None when there is none yet."""
    need = policy.min_requests
    if canary.requests < need:
        return Verdict("wait", f"canary has {canary.requests} of {need} requests needed at {weight}%")
    if canary.error_rate > policy.max_error_rate:
        return Verdict(
            "fail",
            f"canary error rate {canary.error_rate * 100:.1f}% ({canary.errors} of {canary.requests}) > "
            f"{policy.max_error_rate * 100:g}%",
        )
    if baseline is None or baseline.requests < need:
        if weight < 100:
            have = baseline.requests if baseline else 0
            return Verdict("wait", f"stable has {have} of {need} requests needed to compare with")
        return Verdict("pass", f"no stable baseline to compare p99 with; canary {canary.text()}")
    assert canary.p99_ms is not None and baseline.p99_ms is not None
    ratio = canary.p99_ms / baseline.p99_ms if baseline.p99_ms > 0 else math.inf
    slower = canary.p99_ms - baseline.p99_ms
    numbers = (
        f"p99 {canary.p99_ms:g} ms vs stable {baseline.p99_ms:g} ms (ratio {ratio:.2f}), "
        f"errors {canary.error_rate * 100:.1f}% vs {baseline.error_rate * 100:.1f}%, "
        f"{canary.requests} vs {baseline.requests} requests"
    )
    if ratio > policy.max_p99_ratio and slower > policy.p99_slack_ms:
        return Verdict("fail", f"{numbers}: p99 ratio > {policy.max_p99_ratio:g}")
    return Verdict("pass", numbers)
