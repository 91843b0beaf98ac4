"""Observe the cluster: one round trip per node (facts + kcli's pods), nodes in parallel. The view
itself and its pure helpers live in kcli.core.cluster."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kcli.core.facts.view_script import VIEW_SNIPPETS
from kcli.core.fence import Fence
from kcli.core.inventory import Inventory
from kcli.core.lock import lock_host
from kcli.core.secretkey import SECRET_KEY_FILE, SECTION as KEY_SECTION, SNIPPET as KEY_SNIPPET, parse_key
from kcli.errors import ExecutionError
from kcli.shell.observe import observe
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


def observe_cluster(pool: SshPool, inv: Inventory, extra: Mapping[str, Mapping[str, str]] | None = None,
                    *, fence: Fence | None = None, lock_node: str = "") -> tuple[ClusterView, dict]:
    """Returns the view and the raw sections per node (for callers that added ``extra`` snippets).
    With a fence (the lock holder's first look), every node raises its fence epoch as it is read."""
    from kcli.core.cluster import view_from_sections

    res = observe(pool, list(inv.hosts), VIEW_SNIPPETS, per_host=extra, fence=fence, lock_node=lock_node)
    values: dict = dict(res.values)
    view = view_from_sections(values)
    view.errors = {n: str(e) for n, e in res.errors.items()}
    return view, values


def look(pool: SshPool, inv: Inventory, state: Mapping[str, Any], lock: ClusterLock | None = None
         ) -> tuple[ClusterView, bytes]:
    """What an apply plans from: one round trip per node (the lock holder's raises each node's
    fence); the cluster's secret key rides on the lock node's. Pods of unreachable nodes are added
    as Unknown. The lock node must answer."""
    from kcli.core.cluster import add_unknown_pods, view_from_sections

    lock_node = lock_host(inv).name
    res = observe(pool, list(inv.hosts), VIEW_SNIPPETS, per_host={lock_node: {KEY_SECTION: KEY_SNIPPET}},
                  fence=lock.fence if lock else None, lock_node=lock_node)
    view = view_from_sections(dict(res.values))
    view.errors = {n: str(e) for n, e in res.errors.items()}
    if lock_node in view.errors:
        raise ExecutionError(f"cannot read the lock node {lock_node}; nothing was changed",
                             details=[f"{lock_node}: {view.errors[lock_node]}"])
    secret_key = parse_key((res.values.get(lock_node) or {}).get(KEY_SECTION))
    if not secret_key:
        raise ExecutionError(f"cannot read the cluster's secret key on {lock_node} ({SECRET_KEY_FILE})")
    add_unknown_pods(view, state.get("pods") or {})
    return view, secret_key
