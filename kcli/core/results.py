"""Per-host results: every host's outcome kept side by side, so one failure never hides another."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class HostResults(Generic[T]):
    """Outcome per host name, in inventory order: a value, or the exception it raised."""

    order: tuple[str, ...]
    values: Mapping[str, T]
    errors: Mapping[str, BaseException]

    @property
    def ok(self) -> bool:
        return not self.errors

    def __iter__(self) -> Iterator[tuple[str, T | None, BaseException | None]]:
        for name in self.order:
            yield name, self.values.get(name), self.errors.get(name)

    def failed_names(self) -> list[str]:
        return [n for n in self.order if n in self.errors]

    def summary(self) -> str:
        """One line per failed host, e.g. for ExecutionError details."""
        return "\n".join(f"{n}: {self.errors[n]}" for n in self.failed_names())


def aggregate(order: list[str] | tuple[str, ...], outcomes: Mapping[str, T | BaseException]) -> HostResults[T]:
    values = {n: v for n, v in outcomes.items() if not isinstance(v, BaseException)}
    errors = {n: v for n, v in outcomes.items() if isinstance(v, BaseException)}
    missing = [n for n in order if n not in outcomes]
    if missing:
        raise ValueError(f"no outcome for hosts: {', '.join(missing)}")
    return HostResults(tuple(order), values, errors)
