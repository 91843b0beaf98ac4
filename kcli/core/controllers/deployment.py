"""Deployment controller: Deployment → ReplicaSet ``<name>-<pod-template-hash>`` → pods.

The pod-template-hash covers the defaulted template and the content hashes of the ConfigMaps and
Secrets it reads, so a changed template *or* config gives a new ReplicaSet. For now the rollout is
a plain replace: every pod of an older ReplicaSet is deleted and the new ReplicaSet is scaled to
``replicas`` in the same plan (the executor deletes before it creates). ``rolling_step`` has the
upstream RollingUpdate arithmetic (reference §5.2–5.3) for the later, gradual rollout.
A paused Deployment gets no pod changes at all (upstream still scales a paused Deployment).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from kcli.core.controllers.pod import Context, ControllerResult, DesiredPod, ObservedPod, OwnerRef, pod_spec_hash
from kcli.core.controllers.replicaset import ReplicaSetStatus, reconcile_replicas
from kcli.core.objects import Deployment, IntOrString, LabelSelector, pod_template_hash

POD_TEMPLATE_HASH_LABEL = "pod-template-hash"


@dataclass(frozen=True)
class DeploymentStatus:
    replicas: int  # desired
    current: int  # pods observed now, any ReplicaSet
    updated: int  # observed pods of the current ReplicaSet
    ready: int
    available: int  # = ready (minReadySeconds needs a clock; not applied)
    new_replica_set: str
    replica_sets: tuple[ReplicaSetStatus, ...]


def reconcile_deployment(d: Deployment, observed: Sequence[ObservedPod], ctx: Context) -> ControllerResult:
    applied = OwnerRef("Deployment", d.name)
    fingerprint = ctx.config_fingerprint(d.template.spec, d.namespace)
    pth = pod_template_hash(d.template, fingerprint)
    rs_name = f"{d.name}-{pth}"
    owner = OwnerRef("ReplicaSet", rs_name)
    shash = pod_spec_hash(d.template, fingerprint)
    labels = {**d.template.labels, POD_TEMPLATE_HASH_LABEL: pth}
    if d.paused:
        keep = [p for p in observed if p.owner == owner and p.spec_hash == shash]
        pods = [DesiredPod(d.namespace, p.name, labels, d.template, shash, applied, owner) for p in keep]
        actions: list = []
    else:
        pods, actions = reconcile_replicas(
            namespace=d.namespace, owner=owner, applied=applied, display=d.name, template=d.template,
            labels=labels, spec_hash=shash, replicas=d.replicas, observed=observed, ctx=ctx)
    return ControllerResult(tuple(pods), tuple(actions), _status(d, observed, owner, pth, shash))


def _status(d: Deployment, observed: Sequence[ObservedPod], owner: OwnerRef, pth: str, shash: str) -> DeploymentStatus:
    def ready(pods: Sequence[ObservedPod]) -> int:
        return sum(1 for p in pods if p.ready and p.state == "running")

    new = [p for p in observed if p.owner == owner and p.spec_hash == shash]
    selector = LabelSelector({**d.selector.match_labels, POD_TEMPLATE_HASH_LABEL: pth}, d.selector.match_expressions)
    sets = [ReplicaSetStatus(d.namespace, owner.name, d.name, pth, 0 if d.paused and not new else d.replicas,
                             len(new), ready(new), d.template, selector)]
    by_owner: dict[OwnerRef, list[ObservedPod]] = {}
    for p in observed:
        if p.owner is not None and p.owner != owner:
            by_owner.setdefault(p.owner, []).append(p)
    for rs, pods in sorted(by_owner.items()):
        old_hash = pods[0].labels.get(POD_TEMPLATE_HASH_LABEL, rs.name.rsplit("-", 1)[-1])
        sets.append(ReplicaSetStatus(d.namespace, rs.name, d.name, old_hash, 0, len(pods), ready(pods), d.template,
                                     LabelSelector({**d.selector.match_labels, POD_TEMPLATE_HASH_LABEL: old_hash})))
    r = ready(observed)
    return DeploymentStatus(d.replicas, len(observed), len(new), r, r, owner.name, tuple(sets))


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
    """One RollingUpdate reconcile (reference §5.3): (new RS replicas, old RS replicas, oldest first).

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
