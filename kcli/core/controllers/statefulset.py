"""StatefulSet controller: pods ``NAME-0 … NAME-(n-1)`` with stable names, DNS and storage.

As upstream:
* each pod gets hostname ``NAME-i``, subdomain ``serviceName`` (its DNS name through the headless
  Service: ``NAME-i.SERVICE.NS.svc.cluster.local``), the label
  ``statefulset.kubernetes.io/pod-name`` and, per volumeClaimTemplate, the claim
  ``TEMPLATE-NAME-i`` (kcli.core.volumes provisions it at first use; it is kept on scale-down);
* ``OrderedReady``: pods are created in ordinal order, each once all before it run and are ready;
  scale-down removes the highest ordinal first, one at a time, while the others are ready;
  ``Parallel`` creates and removes them all at once;
* a broken or stopped pod is deleted and recreated under the same name (on its claims' node);
* ``RollingUpdate`` replaces pods of an old revision one at a time from the highest ordinal down
  to ``partition``, each once every pod is running and ready; ``OnDelete`` only replaces pods
  deleted by hand (``kcli delete pod``).
"""

from __future__ import annotations

import dataclasses
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
    needs_replacement,
    pod_spec_hash,
)
from kcli.core.objects import PodTemplate, StatefulSet, Volume
from kcli.core.volumes import claim_name

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"


@dataclass(frozen=True)
class StatefulSetStatus:
    replicas: int
    ready: int
    current: int  # pods that exist now
    updated: int  # pods at the current revision
    revision: str
    rollout: str = ""  # kubectl rollout status's line; "" once rolled out
    waiting: bool = False
    progress_deadline: int = 600  # none upstream: kcli waits this long at most


def ordinal_of(sts: str, pod: str) -> int | None:
    prefix = f"{sts}-"
    rest = pod[len(prefix) :] if pod.startswith(prefix) else ""
    return int(rest) if rest.isdigit() and (rest == "0" or not rest.startswith("0")) else None


def pod_template(sts: StatefulSet, ordinal: int) -> PodTemplate:
    """Ordinal ``ordinal``'s pod: hostname, subdomain, labels and its claims as volumes."""
    name = f"{sts.name}-{ordinal}"
    claims = tuple(
        Volume(c.name, "persistentVolumeClaim", ref_name=claim_name(c.name, sts.name, ordinal))
        for c in sts.claim_templates
    )
    own = {v.name for v in claims}
    spec = dataclasses.replace(
        sts.template.spec,
        hostname=name,
        subdomain=sts.service_name,
        volumes=(*(v for v in sts.template.spec.volumes if v.name not in own), *claims),
    )
    labels = {**sts.template.labels, POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal)}
    return dataclasses.replace(sts.template, labels=labels, spec=spec)


def reconcile_statefulset(sts: StatefulSet, observed: Sequence[ObservedPod], ctx: Context) -> ControllerResult:
    applied = owner = OwnerRef("StatefulSet", sts.name)
    revision = pod_spec_hash(sts.template, ctx.config_fingerprint(sts.template.spec, sts.namespace))

    def ready_now(p: ObservedPod) -> bool:
        return available(p, sts.min_ready_seconds, ctx.now)

    parallel = sts.pod_management_policy == "Parallel"
    by_ordinal: dict[int, ObservedPod] = {}
    actions: list[PodAction] = []
    for p in sorted(observed, key=lambda p: p.name):
        i = ordinal_of(sts.name, p.name)
        if i is None:
            actions.append(delete(p, f"statefulset {sts.name}: {p.name} is not one of its ordinals", applied))
        elif needs_replacement(p, "Always"):  # recreated under its name, in a later wave
            actions.append(
                delete(
                    p,
                    f"statefulset {sts.name}: pod {p.name} is {p.state}" + (f": {p.detail}" if p.detail else ""),
                    applied,
                )
            )
        else:
            by_ordinal[i] = p

    def desired(i: int, spec_hash: str) -> DesiredPod:
        t = pod_template(sts, i)
        labels = {**t.labels, REVISION_LABEL: f"{sts.name}-{spec_hash}"}
        return DesiredPod(sts.namespace, f"{sts.name}-{i}", labels, t, spec_hash, applied, owner)

    pods: list[DesiredPod] = []
    kept = {i: p for i, p in by_ordinal.items() if i < sts.replicas}
    condemned = sorted((i for i in by_ordinal if i >= sts.replicas), reverse=True)
    healthy = all(ready_now(p) for p in kept.values())
    # scale down: highest ordinal first (OrderedReady: one at a time, the rest ready)
    if condemned and (parallel or healthy):
        for i in condemned if parallel else condemned[:1]:
            actions.append(delete(by_ordinal[i], f"statefulset {sts.name}: scale down to {sts.replicas}", applied))
    gone = {a.name for a in actions}
    for i in condemned:
        if f"{sts.name}-{i}" not in gone:
            pods.append(desired(i, by_ordinal[i].spec_hash or revision))
    # create the missing ordinals (OrderedReady: the first missing one, once all before it are ready)
    for i in range(sts.replicas):
        have = kept.get(i)
        if have is not None:
            pods.append(desired(i, have.spec_hash or revision))
            if not parallel and not ready_now(have):
                break
            continue
        if f"{sts.name}-{i}" in gone:
            break  # recreated once it is gone
        pod = desired(i, revision)
        pods.append(pod)
        actions.append(create(pod, f"statefulset {sts.name}: ordinal {i} of {sts.replicas}"))
        if not parallel:
            break
    # rolling update: the highest ordinal ≥ partition at an old revision, once all are ready
    complete = len(kept) == sts.replicas and healthy and not condemned and not actions
    stale = sorted((i for i, p in kept.items() if p.spec_hash != revision and i >= sts.partition), reverse=True)
    if sts.update_strategy == "RollingUpdate" and stale and complete:
        i = stale[0]
        actions.append(
            delete(
                kept[i],
                f"statefulset {sts.name}: rolling update of {sts.name}-{i} to revision {sts.name}-{revision}",
                applied,
            )
        )
    updated = sum(1 for p in kept.values() if p.spec_hash == revision)
    ready = sum(1 for p in kept.values() if ready_now(p))
    line, waiting = _rollout(sts, kept, ready, updated, revision, stale)
    return ControllerResult(
        tuple(pods),
        tuple(actions),
        StatefulSetStatus(sts.replicas, ready, len(by_ordinal), updated, f"{sts.name}-{revision}", line, waiting),
    )


def _rollout(
    sts: StatefulSet, kept: dict[int, ObservedPod], ready: int, updated: int, revision: str, stale: Sequence[int]
) -> tuple[str, bool]:
    """kubectl rollout status's line for a StatefulSet, and whether time may finish it."""
    if ready < sts.replicas:
        return f"Waiting for {sts.replicas - ready} pods to be ready...", True
    if sts.update_strategy == "RollingUpdate" and stale:
        if sts.partition > 0:
            return (
                f"Waiting for partitioned roll out to finish: {updated} out of "
                f"{sts.replicas - sts.partition} new pods have been updated...",
                True,
            )
        return (
            f"waiting for statefulset rolling update to complete {updated} pods at revision {sts.name}-{revision}...",
            True,
        )
    return "", False
