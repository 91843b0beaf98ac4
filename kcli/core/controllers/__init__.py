"""Pure controllers: desired objects × observed pods × nodes → desired pods and pod actions.

``reconcile`` runs every controller over the applied objects; ``plan_pods`` adds the scheduler:
pods to create get a node or stay Pending with kubectl's reason. Execution order for the
shell: every delete first, then the creates (replacements reuse resources and, for bare Pods,
names). ``seed`` (or ``name_suffix``) makes generated pod names deterministic; pass the same
value on every apply to keep names stable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kcli.core.controllers.daemonset import daemon_tolerations, reconcile_daemonset
from kcli.core.controllers.deployment import reconcile_deployment
from kcli.core.controllers.job import reconcile_job
from kcli.core.controllers.pod import (
    Context,
    ControllerResult,
    DesiredPod,
    NameSuffix,
    ObservedPod,
    OwnerRef,
    PodAction,
    hashed_suffix,
    reconcile_pod,
)
from kcli.core.controllers.replicaset import reconcile_replicaset
from kcli.core.controllers.statefulset import reconcile_statefulset
from kcli.core.objects import (
    AnyObject,
    ConfigMap,
    DaemonSet,
    Deployment,
    Job,
    ObjectKey,
    Pod,
    ReplicaSet,
    Secret,
    StatefulSet,
)
from kcli.core.scheduler import Node, SchedPod, SchedProfile, profile_for, schedule
from kcli.core.volumes import pod_claims

WORKLOAD_KINDS = ("Pod", "Deployment", "ReplicaSet", "DaemonSet", "Job", "StatefulSet")


@dataclass(frozen=True)
class Reconciliation:
    pods: tuple[DesiredPod, ...]  # every pod that should exist once the actions ran
    actions: tuple[PodAction, ...]  # deletes and creates, each with its reason
    statuses: Mapping[ObjectKey, Any]  # workload key → PodStatus/DeploymentStatus/ReplicaSetStatus/...
    orphans: tuple[ObservedPod, ...]  # observed pods whose applied object is not in the set (prune decides)


def config_hashes(
    objects: Sequence[AnyObject], known: Mapping[ObjectKey, str] | None = None, secret_key: bytes = b""
) -> dict[ObjectKey, str]:
    """Content hash of every ConfigMap/Secret: the cluster's (``known``) overridden by the applied
    set. Secrets are hashed with ``secret_key`` (HMAC): a Secret without a key is an error."""
    out = dict(known or {})
    for o in objects:
        if isinstance(o, ConfigMap):
            out[o.key] = o.content_hash()
        elif isinstance(o, Secret):
            out[o.key] = o.content_hash(secret_key)
    return out


def reconcile(
    objects: Sequence[AnyObject],
    observed: Sequence[ObservedPod],
    nodes: Sequence[Node],
    *,
    known_configs: Mapping[ObjectKey, str] | None = None,
    seed: str = "",
    name_suffix: NameSuffix | None = None,
    secret_key: bytes = b"",
    now: float = 0.0,
    draining: frozenset[str] = frozenset(),
) -> Reconciliation:
    """Run the controller of every workload in ``objects`` (in order) against ``observed``
    (``now``: the nodes' clock, for minReadySeconds; ``draining``: nodes `kcli drain` empties)."""
    ctx = Context(
        config_hashes(objects, known_configs, secret_key),
        name_suffix or hashed_suffix(seed),
        {p.key for p in observed},
        now=now,
        draining=draining,
    )
    ctx.taken.update((o.namespace, o.name) for o in objects if isinstance(o, Pod))
    by_applied: dict[tuple[str, OwnerRef], list[ObservedPod]] = {}
    for p in observed:
        if p.applied is not None:
            by_applied.setdefault((p.namespace, p.applied), []).append(p)
    claimed: set[tuple[str, OwnerRef]] = set()
    pods: list[DesiredPod] = []
    actions: list[PodAction] = []
    statuses: dict[ObjectKey, Any] = {}
    for o in objects:
        if o.kind not in WORKLOAD_KINDS:
            continue
        key = (o.namespace, OwnerRef(o.kind, o.name))
        claimed.add(key)
        mine = by_applied.get(key, [])
        result: ControllerResult
        if isinstance(o, Deployment):
            result = reconcile_deployment(o, mine, ctx)
        elif isinstance(o, ReplicaSet):
            result = reconcile_replicaset(o, mine, ctx)
        elif isinstance(o, DaemonSet):
            result = reconcile_daemonset(o, mine, nodes, ctx)
        elif isinstance(o, Job):
            result = reconcile_job(o, mine, ctx)
        elif isinstance(o, StatefulSet):
            result = reconcile_statefulset(o, mine, ctx)
        else:
            assert isinstance(o, Pod)
            result = reconcile_pod(o, mine, ctx)
        pods.extend(result.pods)
        actions.extend(result.actions)
        statuses[o.key] = result.status
    orphans = tuple(p for p in observed if p.applied is None or (p.namespace, p.applied) not in claimed)
    return Reconciliation(tuple(pods), tuple(actions), statuses, orphans)


# --------------------------------------------------------------------------- with the scheduler


@dataclass(frozen=True)
class PodPlan:
    reconciliation: Reconciliation
    deletes: tuple[PodAction, ...]
    creates: tuple[tuple[PodAction, str], ...]  # (create, node)
    pending: tuple[tuple[PodAction, str], ...]  # (create, "0/3 nodes are available: ...")
    placements: Mapping[tuple[str, str], str]  # (namespace, pod) → node, for every desired pod with one


def _spread_key(namespace: str, owner: OwnerRef | None) -> str:
    return f"{namespace}/{owner}" if owner is not None else ""


def plan_pods(
    objects: Sequence[AnyObject],
    observed: Sequence[ObservedPod],
    nodes: Sequence[Node],
    *,
    known_configs: Mapping[ObjectKey, str] | None = None,
    seed: str = "",
    name_suffix: NameSuffix | None = None,
    secret_key: bytes = b"",
    now: float = 0.0,
    draining: frozenset[str] = frozenset(),
    claim_nodes: Mapping[tuple[str, str], str] | None = None,
) -> PodPlan:
    """``reconcile``, then schedule the pods to create around the pods that stay.

    Pods being deleted free their resources; exited pods hold none (as upstream); orphans keep
    consuming what their ObservedPod says (cpu_milli, memory, host_ports). A pod using a claim
    bound to a node (``claim_nodes``: (namespace, claim) → node) goes to that node only; two new
    pods of one unbound claim go where the first one goes (the other waits)."""
    rec = reconcile(
        objects,
        observed,
        nodes,
        known_configs=known_configs,
        seed=seed,
        name_suffix=name_suffix,
        secret_key=secret_key,
        now=now,
        draining=draining,
    )
    profiles: dict[tuple[int, str, bool], SchedProfile] = {}
    bound = dict(claim_nodes or {})

    def pin(pod: DesiredPod) -> str:
        nodes = sorted({bound[(pod.namespace, c)] for c in pod_claims(pod.spec) if (pod.namespace, c) in bound})
        return pod.node_name or (nodes[0] if nodes else "")

    def profile(pod: DesiredPod) -> SchedProfile:
        ds = pod.owner is not None and pod.owner.kind == "DaemonSet"
        node = pin(pod)
        k = (id(pod.template), node, ds)
        if k not in profiles:
            extra = daemon_tolerations(pod.spec.host_network) if ds else ()
            profiles[k] = profile_for(pod.spec, node, extra)
        return profiles[k]

    desired = {p.key: p for p in rec.pods}
    deletes = tuple(a for a in rec.actions if a.verb == "delete")
    deleted = {a.observed.key for a in deletes if a.observed is not None}
    existing = []
    for p in observed:
        if p.key in deleted or p.state == "exited":
            continue
        d = desired.get(p.key)
        prof = (
            profile(d)
            if d is not None
            else SchedProfile(cpu_milli=p.cpu_milli, memory=p.memory, host_ports=p.host_ports)
        )
        existing.append((SchedPod(p.namespace, p.name, prof, _spread_key(p.namespace, p.owner)), p.node))
    create_actions = [a for a in rec.actions if a.verb == "create" and a.pod is not None]
    to_place = [
        SchedPod(a.namespace, a.name, profile(pod), _spread_key(a.namespace, pod.owner))
        for a in create_actions
        if (pod := a.pod) is not None  # (all of them: create_actions hold a pod)
    ]
    result = schedule(to_place, nodes, existing)
    placed: list[tuple[PodAction, str]] = []
    waiting = [
        (a, result.unschedulable[(a.namespace, a.name)])
        for a in create_actions
        if (a.namespace, a.name) in result.unschedulable
    ]
    for a in create_actions:
        node = result.placements.get((a.namespace, a.name))
        if node is None:
            continue
        claims = pod_claims(a.pod.spec) if a.pod is not None else ()
        clash = next((c for c in claims if bound.get((a.namespace, c), node) != node), None)
        if clash is not None:
            waiting.append(
                (
                    a,
                    f'0/{len(nodes)} nodes are available: persistentvolumeclaim "{clash}" is bound to '
                    f"node {bound[(a.namespace, clash)]}",
                )
            )
            continue
        bound.update({(a.namespace, c): node for c in claims})
        placed.append((a, node))
    creates, pending = tuple(placed), tuple(waiting)
    placements = {p.key: p.node for p in observed if p.key not in deleted}
    placements.update({(a.namespace, a.name): n for a, n in creates})
    placements = {k: v for k, v in placements.items() if k in desired}
    return PodPlan(rec, deletes, creates, pending, placements)


__all__ = [
    "Context",
    "ControllerResult",
    "DesiredPod",
    "NameSuffix",
    "ObservedPod",
    "OwnerRef",
    "PodAction",
    "PodPlan",
    "Reconciliation",
    "config_hashes",
    "hashed_suffix",
    "plan_pods",
    "reconcile",
]
