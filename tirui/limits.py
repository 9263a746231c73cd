"""The whole numbers tirui accepts, judged in one place before anything is sent or stored: the
deploy form and ``tirui deploy`` (through :meth:`DeploymentSpec.problems`), the scale dialog,
``tirui scale`` and both runtimes' ``scale``, the Playground's and the CLI's ports.

TorchServe parses its numbers as Java ``int`` and answers a larger one with a worker that never
starts (its log says ``Invalid configuration: For input string``); Kubernetes keeps replicas in an
``int32``. The upper bounds here are far below both, at what one deployment can sensibly ask for,
and each is said in the message. Only digits are a whole number: ``1e3``, ``4.0`` and ``-1`` are
refused everywhere alike. See docs/architecture.md ("Inputs are judged before they are used").
"""

from __future__ import annotations

from dataclasses import dataclass


def is_whole_number(text: str) -> bool:
    """Only ASCII digits: what every field of tirui takes as a whole number (no sign, no
    exponent, no other script's digits)."""
    return text.isascii() and text.isdigit()


class LimitError(ValueError):
    """A number outside what tirui accepts; the message names the field and the range."""


@dataclass(frozen=True)
class Limit:
    what: str
    lo: int
    hi: int
    why: str = ""

    def problem(self, value: int) -> str:
        """ "" when ``value`` is accepted, else one line saying the range (and why)."""
        if self.lo <= value <= self.hi:
            return ""
        why = f" ({self.why})" if self.why else ""
        shown = str(value) if abs(value) < 10**12 else f"{str(value)[:12]}…"
        return f"{self.what} must be {self.lo}-{self.hi}, not {shown}{why}"

    def check(self, value: int) -> int:
        problem = self.problem(value)
        if problem:
            raise LimitError(problem)
        return value

    def parse(self, text: str) -> int:
        """``text`` as a whole number in range (:class:`LimitError` saying why not)."""
        value = text.strip()
        if not is_whole_number(value):
            raise LimitError(f"{self.what}: {text.strip()[:40]!r} is not a whole number")
        if len(value) > 12:
            raise LimitError(f"{self.what} must be {self.lo}-{self.hi}, not {value[:12]}…")
        return self.check(int(value))

    def problem_of(self, text: str) -> str:
        """:meth:`parse`'s refusal as text ("" when accepted): for a form's check."""
        try:
            self.parse(text)
        except LimitError as exc:
            return str(exc)
        return ""


WORKERS = Limit("workers", 0, 256, "each TorchServe worker is a process with the model loaded")
REPLICAS = Limit("replicas", 0, 1000)
MIN_REPLICAS = Limit("min replicas", 1, 1000)
MAX_REPLICAS = Limit("max replicas", 0, 1000, "0 removes autoscaling")
BATCH_SIZE = Limit("batch size", 1, 1024)
MAX_BATCH_DELAY_MS = Limit("max batch delay (ms)", 0, 600_000)
REQUEST_TIMEOUT_S = Limit("the request timeout (s)", 1, 3600)
GPUS = Limit("GPUs", 0, 16, "per pod")
PORT = Limit("port", 1, 65535)

SPEC_FIELDS: dict[str, Limit] = {
    "workers": WORKERS,
    "replicas": REPLICAS,
    "batch_size": BATCH_SIZE,
    "max_batch_delay_ms": MAX_BATCH_DELAY_MS,
    "request_timeout_s": REQUEST_TIMEOUT_S,
    "gpus": GPUS,
}
"""The numeric fields of a deployment spec and their limits."""


def scale_limit(unit: str) -> Limit:
    """The limit of a runtime's ``scale`` count by its ``scale_unit`` (worker or replica)."""
    return WORKERS if unit == "worker" else REPLICAS
