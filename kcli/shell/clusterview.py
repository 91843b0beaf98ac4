"""Observe the cluster: one round trip per node (facts + kcli's pods), nodes in parallel. The view
itself and its pure helpers live in kcli.core.cluster."""

from __future__ import annotations

from collections.abc import Mapping

from kcli.core.cluster import VIEW_SNIPPETS, ClusterView, merged, scheduler_nodes, view_from_sections
from kcli.core.fence import Fence
from kcli.core.inventory import Inventory
from kcli.shell.observe import observe
from kcli.shell.transport import SshPool

__all__ = ["VIEW_SNIPPETS", "ClusterView", "merged", "observe_cluster", "scheduler_nodes", "view_from_sections"]


def observe_cluster(pool: SshPool, inv: Inventory, extra: Mapping[str, Mapping[str, str]] | None = None,
                    *, fence: Fence | None = None, lock_node: str = "") -> tuple[ClusterView, dict]:
    """Returns the view and the raw sections per node (for callers that added ``extra`` snippets).
    With a fence (the lock holder's first look), every node raises its fence epoch as it is read."""
    res = observe(pool, list(inv.hosts), VIEW_SNIPPETS, per_host=extra, fence=fence, lock_node=lock_node)
    values: dict = dict(res.values)
    view = view_from_sections(values)
    view.errors = {n: str(e) for n, e in res.errors.items()}
    return view, values
