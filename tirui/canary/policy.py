"""How a canary is judged and stepped: weights, thresholds, the interval between decisions."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from tirui.core.durations import format_duration, parse_duration

DEFAULT_STEPS = (10, 25, 50, 100)


@dataclass(frozen=True)
class Policy:
    """What the analysis demands of the canary at each step before it raises its weight.

    ``max_p99_ratio``: the canary's p99 may be at most this multiple of the stable side's (and
    fails only when it is also ``p99_slack_ms`` slower, so a 3 ms vs 4 ms p99 does not fail a
    good canary on noise). ``max_error_rate``: the canary's share of server errors (HTTP 5xx,
    gRPC codes other than the caller's mistakes), a fraction. A step is judged once
    ``interval_s`` has passed *and* each side has ``min_requests`` requests in it.
    """

    steps: tuple[int, ...] = DEFAULT_STEPS
    max_p99_ratio: float = 1.2
    max_error_rate: float = 0.01
    interval_s: float = 60.0
    min_requests: int = 50
    p99_slack_ms: float = 5.0
    failures: int = 2
    """Consecutive failed checks at one step that roll the canary back (a check that fails once,
    e.g. on a pause that hit the canary's few requests, is judged again on a fresh window)."""

    def problems(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if not self.steps or any(not 0 < w <= 100 for w in self.steps):
            out["steps"] = "steps are traffic percentages between 1 and 100"
        elif list(self.steps) != sorted(set(self.steps)):
            out["steps"] = "steps must rise (e.g. 10,25,50,100)"
        if self.max_p99_ratio < 1:
            out["max_p99_ratio"] = "the p99 ratio must be 1 or more (1.2 lets the canary be 20% slower)"
        if not 0 <= self.max_error_rate <= 1:
            out["max_error_rate"] = "the error rate is a percentage between 0% and 100%"
        if self.interval_s <= 0:
            out["interval"] = "the interval must be positive"
        if self.failures < 1:
            out["failures"] = "at least 1 failed check before a rollback"
        if self.min_requests < 1:
            out["min_requests"] = "at least 1 request per side"
        return out

    def describe(self) -> str:
        return (
            f"steps {','.join(map(str, self.steps))}%, every {format_duration(int(self.interval_s))}, "
            f"p99 ≤ {self.max_p99_ratio:g}x stable (+{self.p99_slack_ms:g} ms slack), "
            f"errors ≤ {self.max_error_rate * 100:g}%, ≥ {self.min_requests} requests a side, "
            f"rollback after {self.failures} failed check(s)"
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Policy:
        doc = json.loads(text)
        known = {k: doc[k] for k in cls.__dataclass_fields__ if k in doc}
        if "steps" in known:
            known["steps"] = tuple(int(w) for w in known["steps"])
        return cls(**known)


def parse_steps(text: str) -> tuple[int, ...]:
    """``10,25,50,100`` (``%`` allowed); ValueError with a sentence otherwise."""
    parts = [p.strip().rstrip("%") for p in text.split(",") if p.strip()]
    try:
        steps = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"{text!r} is not a list of percentages (e.g. 10,25,50,100)") from None
    problem = Policy(steps=steps).problems().get("steps")
    if problem:
        raise ValueError(f"{text!r}: {problem}")
    return steps


def parse_rate(text: str) -> float:
    """``1%`` or ``0.5%`` (a percentage) → a fraction; a bare number is a percentage too."""
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*$", text)
    if not m or float(m.group(1)) > 100:
        raise ValueError(f"{text!r} is not a percentage (e.g. 1%)")
    return float(m.group(1)) / 100


def parse_weight(text: str | int) -> int:
    try:
        weight = int(str(text).strip().rstrip("%"))
    except ValueError:
        raise ValueError(f"{text!r} is not a traffic percentage (0-100)") from None
    if not 0 <= weight <= 100:
        raise ValueError(f"{weight}: the canary's share of traffic is a percentage (0-100)")
    return weight


def parse_interval(text: str) -> float:
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError("the interval must be positive")
    return float(seconds)
