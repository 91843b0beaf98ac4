"""ReplicaSet controller: keep N pods of one template, replacing stale or broken ones.

Used directly for a standalone ReplicaSet and by the Deployment controller for its current
ReplicaSet. Pods belong to a ReplicaSet by kcli's owner label, not by selector (no adoption).
As upstream, a standalone ReplicaSet whose template changed keeps its running pods: only the
pods it creates from then on (scaling up, replacing a broken one) use the new template.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kcli.core.controllers.pod import (
    Context,
    ControllerResult,
    DesiredPod,
    ObservedPod,
    OwnerRef,
    PodAction,
    create,
    delete,
    dominant_hash,
    failure_reason,
    needs_replacement,
    pick_victims,
    pod_spec_hash,
)
from kcli.core.objects import LabelSelector, PodTemplate, ReplicaSet


@dataclass(frozen=True)
class ReplicaSetStatus:
    """One ReplicaSet as ``kcli get rs`` shows it: desired, current (observed) and ready pods."""

    namespace: str
    name: str
    deployment: str  # owning Deployment, "" for a standalone ReplicaSet
    pod_template_hash: str
    replicas: int
    current: int
    ready: int
    template: PodTemplate
    selector: LabelSelector


def reconcile_replicas(
    *,
    namespace: str,
    owner: OwnerRef,
    applied: OwnerRef,
    display: str,
    template: PodTemplate,
    labels: Mapping[str, str],
    spec_hash: str,
    replicas: int,
    observed: Sequence[ObservedPod],
    ctx: Context,
    keep_old_templates: bool = False,
) -> tuple[list[DesiredPod], list[PodAction]]:
    """Pods of ``owner`` with ``spec_hash`` are current; every other observed pod of the applied
    object is stale and deleted (with ``keep_old_templates``, a standalone ReplicaSet's, pods of
    its own with an older template count as current). Then scale current pods to ``replicas``:
    surplus pods go in :func:`pick_victims`, missing ones get fresh names ``<owner>-<5 chars>``."""
    restart = template.spec.restart_policy
    current, broken, stale = [], [], []
    for p in observed:
        if p.owner != owner or (p.spec_hash != spec_hash and not keep_old_templates):
            stale.append(p)
        elif needs_replacement(p, restart):
            broken.append(p)
        else:
            current.append(p)
    actions: list[PodAction] = []
    for p in sorted(stale, key=lambda p: p.name):
        actions.append(delete(p, f"spec-hash {p.spec_hash}→{spec_hash}", applied))
    for p in sorted(broken, key=lambda p: p.name):
        actions.append(delete(p, failure_reason(p), applied))
    scale = f"scale {display} {len(observed)}→{replicas}"
    evicting = [p for p in current if p.node in ctx.draining]
    current = [p for p in current if p.node not in ctx.draining]
    keep = current
    if len(current) > replicas:
        victims = pick_victims(current, len(current) - replicas)
        actions.extend(delete(p, scale, applied) for p in victims)
        gone = {p.name for p in victims}
        keep = [p for p in current if p.name not in gone]
    missing = replicas - len(keep)  # evicting pods are surplus: their replacements come first
    pods = [
        DesiredPod(
            namespace,
            p.name,
            labels if p.spec_hash == spec_hash else dict(p.labels),
            template,
            p.spec_hash,
            applied,
            owner,
        )
        for p in keep + _drain(evicting, keep, replicas, actions, applied)
    ]
    if missing > 0:
        reasons = []
        if stale:
            reasons.append(f"spec-hash {dominant_hash(stale)}→{spec_hash}")
        if broken:
            reasons.append(
                "replaces " + ", ".join(failure_reason(p) for p in broken[:3]) + (" …" if len(broken) > 3 else "")
            )
        if len(observed) != replicas:
            reasons.append(scale)
        reason = "; ".join(reasons) or scale
        for _ in range(missing):
            pod = DesiredPod(
                namespace, ctx.new_name(namespace, owner.name), labels, template, spec_hash, applied, owner
            )
            pods.append(pod)
            actions.append(create(pod, reason))
    return pods, actions


def _drain(
    evicting: list[ObservedPod], staying: list[ObservedPod], replicas: int, actions: list[PodAction], applied: OwnerRef
) -> list[ObservedPod]:
    """Pods on a draining node leave as their replacements elsewhere become ready (surge first, as
    a rolling update with maxUnavailable 0): at least ``replicas`` ready pods, or as many as were
    ready, stay in service throughout. Returns the evicting pods kept for now."""
    if not evicting:
        return []
    ready_staying = sum(1 for p in staying if p.ready and p.state == "running")
    ready_evicting = [p for p in evicting if p.ready and p.state == "running"]
    budget = max(0, ready_staying + len(ready_evicting) - replicas)  # ready pods beyond what must stay
    unready = [p for p in evicting if p not in ready_evicting]  # serving nobody: they go at once
    go = unready + sorted(ready_evicting, key=lambda p: p.name)[:budget]
    actions.extend(delete(p, f"drain: evicted from node {p.node}", applied) for p in go)
    gone = {p.name for p in go}
    return [p for p in evicting if p.name not in gone]


def reconcile_replicaset(rs: ReplicaSet, observed: Sequence[ObservedPod], ctx: Context) -> ControllerResult:
    """A standalone ReplicaSet: pods ``<rs>-<5 chars>`` with the template's labels."""
    owner = OwnerRef("ReplicaSet", rs.name)
    shash = pod_spec_hash(rs.template, ctx.config_fingerprint(rs.template.spec, rs.namespace))
    pods, actions = reconcile_replicas(
        namespace=rs.namespace,
        owner=owner,
        applied=owner,
        display=rs.name,
        template=rs.template,
        labels=dict(rs.template.labels),
        spec_hash=shash,
        replicas=rs.replicas,
        observed=observed,
        ctx=ctx,
        keep_old_templates=True,
    )
    mine = [p for p in observed if p.owner == owner and p.spec_hash == shash]
    status = ReplicaSetStatus(
        rs.namespace,
        rs.name,
        "",
        "",
        rs.replicas,
        len(mine),
        sum(1 for p in mine if p.ready and p.state == "running"),
        rs.template,
        rs.selector,
    )
    return ControllerResult(tuple(pods), tuple(actions), status)
