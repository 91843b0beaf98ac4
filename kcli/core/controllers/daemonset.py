"""DaemonSet controller: one pod per eligible node, following nodes as they join and leave.

A node is eligible when it matches the pod's nodeSelector / required node affinity and every
NoSchedule/NoExecute taint is tolerated, counting the tolerations upstream adds to every
DaemonSet pod (so cordoned and not-ready nodes still run daemons). Pods are pinned to their node
(``DesiredPod.node_name``); the scheduler only checks that they fit. A changed template replaces
each pod (``updateStrategy: OnDelete`` keeps stale pods until they are deleted by hand).
Nodes missing from ``nodes`` are left alone: kcli cannot reach them to act.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

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
from kcli.core.objects import DaemonSet, Toleration
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


def eligible_nodes(ds: DaemonSet, nodes: Sequence[Node]) -> list[Node]:
    profile = profile_for(ds.template.spec, extra_tolerations=daemon_tolerations(ds.template.spec.host_network))
    return [n for n in nodes if static_reason(profile, n) is None]


def reconcile_daemonset(ds: DaemonSet, observed: Sequence[ObservedPod], nodes: Sequence[Node], ctx: Context) -> ControllerResult:
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
    for n in nodes:
        if n.name not in eligible:
            continue
        here = sorted(by_node.get(n.name, []),
                      key=lambda p: (p.spec_hash != shash, needs_replacement(p, "Always"), -p.ready, p.created_at, p.name))
        keep = None
        stale_reason = ""
        for p in here:
            if needs_replacement(p, "Always"):
                actions.append(delete(p, failure_reason(p), applied))
                stale_reason = stale_reason or failure_reason(p)
            elif keep is None and (p.spec_hash == shash or on_delete):
                keep = p
            elif p.spec_hash != shash:
                actions.append(delete(p, f"spec-hash {p.spec_hash}→{shash}", applied))
                stale_reason = stale_reason or f"spec-hash {p.spec_hash}→{shash}"
            else:
                actions.append(delete(p, f"more than one {ds.name} pod on node {n.name}", applied))
        if keep is not None:
            current += 1
            ready += keep.ready and keep.state == "running"
            up_to_date += keep.spec_hash == shash
            pods.append(DesiredPod(ds.namespace, keep.name, labels if keep.spec_hash == shash else dict(keep.labels),
                                   ds.template, keep.spec_hash, applied, owner, n.name))
            continue
        pod = DesiredPod(ds.namespace, ctx.new_name(ds.namespace, ds.name), labels, ds.template, shash, applied,
                         owner, n.name)
        pods.append(pod)
        actions.append(create(pod, stale_reason or f"node {n.name} has no {ds.name} pod"))
    status = DaemonSetStatus(len(eligible), current, ready, up_to_date, misscheduled)
    return ControllerResult(tuple(pods), tuple(actions), status)
