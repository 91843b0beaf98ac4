"""Observe the cluster: one round trip per node (facts + kcli's pods), nodes in parallel. The view
itself and its pure helpers live in kcli.core.cluster."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kcli.core.facts.view_script import VIEW_SNIPPETS
from kcli.core.inventory import Inventory
from kcli.core.lock import PROBE_SECTION, LockProbe, lock_hosts, parse_probe, probe_script
from kcli.core.secretkey import READ_SNIPPET, SECRET_KEY_FILE, choose_key, store_unit
from kcli.core.secretkey import SECTION as KEY_SECTION
from kcli.errors import ExecutionError
from kcli.shell.observe import observe, start_observe
from kcli.shell.transport import SshPool

if TYPE_CHECKING:
    from kcli.core.cluster import ClusterView
    from kcli.shell.lock import ClusterLock

_FROM_CORE = ("ClusterView", "merged", "scheduler_nodes", "view_from_sections")
__all__ = ["VIEW_SNIPPETS", "look", "observe_cluster", *_FROM_CORE]


def __getattr__(name: str) -> Any:
    """kcli.core.cluster's view helpers, re-exported lazily (this module stays light to import)."""
    if name in _FROM_CORE:
        from kcli.core import cluster

        return getattr(cluster, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def observe_cluster(
    pool: SshPool, inv: Inventory, extra: Mapping[str, Mapping[str, str]] | None = None
) -> tuple[ClusterView, dict]:
    """Returns the view and the raw sections per node (for callers that added ``extra`` snippets)."""
    from kcli.core.cluster import view_from_sections

    res = observe(pool, list(inv.hosts), VIEW_SNIPPETS, per_host=extra)
    values: dict = dict(res.values)
    view = view_from_sections(values)
    view.errors = {n: str(e) for n, e in res.errors.items()}
    return view, values


def look(
    pool: SshPool, inv: Inventory, state: Mapping[str, Any], lock: ClusterLock | None = None
) -> tuple[ClusterView, bytes, dict[str, LockProbe | None] | None]:
    """What an apply plans from: one round trip per node (the lock holder's raises each node's
    fence); the cluster's secret key and the lock's state ride on the lock nodes'. The holder writes
    the key to lock nodes that lack it (kcli.core.secretkey); a look without the lock on a cluster
    that has no key yet plans with a throwaway one. Pods of unreachable nodes are added as Unknown.
    The third value: the lock nodes' lock probes (kcli.core.lock.look_still_valid), or None when
    the look cannot stand for one under the lock (a lock node lacks the key: the holder writes it)."""
    from kcli.core.cluster import add_unknown_pods, view_from_sections

    voters = [h.name for h in lock_hosts(inv)]
    res = observe(
        pool,
        list(inv.hosts),
        VIEW_SNIPPETS,
        per_host=_key_reads(inv),
        fence=lock.fence if lock else None,
        lock_nodes=lock.held_on if lock else (),
    )
    view = view_from_sections(dict(res.values))
    view.errors = {n: str(e) for n, e in res.errors.items()}
    answered = [v for v in voters if v not in view.errors]
    if not answered:
        raise ExecutionError(
            "cannot read any lock node; nothing was changed", details=[f"{v}: {view.errors[v]}" for v in voters]
        )
    choice = choose_key(res.values, answered)
    key = choice.key or os.urandom(32)
    if lock is not None and choice.missing:
        _keep_key(pool, inv, lock, key, choice.missing, new=not choice.key)
    add_unknown_pods(view, state.get("pods") or {})
    probes = None
    if not choice.missing and choice.key:
        probes = {}
        for v in voters:
            sec = (res.values.get(v) or {}).get(PROBE_SECTION)
            probes[v] = parse_probe(sec.text) if sec is not None and sec.rc == 0 else None
    return view, key, probes


def start_look(pool: SshPool, inv: Inventory) -> None:
    """Begin the round trip of ``look`` without the lock now, in the background (kcli apply starts
    it before it imports and parses, and its first look takes the result)."""
    start_observe(pool, list(inv.hosts), VIEW_SNIPPETS, per_host=_key_reads(inv))


def start_observe_cluster(pool: SshPool, inv: Inventory) -> None:
    """``observe_cluster``'s round trip, begun now in the background (kcli get)."""
    start_observe(pool, list(inv.hosts), VIEW_SNIPPETS)


def _key_reads(inv: Inventory) -> dict[str, dict[str, str]]:
    """The lock nodes also read the cluster's secret key and the lock's state in the look."""
    return {h.name: {KEY_SECTION: READ_SNIPPET, PROBE_SECTION: probe_script()} for h in lock_hosts(inv)}


def _keep_key(pool: SshPool, inv: Inventory, lock: ClusterLock, key: bytes, nodes: Sequence[str], *, new: bool) -> None:
    """Write the key to the lock nodes that lack it; a new key must reach a majority of them."""
    from kcli.shell.executor import run_batches, unit_errors

    unit = store_unit(key)
    hosts = [h for h in inv.hosts if h.name in nodes]
    done = run_batches(
        pool, hosts, {h.name: [unit] for h in hosts}, fence=lock.fence, lock_nodes=lock.held_on, timeout=60
    )
    failed = {
        h.name: "; ".join(errs.values())
        for h in hosts
        if (errs := unit_errors([unit], done.values.get(h.name), done.errors.get(h.name)))
    }
    if new and len(hosts) - len(failed) < lock.need:  # an existing key missing somewhere is written next time
        raise ExecutionError(
            f"cannot keep the cluster's secret key on the lock nodes ({SECRET_KEY_FILE}); nothing was changed",
            details=[f"{n}: {why}" for n, why in sorted(failed.items())],
        )
