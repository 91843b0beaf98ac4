"""Observe hosts: one SSH round trip per host running the section script, hosts in parallel."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from kcli.core.facts.sections import Section, parse_sections, render_script
from kcli.core.fence import Fence
from kcli.core.inventory import Host
from kcli.core.results import HostResults
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
        res = pool.get(h).run(_argv(h, snippets, per_host), timeout=timeout)
        return parse_sections(res.stdout)

    return run_on_hosts(one, hosts)


def start_observe(
    pool: SshPool,
    hosts: Sequence[Host],
    snippets: Mapping[str, str] | None = None,
    per_host: Mapping[str, Mapping[str, str]] | None = None,
    timeout: float = 60,
) -> None:
    """Begin ``observe`` (without a fence) of the same arguments now, in the background: the later
    ``observe`` call takes these results (kcli.shell.transport.SshConnection.start)."""
    for h in hosts:
        pool.get(h).start(_argv(h, snippets, per_host), timeout=timeout)


def _argv(h: Host, snippets: Mapping[str, str] | None, per_host: Mapping[str, Mapping[str, str]] | None) -> list[str]:
    return ["sh", "-c", render_script({**(snippets or {}), **((per_host or {}).get(h.name, {}))})]
