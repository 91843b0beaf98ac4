"""Deployment controller: Deployment → ReplicaSet ``<name>-<pod-template-hash>`` → pods.

The pod-template-hash covers the defaulted template and the content hashes of the ConfigMaps and
Secrets it reads, so a changed template *or* config gives a new ReplicaSet. A template change rolls
out as upstream does (docs/k8s-reference.md §5.2–5.3): RollingUpdate moves one ``rolling_step`` per plan —
the new ReplicaSet grows within ``maxSurge``, the old ones shrink as far as ``maxUnavailable``
allows, counting only *available* pods (ready for ``minReadySeconds``) — and the shell's converge
loop repeats plans until the rollout is complete; Recreate deletes every old pod before the new
ReplicaSet gets any. A ReplicaSet is identified by kcli's owner label on its pods (no ReplicaSet
objects are stored). A paused Deployment gets no pod changes at all (upstream still scales a
paused Deployment).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from kcli.core.controllers.pod import (
    Context,
    ControllerResult,
    DesiredPod,
    ObservedPod,
    OwnerRef,
    PodAction,
    delete,
    dominant_hash,
    pick_victims,
    pod_spec_hash,
)
from kcli.core.controllers.replicaset import ReplicaSetStatus, reconcile_replicas
from kcli.core.objects import Deployment, IntOrString, LabelSelector, pod_template_hash

POD_TEMPLATE_HASH_LABEL = "pod-template-hash"


@dataclass(frozen=True)
class DeploymentStatus:
    replicas: int  # desired
    current: int  # pods observed now, any ReplicaSet
    updated: int  # observed pods of the current ReplicaSet
    ready: int
    available: int  # ready for at least minReadySeconds
    new_replica_set: str
    replica_sets: tuple[ReplicaSetStatus, ...]
    rollout: str = ""  # kubectl rollout status's "Waiting for ..." line; "" once rolled out
    waiting: bool = False  # time may finish it (pods starting or restarting, minReadySeconds), not actions
    progress_deadline: int = 600  # spec.progressDeadlineSeconds


def available(p: ObservedPod, min_ready_seconds: int, now: float) -> bool:
    """Ready and running for at least ``minReadySeconds`` (container creation stands in for the
    moment it became ready; an unknown clock counts as long enough)."""
    if not (p.ready and p.state == "running"):
        return False
    return min_ready_seconds <= 0 or not now or not p.created_at or now - p.created_at >= min_ready_seconds


def reconcile_deployment(d: Deployment, observed: Sequence[ObservedPod], ctx: Context) -> ControllerResult:
    applied = OwnerRef("Deployment", d.name)
    fingerprint = ctx.config_fingerprint(d.template.spec, d.namespace)
    pth = pod_template_hash(d.template, fingerprint)
    rs_name = f"{d.name}-{pth}"
    owner = OwnerRef("ReplicaSet", rs_name)
    shash = pod_spec_hash(d.template, fingerprint)
    labels = {**d.template.labels, POD_TEMPLATE_HASH_LABEL: pth}
    new = [p for p in observed if p.owner == owner and p.spec_hash == shash]
    old = [p for p in observed if not (p.owner == owner and p.spec_hash == shash)]
    actions: list[PodAction] = []
    if d.paused:
        pods = [DesiredPod(d.namespace, p.name, labels, d.template, shash, applied, owner) for p in new]
    elif not old:
        pods, actions = reconcile_replicas(
            namespace=d.namespace,
            owner=owner,
            applied=applied,
            display=d.name,
            template=d.template,
            labels=labels,
            spec_hash=shash,
            replicas=d.replicas,
            observed=new,
            ctx=ctx,
        )
    else:
        pods, actions = _roll(d, new, old, ctx, owner=owner, applied=applied, labels=labels, shash=shash)
    return ControllerResult(tuple(pods), tuple(actions), _status(d, observed, owner, pth, shash, ctx.now))


def _old_sets(old: Sequence[ObservedPod]) -> list[list[ObservedPod]]:
    """Old pods by ReplicaSet (owner and spec hash), oldest ReplicaSet first."""
    by: dict[tuple[str, str], list[ObservedPod]] = {}
    for p in old:
        by.setdefault((str(p.owner), p.spec_hash), []).append(p)
    return sorted(by.values(), key=lambda ps: (min(p.created_at for p in ps), str(ps[0].owner)))


def _roll(
    d: Deployment,
    new: Sequence[ObservedPod],
    old: Sequence[ObservedPod],
    ctx: Context,
    *,
    owner: OwnerRef,
    applied: OwnerRef,
    labels: dict[str, str],
    shash: str,
) -> tuple[list[DesiredPod], list[PodAction]]:
    """One step of a rollout while old pods remain: Recreate, or one upstream ``rolling_step``."""
    sets = _old_sets(old)
    if d.strategy.type == "Recreate":  # every old pod goes first; the new ReplicaSet waits for that
        targets: tuple[int, ...] = tuple(0 for _ in sets)
        new_target = len(new)
    else:

        def state(ps: Sequence[ObservedPod]) -> RSState:
            return RSState(len(ps), sum(available(p, d.min_ready_seconds, ctx.now) for p in ps))

        new_target, targets = rolling_step(
            d.replicas, d.strategy.max_surge, d.strategy.max_unavailable, state(new), [state(ps) for ps in sets]
        )
    pods, actions = reconcile_replicas(
        namespace=d.namespace,
        owner=owner,
        applied=applied,
        display=d.name,
        template=d.template,
        labels=labels,
        spec_hash=shash,
        replicas=new_target,
        observed=new,
        ctx=ctx,
    )
    change = f"spec-hash {dominant_hash(old)}→{shash}"
    actions = [dataclasses.replace(a, reason=f"{change}; {a.reason}") if a.verb == "create" else a for a in actions]
    for ps, target in zip(sets, targets, strict=False):
        rs = ps[0].owner.name if ps[0].owner else "?"
        victims = pick_victims(ps, len(ps) - target)
        gone = {p.name for p in victims}
        actions += [
            delete(p, f"{change}: {d.strategy.type} of {d.name}, {rs} {len(ps)}→{target}", applied) for p in victims
        ]
        pods += [
            DesiredPod(d.namespace, p.name, dict(p.labels), d.template, p.spec_hash, applied, p.owner)
            for p in ps
            if p.name not in gone
        ]
    return pods, actions


def _status(
    d: Deployment, observed: Sequence[ObservedPod], owner: OwnerRef, pth: str, shash: str, now: float = 0.0
) -> DeploymentStatus:
    def ready(pods: Sequence[ObservedPod]) -> int:
        return sum(1 for p in pods if p.ready and p.state == "running")

    new = [p for p in observed if p.owner == owner and p.spec_hash == shash]
    selector = LabelSelector({**d.selector.match_labels, POD_TEMPLATE_HASH_LABEL: pth}, d.selector.match_expressions)
    sets = [
        ReplicaSetStatus(
            d.namespace,
            owner.name,
            d.name,
            pth,
            0 if d.paused and not new else d.replicas,
            len(new),
            ready(new),
            d.template,
            selector,
        )
    ]
    by_owner: dict[OwnerRef, list[ObservedPod]] = {}
    for p in observed:
        if p.owner is not None and p.owner != owner:
            by_owner.setdefault(p.owner, []).append(p)
    for rs, pods in sorted(by_owner.items()):
        old_hash = pods[0].labels.get(POD_TEMPLATE_HASH_LABEL, rs.name.rsplit("-", 1)[-1])
        sets.append(
            ReplicaSetStatus(
                d.namespace,
                rs.name,
                d.name,
                old_hash,
                0,
                len(pods),
                ready(pods),
                d.template,
                LabelSelector({**d.selector.match_labels, POD_TEMPLATE_HASH_LABEL: old_hash}),
            )
        )
    avail = sum(available(p, d.min_ready_seconds, now) for p in observed)
    new_avail = sum(available(p, d.min_ready_seconds, now) for p in new)
    rollout, waiting = _rollout_line(d, len(new), new_avail, len(observed) - len(new), new, now)
    return DeploymentStatus(
        d.replicas,
        len(observed),
        len(new),
        ready(observed),
        avail,
        owner.name,
        tuple(sets),
        rollout,
        waiting,
        d.progress_deadline_seconds,
    )


def _rollout_line(
    d: Deployment, updated: int, new_available: int, old: int, new: Sequence[ObservedPod], now: float
) -> tuple[str, bool]:
    """kubectl rollout status's wording (docs/k8s-reference.md §4.5), and whether time may finish the rollout
    (a new pod starting, restarting or waiting out minReadySeconds)."""
    if d.paused:
        return "", False
    name = f'deployment "{d.name}"'
    starting = any(
        p.state in ("created", "running", "restarting") and not available(p, d.min_ready_seconds, now) for p in new
    )
    if updated < d.replicas:
        return (
            f"Waiting for {name} rollout to finish: {updated} out of {d.replicas} new replicas have been updated...",
            starting,
        )
    if old > 0:
        return f"Waiting for {name} rollout to finish: {old} old replicas are pending termination...", starting
    if new_available < updated:
        return (
            f"Waiting for {name} rollout to finish: {new_available} of {updated} updated replicas are available...",
            starting,
        )
    return "", False


# --------------------------------------------------------------------------- rolling update math


def _scaled(value: IntOrString, total: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    pct = int(str(value).rstrip("%"))
    exact = pct * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def resolve_fenceposts(max_surge: IntOrString, max_unavailable: IntOrString, replicas: int) -> tuple[int, int]:
    """Upstream ``ResolveFenceposts``: surge rounds up, unavailable rounds down; both 0 → unavailable 1."""
    surge = _scaled(max_surge, replicas, round_up=True)
    unavailable = _scaled(max_unavailable, replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


@dataclass(frozen=True)
class RSState:
    replicas: int  # spec.replicas
    available: int  # status.availableReplicas


def rolling_step(
    replicas: int,
    max_surge: IntOrString,
    max_unavailable: IntOrString,
    new: RSState,
    old: Sequence[RSState],
) -> tuple[int, tuple[int, ...]]:
    """One RollingUpdate reconcile (docs/k8s-reference.md §5.3): (new RS replicas, old RS replicas, oldest first).

    As upstream, a step that scales the new ReplicaSet up does nothing else; otherwise old
    ReplicaSets lose first their unavailable pods, then as many as availability allows.
    """
    surge, unavailable = resolve_fenceposts(max_surge, max_unavailable, replicas)
    targets = [o.replicas for o in old]
    total = new.replicas + sum(targets)
    if new.replicas != replicas and total < replicas + surge:
        return new.replicas + min(replicas + surge - total, replicas - new.replicas), tuple(targets)
    if new.replicas > replicas:
        return replicas, tuple(targets)
    min_available = replicas - unavailable
    max_scaled_down = total - min_available - (new.replicas - new.available)
    if max_scaled_down <= 0:
        return new.replicas, tuple(targets)
    cleaned = 0
    for i, o in enumerate(old):
        if cleaned >= max_scaled_down:
            break
        unhealthy = o.replicas - o.available
        if o.replicas == 0 or unhealthy <= 0:
            continue
        n = min(max_scaled_down - cleaned, unhealthy)
        targets[i] -= n
        cleaned += n
    to_scale_down = new.available + sum(o.available for o in old) - min_available
    for i in range(len(targets)):
        if to_scale_down <= 0:
            break
        n = min(targets[i], to_scale_down)
        targets[i] -= n
        to_scale_down -= n
    return new.replicas, tuple(targets)
