"""DaemonSet controller: one pod per eligible node, following nodes as they join and leave.

A node is eligible when it matches the pod's nodeSelector / required node affinity and every
NoSchedule/NoExecute taint is tolerated, counting the tolerations upstream adds to every
DaemonSet pod (so cordoned and not-ready nodes still run daemons). Pods are pinned to their node
(``DesiredPod.node_name``); the scheduler only checks that they fit. A changed template rolls out
as upstream's RollingUpdate does: at most ``maxUnavailable`` nodes (rounded up) without an
available daemon pod at a time — a node's old pod is deleted and its new one created in the same
wave — or, with ``maxSurge``, the new pod starts beside the old one, which goes once the new one
is available; already unavailable old pods are replaced at once. ``OnDelete`` keeps stale pods
until they are deleted by hand. Nodes missing from ``nodes`` are left alone: kcli cannot reach
them to act.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kcli.core.controllers.deployment import available
from kcli.core.controllers.pod import (
    Context,
    ControllerResult,
    DesiredPod,
    ObservedPod,
    OwnerRef,
    PodAction,
    create,
    delete,
    failure_reason,
    needs_replacement,
    pod_spec_hash,
)
from kcli.core.objects import DaemonSet, IntOrString, Toleration
from kcli.core.scheduler import Node, profile_for, static_reason

REVISION_HASH_LABEL = "controller-revision-hash"

DAEMON_TOLERATIONS = (
    Toleration("node.kubernetes.io/not-ready", "Exists", "", "NoExecute"),
    Toleration("node.kubernetes.io/unreachable", "Exists", "", "NoExecute"),
    Toleration("node.kubernetes.io/disk-pressure", "Exists", "", "NoSchedule"),
    Toleration("node.kubernetes.io/memory-pressure", "Exists", "", "NoSchedule"),
    Toleration("node.kubernetes.io/pid-pressure", "Exists", "", "NoSchedule"),
    Toleration("node.kubernetes.io/unschedulable", "Exists", "", "NoSchedule"),
)
"""Added by the upstream DaemonSet controller to every daemon pod."""
HOST_NETWORK_TOLERATION = Toleration("node.kubernetes.io/network-unavailable", "Exists", "", "NoSchedule")


def daemon_tolerations(host_network: bool) -> tuple[Toleration, ...]:
    return DAEMON_TOLERATIONS + ((HOST_NETWORK_TOLERATION,) if host_network else ())


@dataclass(frozen=True)
class DaemonSetStatus:
    desired: int  # eligible nodes
    current: int  # eligible nodes with a pod now
    ready: int
    up_to_date: int
    misscheduled: int  # pods on nodes that are not eligible
    available: int = 0
    rollout: str = ""  # kubectl rollout status's "Waiting for ..." line; "" once rolled out
    waiting: bool = False  # time may finish it (new pods starting or restarting)
    progress_deadline: int = 600  # DaemonSets have none upstream: kcli waits this long at most


def _scaled_up(value: IntOrString, total: int) -> int:
    if isinstance(value, int):
        return value
    return math.ceil(int(str(value).rstrip("%")) * total / 100)


def eligible_nodes(ds: DaemonSet, nodes: Sequence[Node]) -> list[Node]:
    profile = profile_for(ds.template.spec, extra_tolerations=daemon_tolerations(ds.template.spec.host_network))
    return [n for n in nodes if static_reason(profile, n) is None]


def reconcile_daemonset(
    ds: DaemonSet, observed: Sequence[ObservedPod], nodes: Sequence[Node], ctx: Context
) -> ControllerResult:
    applied = owner = OwnerRef("DaemonSet", ds.name)
    shash = pod_spec_hash(ds.template, ctx.config_fingerprint(ds.template.spec, ds.namespace))
    labels = {**ds.template.labels, REVISION_HASH_LABEL: shash}
    on_delete = ds.update_strategy.type == "OnDelete"
    eligible = {n.name for n in eligible_nodes(ds, nodes)}
    known = {n.name for n in nodes}
    by_node: dict[str, list[ObservedPod]] = {}
    for p in observed:
        by_node.setdefault(p.node, []).append(p)
    pods: list[DesiredPod] = []
    actions: list[PodAction] = []
    ready = up_to_date = misscheduled = current = 0
    for node in sorted(by_node):
        here = by_node[node]
        if node not in known:
            continue
        if node not in eligible:
            misscheduled += len(here)
            actions.extend(delete(p, f"node {node} is not eligible for {ds.name}", applied) for p in here)
    order = [n for n in nodes if n.name in eligible]
    rolling = not on_delete
    surge = _scaled_up(ds.update_strategy.max_surge, len(eligible)) if rolling else 0
    max_unavailable = _scaled_up(ds.update_strategy.max_unavailable, len(eligible)) if rolling else 0

    def ok(p: ObservedPod) -> bool:
        return available(p, ds.min_ready_seconds, ctx.now)

    # nodes without an available pod of either revision count against maxUnavailable already
    unavailable = sum(
        1 for n in order if not any(ok(p) for p in by_node.get(n.name, []) if not needs_replacement(p, "Always"))
    )
    budget = max(0, max_unavailable - unavailable)
    surged = sum(1 for n in order if {p.spec_hash == shash for p in by_node.get(n.name, [])} == {True, False})
    for n in order:
        here = sorted(
            by_node.get(n.name, []),
            key=lambda p: (p.spec_hash != shash, needs_replacement(p, "Always"), -p.ready, p.created_at, p.name),
        )
        new = [p for p in here if p.spec_hash == shash and not needs_replacement(p, "Always")]
        old = [p for p in here if p.spec_hash != shash and not needs_replacement(p, "Always")]
        keep: list[ObservedPod] = new[:1]
        stale_reason = ""
        for p in here:
            if needs_replacement(p, "Always"):
                actions.append(delete(p, failure_reason(p), applied))
                stale_reason = stale_reason or failure_reason(p)
        for p in new[1:]:
            actions.append(delete(p, f"more than one {ds.name} pod on node {n.name}", applied))
        change = f"spec-hash {old[0].spec_hash}→{shash}" if old else ""
        create_new = not new
        if old and (on_delete or (not new and rolling and ok(old[0]))):
            # the old pod serves until the rollout reaches this node
            if on_delete:
                keep, create_new = [old[0]], False
            elif surge and surged < surge:
                surged += 1
                keep = [old[0]]  # surge: the new pod starts beside it
            elif budget > 0:
                budget -= 1
                keep = []
            else:
                keep, create_new = [old[0]], False
            for p in old[1:]:
                actions.append(delete(p, f"more than one {ds.name} pod on node {n.name}", applied))
            if not keep:
                actions.append(delete(old[0], f"{change}: RollingUpdate of {ds.name}", applied))
                stale_reason = stale_reason or change
        elif old and not on_delete:
            if new and not ok(new[0]):  # surged: the old pod goes once the new one is available
                keep = [new[0], old[0]]
                old = old[1:]
            for p in old:
                actions.append(delete(p, f"{change}: RollingUpdate of {ds.name}", applied))
                stale_reason = stale_reason or change
        elif old and on_delete:
            keep, create_new = ([] if new else [old[0]]), False
        for k in keep:
            current += k is keep[0]
            pods.append(
                DesiredPod(
                    ds.namespace,
                    k.name,
                    labels if k.spec_hash == shash else dict(k.labels),
                    ds.template,
                    k.spec_hash,
                    applied,
                    owner,
                    n.name,
                )
            )
        if keep:
            ready += keep[0].ready and keep[0].state == "running"
            up_to_date += keep[0].spec_hash == shash
        if create_new:
            pod = DesiredPod(
                ds.namespace, ctx.new_name(ds.namespace, ds.name), labels, ds.template, shash, applied, owner, n.name
            )
            pods.append(pod)
            actions.append(create(pod, stale_reason or f"node {n.name} has no {ds.name} pod"))
    status = _status(ds, order, by_node, shash, current, ready, up_to_date, misscheduled, ctx.now, on_delete)
    return ControllerResult(tuple(pods), tuple(actions), status)


def _status(
    ds: DaemonSet,
    order: Sequence[Node],
    by_node: dict[str, list[ObservedPod]],
    shash: str,
    current: int,
    ready: int,
    up_to_date: int,
    misscheduled: int,
    now: float,
    on_delete: bool,
) -> DaemonSetStatus:
    """Counts, and kubectl rollout status's line for a daemon set."""
    new = [p for n in order for p in by_node.get(n.name, []) if p.spec_hash == shash]
    old = [p for n in order for p in by_node.get(n.name, []) if p.spec_hash != shash]
    avail = sum(1 for p in new if available(p, ds.min_ready_seconds, now))
    total = len(order)
    name = f'daemon set "{ds.name}"'
    line, waiting = "", False
    if on_delete:
        pass
    elif len(new) < total or old:
        line = f"Waiting for {name} rollout to finish: {len(new)} out of {total} new pods have been updated..."
    elif avail < total:
        line = f"Waiting for {name} rollout to finish: {avail} of {total} updated pods are available..."
    if line:
        waiting = any(
            p.state in ("created", "running", "restarting") and not available(p, ds.min_ready_seconds, now) for p in new
        )
    return DaemonSetStatus(total, current, ready, up_to_date, misscheduled, avail, line, waiting)
