"""Kubernetes ``resource.Quantity`` parsing (docs/k8s-reference.md §6.4).

``cpu_millis("500m") == 500``, ``memory_bytes("128Mi") == 134217728``. Like upstream
``MilliValue()``/``Value()``, results are rounded up to whole millicores / units.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}
_RE = re.compile(
    r"(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<exp>[eE][+-]?[0-9]+)|(?P<suf>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)"
)
QUANTITY_REGEX = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
"""The regular expression upstream quotes in its error message."""


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


def parse_quantity(value: object) -> Decimal:
    """Parse a quantity (``"1.5Gi"``, ``"100m"``, ``"1e3"``, ``2``, ``0.5``) into an exact Decimal."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise QuantityError(f"quantities must be a string or a number, got {type(value).__name__}")
    text = repr(value) if isinstance(value, float) else str(value)
    m = _RE.fullmatch(text.strip()) if text.strip() == text else None
    if m is None:
        raise QuantityError(f"quantities must match the regular expression '{QUANTITY_REGEX}'")
    try:
        number = Decimal(m.group("num"))
        if m.group("exp"):
            exponent = int(m.group("exp")[1:])
            if abs(exponent) > 100:
                raise QuantityError("quantity exponent is out of range")
            return number.scaleb(exponent)
        suffix = m.group("suf") or ""
        return number * (_BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix])
    except InvalidOperation as exc:  # pragma: no cover - regex already guarantees a number
        raise QuantityError(f"invalid quantity {text!r}") from exc


def _ceil(d: Decimal) -> int:
    return int(d.to_integral_value(rounding=ROUND_CEILING))


def cpu_millis(value: object) -> int:
    """CPU quantity → millicores, rounded up (``"0.1"`` → 100, ``"1"`` → 1000)."""
    return _ceil(parse_quantity(value) * 1000)


def memory_bytes(value: object) -> int:
    """Memory (or any countable) quantity → integer units, rounded up (``"1Gi"`` → 1073741824)."""
    return _ceil(parse_quantity(value))


def resource_value(resource: str, value: object) -> int:
    """A request/limit as kcli stores it: millicores for ``cpu``, integer units for everything else."""
    return cpu_millis(value) if resource == "cpu" else memory_bytes(value)


def format_cpu(millis: int) -> str:
    """``1500`` → ``"1500m"``, ``2000`` → ``"2"`` (kubectl describe style)."""
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def format_bytes(n: int) -> str:
    """Largest exact binary suffix: ``134217728`` → ``"128Mi"``, ``1000`` → ``"1000"``."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = _BINARY[suffix]
        if n and n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)


def format_resource(resource: str, value: int) -> str:
    """Inverse of :func:`resource_value` for display."""
    if resource == "cpu":
        return format_cpu(value)
    if resource in ("memory", "ephemeral-storage") or resource.startswith("hugepages-"):
        return format_bytes(value)
    return str(value)
