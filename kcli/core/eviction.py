"""Node loss as Kubernetes handles it, without a node controller: taint-based eviction.

An unreachable node carries ``node.kubernetes.io/unreachable:NoExecute``. A pod of a Deployment
or ReplicaSet on it is evicted once it has been unreachable for longer than the pod tolerates:
its own toleration's ``tolerationSeconds``, or the 300 s that Kubernetes' DefaultTolerationSeconds
admission gives every pod; a toleration without seconds tolerates forever. DaemonSet pods
tolerate it (they stay), as do bare Pods and Job pods here (nothing would recreate them on
another node under the same name). kcli has no heartbeat: "unreachable since" is the last time a
kcli run saw the node answer (``seen``). An evicted pod is replaced elsewhere by its controller;
its record says ``evicted`` until the node answers again, and then it is deleted before anything
else happens there, so two copies never serve.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kcli.core.commands.shell import Step
from kcli.core.objects import AnyObject, Deployment, ReplicaSet, Toleration

UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
DEFAULT_TOLERATION_SECONDS = 300  # DefaultTolerationSeconds admission (not-ready and unreachable)
EVICTABLE = (Deployment, ReplicaSet)


def toleration_seconds(tolerations: Iterable[Toleration], key: str = UNREACHABLE_TAINT) -> float | None:
    """How long a pod tolerates the NoExecute taint ``key``: its matching toleration's seconds (the
    shortest of several), None for forever, the admission default when none matches."""
    found: list[float | None] = []
    for t in tolerations:
        if t.effect not in ("", "NoExecute"):
            continue
        if (t.key == key and t.operator in ("Exists", "Equal", "")) or (not t.key and t.operator == "Exists"):
            found.append(None if t.toleration_seconds is None else max(0, t.toleration_seconds))
    if not found:
        return DEFAULT_TOLERATION_SECONDS
    bounded = [s for s in found if s is not None]
    return min(bounded) if bounded else None


def evictions(
    pods: Iterable[Any],
    unreachable: Iterable[str],
    objects: Iterable[AnyObject],
    records: Mapping[str, Any],
    seen: Mapping[str, float],
    now: float,
) -> dict[tuple[str, str], str]:
    """(namespace, pod) → reason, for the PodViews ``pods``: pods recorded as evicted (wherever
    they are now), and Deployment/ReplicaSet pods on an ``unreachable`` node whose toleration ran
    out since the node was last ``seen`` (the shell counts a never-seen lost node from its first
    notice; a node missing from ``seen`` evicts nothing)."""
    lost = set(unreachable)
    templates = {(o.namespace, f"{o.kind}/{o.name}"): o.template for o in objects if isinstance(o, EVICTABLE)}
    out: dict[tuple[str, str], str] = {}
    for p in pods:
        rec = records.get(f"{p.namespace}/{p.name}") or {}
        if rec.get("evicted"):
            out[(p.namespace, p.name)] = str(rec["evicted"])
            continue
        if p.node not in lost or p.node not in seen:
            continue
        template = templates.get((p.namespace, p.applied))
        if template is None:
            continue
        limit = toleration_seconds(template.spec.tolerations)
        gone_for = now - seen[p.node]
        if limit is not None and gone_for >= limit:
            out[(p.namespace, p.name)] = (
                f"node {p.node} unreachable for {int(gone_for)}s (tolerationSeconds {int(limit)})"
            )
    return out


def stale_pods_step(host: str, records: Mapping[str, Any]) -> Step | None:
    """The first thing done on a node that answers again (kcli bootstrap, reconcile's node repair):
    stop and remove the pods evicted from it while it was lost, before its overlay and rules are
    repaired, so their replacements elsewhere are never served beside them. None when it has none."""
    from kcli.core.podrun import PodContainers, delete_pods_lines

    uids = sorted(
        (key, str(rec["uid"]))
        for key, rec in records.items()
        if isinstance(rec, Mapping) and rec.get("evicted") and rec.get("node") == host and rec.get("uid")
    )
    if not uids:
        return None
    names = ", ".join(key for key, _ in uids)
    return Step(
        host,
        "stale-pods",
        f"remove {len(uids)} pod(s) evicted while the node was lost: {names}",
        tuple(delete_pods_lines([PodContainers(uid, ()) for _, uid in uids], grace=0)),
    )
