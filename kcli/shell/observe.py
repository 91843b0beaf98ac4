"""Observe hosts: one SSH round trip per host running the section script, hosts in parallel."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from kcli.core.facts.sections import Section
from kcli.core.fence import Fence
from kcli.core.inventory import Host
from kcli.core.results import HostResults
from kcli.shell.dockerapi import read_sections, script_runner
from kcli.shell.fanout import run_on_hosts
from kcli.shell.transport import SshPool


def observe(
    pool: SshPool,
    hosts: Sequence[Host],
    snippets: Mapping[str, str] | None = None,
    per_host: Mapping[str, Mapping[str, str]] | None = None,
    timeout: float = 60,
    *,
    fence: Fence | None = None,
    lock_nodes: Collection[str] = (),
) -> HostResults[dict[str, Section]]:
    """Run the shared snippets (plus any per-host ones) on every host, as one command each. With
    the lock holder's fence, each host also raises its fence epoch (kcli.core.fence)."""
    if fence is not None:
        from kcli.shell.executor import run_batches

        per = {h.name: {**(snippets or {}), **((per_host or {}).get(h.name, {}))} for h in hosts}
        res = run_batches(pool, hosts, {}, fence=fence, lock_nodes=lock_nodes, observe=per, timeout=timeout)
        return HostResults(res.order, {n: r.sections for n, r in res.values.items()}, res.errors)

    def one(h: Host) -> dict[str, Section]:
        merged = _snippets(h, snippets, per_host)
        return pool.get(h).call(_key(merged, timeout), _reader(pool, h, merged, timeout))

    return run_on_hosts(one, hosts)


def start_observe(
    pool: SshPool,
    hosts: Sequence[Host],
    snippets: Mapping[str, str] | None = None,
    per_host: Mapping[str, Mapping[str, str]] | None = None,
    timeout: float = 60,
) -> None:
    """Begin ``observe`` (without a fence) of the same arguments now, in the background: the later
    ``observe`` call takes these results (kcli.shell.transport.SshConnection.start_call)."""
    for h in hosts:
        merged = _snippets(h, snippets, per_host)
        pool.get(h).start_call(_key(merged, timeout), _reader(pool, h, merged, timeout))


def _snippets(
    h: Host, snippets: Mapping[str, str] | None, per_host: Mapping[str, Mapping[str, str]] | None
) -> dict[str, str]:
    return {**(snippets or {}), **((per_host or {}).get(h.name, {}))}


def _key(snippets: Mapping[str, str], timeout: float) -> tuple:
    return ("observe", tuple(snippets.items()), timeout)


def _reader(pool: SshPool, h: Host, snippets: Mapping[str, str], timeout: float) -> Callable[[], dict[str, Section]]:
    """One host's observation: its script (one command) and, beside it, what the docker API answers."""
    conn = pool.get(h)
    return lambda: read_sections(conn, snippets, script_runner(conn, timeout))
