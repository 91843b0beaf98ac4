"""Run a function per host in a bounded thread pool and wait for every host."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from kcli.core.inventory import Host
from kcli.core.results import HostResults, aggregate

R = TypeVar("R")
DEFAULT_PARALLEL = 32


def run_on_hosts(
    fn: Callable[[Host], R], hosts: Sequence[Host], *, max_workers: int = DEFAULT_PARALLEL
) -> HostResults[R]:
    """Call fn(host) for every host in parallel (at most max_workers at once); collect all outcomes."""
    outcomes: dict[str, R | BaseException] = {}
    if not hosts:
        return aggregate([], {})
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(hosts)))) as pool:
        futures = {h.name: pool.submit(fn, h) for h in hosts}
        for name, fut in futures.items():
            try:
                outcomes[name] = fut.result()
            except Exception as exc:  # noqa: BLE001 - kept per host, reported together
                outcomes[name] = exc
    return aggregate([h.name for h in hosts], outcomes)
