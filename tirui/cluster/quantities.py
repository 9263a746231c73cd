"""Kubernetes quantities (``500m``, ``4Gi``, ``1e3``): the syntax check and a conversion to bytes."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

QUANTITY_RE = re.compile(
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
"""Kubernetes resource.Quantity, as in apimachinery."""
_SUFFIX: dict[str, int | Decimal] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}  # fmt: skip


def to_bytes(quantity: str) -> int:
    """``"64Mi"`` → 67108864 (rounded up to a whole byte); ValueError when it is not a quantity."""
    if not QUANTITY_RE.match(quantity):
        raise ValueError(f"{quantity!r} is not a Kubernetes quantity (e.g. 64Mi, 100M)")
    for suffix in sorted(_SUFFIX, key=len, reverse=True):
        if quantity.endswith(suffix) and not quantity[: -len(suffix)].lower().endswith("e"):
            number, scale = quantity[: -len(suffix)], Decimal(_SUFFIX[suffix])
            break
    else:
        number, scale = quantity, Decimal(1)
    try:
        value = Decimal(number) * scale
    except InvalidOperation:
        raise ValueError(f"{quantity!r} is not a Kubernetes quantity") from None
    return int(value.to_integral_value(rounding="ROUND_CEILING"))
