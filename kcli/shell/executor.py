"""The one executor: a batch of units per host (kcli.core.commands.batch), one round trip per host,
hosts in parallel, behind the lock's fence. Every command that writes to hosts goes through here."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence

from kcli.core.commands.batch import BatchResult, Unit, parse_batch, render_batch
from kcli.core.commands.shell import RUN_STDIN_SCRIPT
from kcli.core.facts.sections import Section
from kcli.core.fence import Fence
from kcli.core.inventory import Host
from kcli.core.results import HostResults
from kcli.errors import LockLostError
from kcli.shell.dockerapi import read_sections, script_runner
from kcli.shell.fanout import DEFAULT_PARALLEL, run_on_hosts
from kcli.shell.transport import SshPool


def run_batches(
    pool: SshPool,
    hosts: Sequence[Host],
    units: Mapping[str, Sequence[Unit]],
    *,
    fence: Fence | None,
    lock_nodes: Collection[str] = (),
    observe: Mapping[str, Mapping[str, str]] | None = None,
    timeout: float = 900,
    parallel: int = DEFAULT_PARALLEL,
) -> HostResults[BatchResult]:
    """Run each host's units (and then its observation snippets) as one script sent on stdin.

    Hosts with neither units nor snippets are not contacted. A host that refuses the fence ran
    nothing; when any host refused, LockLostError is raised after every host has answered."""
    todo = [h for h in hosts if units.get(h.name) or (observe or {}).get(h.name)]

    def one(h: Host) -> BatchResult:
        conn = pool.get(h)
        limit = max(timeout, h.command_timeout)
        ran: list[BatchResult] = []

        def run_script(snippets: Mapping[str, str]) -> dict[str, Section]:
            script = render_batch(
                units.get(h.name, ()), fence=fence, lock_node=h.name in lock_nodes, observe=snippets or None
            )
            ran.append(parse_batch(conn.run(RUN_STDIN_SCRIPT, stdin=script.encode(), timeout=limit).stdout))
            return ran[0].sections

        # the observation folded in: read after the units ran (the docker API's part too)
        sections = read_sections(
            conn, (observe or {}).get(h.name) or {}, run_script, after=True, fallback=script_runner(conn, limit)
        )
        return dataclasses.replace(ran[0], sections=sections)

    done = run_on_hosts(one, todo, max_workers=parallel)
    fenced = {n: r.fenced for n, r in done.values.items() if r.fenced}
    if fenced:
        raise LockLostError(
            "this run lost the cluster lock: the nodes refused its writes; nothing was committed",
            details=[f"{n}: {why}" for n, why in sorted(fenced.items())],
        )
    return done


def first_failure(units: Sequence[Unit], result: BatchResult | None, host_error: BaseException | None) -> str | None:
    """``step NAME failed: …`` for the first unit (in order) that failed or never ran, else None."""
    errs = unit_errors(units, result, host_error)
    first = next((u.name for u in units if u.name in errs), None)
    return None if first is None else f"step {first} failed: {errs[first]}"


def unit_errors(units: Sequence[Unit], result: BatchResult | None, host_error: BaseException | None) -> dict[str, str]:
    """Unit name → error, for the units that failed or never ran on one host."""
    if result is None:
        return {u.name: str(host_error or "not run") for u in units}
    out = {u.name: u.error or f"exit {u.rc}" for u in result.failed()}
    for name in result.not_run(units):
        out.setdefault(name, "not run: an earlier step failed")
    return out
