"""The planner: (desired objects, observed cluster, state, policy) → Plan, and the next state.

Pure. The shell's converge loop (kcli.shell.apply) calls ``plan`` once per wave: observe, plan,
execute the plan's units (one batch per node), observe again, until the plan is empty. A wave
carries pod actions when there are any; rules and DNS follow in a wave of their own, from the
endpoints the pods' wave left (a new pod becomes an endpoint once it runs, a deleted one is gone).
Every action carries its reason; ``record`` turns the final observation into the next state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kcli.core.cluster import ClusterView, scheduler_nodes
from kcli.core.cluster import add_unknown_pods as add_unknown_pods  # re-exported (tests use it from here)
from kcli.core.commands.batch import Unit
from kcli.core.commands.shell import write_file
from kcli.core.controllers import PodAction, PodPlan, plan_pods
from kcli.core.eviction import evictions
from kcli.core.facts.pods import PodView
from kcli.core.hostalloc import held_allocations
from kcli.core.inventory import Inventory
from kcli.core.network import ClusterNetwork, NodeLease
from kcli.core.objects import (
    AnyObject,
    ConfigMap,
    Namespace,
    ObjectKey,
    PersistentVolume,
    PersistentVolumeClaim,
    Secret,
    Service,
    StatefulSet,
)
from kcli.core.podrun import (
    PodContainers,
    PodPlacement,
    create_pod_lines,
    delete_pod_lines,
    delete_pods_lines,
    image_prelude,
    pod_uid,
)
from kcli.core.services import Endpoint, ServiceSpec, endpoints_by_service
from kcli.core.servicesync import (
    DNS_FILE,
    allocate,
    dns_container_lines,
    dns_hosts,
    endpoints_from_record,
    endpoints_record,
    hairpin_line,
    node_rules,
    pod_dns_args,
    pod_infos,
    rules_lines,
    service_env,
    udp_cleanup_lines,
)
from kcli.core.state import cordoned_of, leases_of, network_of
from kcli.core.volumes import (
    Binding,
    ClaimVolume,
    bindings_of,
    new_bindings,
    pod_claims,
    removal_lines,
    resolve,
    template_claims,
)
from kcli.core.workloads import (
    add_events,
    allocate_pod_ips,
    cascade,
    failure_record,
    forget_objects,
    in_backoff,
    object_id,
    owner_keys,
    record_objects,
    record_pods,
    record_revisions,
    recorded_owners,
    redacted_manifest,
    sealed_secrets,
    state_objects,
)
from kcli.errors import ManifestError, PlanError

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public")


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Desired:
    """What the cluster should run: the applied set after this command, and what leaves it."""

    objects: tuple[AnyObject, ...]
    manifest: tuple[AnyObject, ...]  # the objects this command names (for results and state)
    secret_hashes: Mapping[ObjectKey, str]  # Secrets known only by their hash (applied earlier)
    gone: frozenset[ObjectKey] = frozenset()  # deleted or pruned (cascade included)
    pruned: tuple[ObjectKey, ...] = ()
    deleted: tuple[ObjectKey, ...] = ()
    applyset: str = ""
    orphan: bool = False  # --cascade=orphan: pods of deleted workloads keep running


@dataclass(frozen=True)
class Policy:
    seed: str  # stable pod names per cluster
    secret_key: bytes  # HMAC key for Secret content hashes (kcli.core.secretkey)
    now: float  # unix seconds, for back-off
    draining: frozenset[str] = frozenset()  # `kcli drain`: nodes whose pods move elsewhere, surge first
    seen: Mapping[str, float] | None = None  # node → when it last answered (taint-based eviction)
    deleting: frozenset[tuple[str, str]] = frozenset()  # `kcli delete pod` of controllers' pods: replaced


def require_bootstrapped(state: Mapping[str, Any], cluster: str) -> tuple[ClusterNetwork, dict[str, NodeLease]]:
    net = network_of(state)
    if net is None or not leases_of(state):
        raise PlanError(f"cluster {cluster} is not bootstrapped: run `kcli bootstrap` first")
    return net, leases_of(state)


def check_namespaces(objects: Sequence[AnyObject], known: set[str]) -> None:
    names = known | {o.name for o in objects if isinstance(o, Namespace)} | set(SYSTEM_NAMESPACES)
    missing = sorted({o.namespace for o in objects if o.namespaced and o.namespace not in names})
    if missing:
        raise ManifestError(
            f'namespaces "{missing[0]}" not found',
            details=[f"create Namespace {n} first (or in the same apply)" for n in missing],
        )


def desired_from(
    state: Mapping[str, Any],
    manifest: Sequence[AnyObject],
    *,
    applyset: str = "",
    prune: bool = False,
    delete: Sequence[ObjectKey] = (),
    orphan: bool = False,
) -> Desired:
    """The applied set after this command: what the state holds, with ``manifest`` applied over it,
    the applyset's missing objects pruned (``prune``) and ``delete`` removed, with what Kubernetes'
    garbage collector removes with them (a Namespace's objects; dependents by ownerReferences,
    unless ``orphan``: then the pods of deleted workloads keep running too)."""
    old, secret_hashes, applysets = state_objects(state)
    check_namespaces(manifest, {o.name for o in old if isinstance(o, Namespace)})
    mine = {o.key for o in manifest}
    pruned: list[ObjectKey] = []
    if prune:
        pruned = sorted((k for k, s in applysets.items() if s == applyset and k not in mine), key=object_id)
    keep = [o for o in old if o.key not in mine and o.key not in pruned]
    objects = [*keep, *manifest]
    known = {k: v for k, v in secret_hashes.items() if k not in mine}
    owners = {**recorded_owners(state), **{o.key: owner_keys(o) for o in manifest}}
    gone = cascade(set(pruned) | set(delete), [o.key for o in objects] + list(known), owners, orphan=orphan)
    return Desired(
        objects=tuple(o for o in objects if o.key not in gone),
        manifest=tuple(manifest),
        secret_hashes={k: v for k, v in known.items() if k not in gone},
        gone=frozenset(gone),
        pruned=tuple(pruned),
        deleted=tuple(delete),
        applyset=applyset,
        orphan=orphan,
    )


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class PodCreate:
    namespace: str
    name: str
    node: str
    ip: str
    reason: str
    applied: str
    spec_hash: str
    unit: Unit
    owner: str = ""
    uid: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PodDelete:
    namespace: str
    name: str
    node: str
    reason: str
    applied: str
    unit: Unit  # this pod alone; Plan.units() deletes a node's pods together
    containers: PodContainers | None = None


@dataclass(frozen=True)
class NodeSync:
    """Rules, DNS records and the DNS server of one node, where they differ from the wanted ones."""

    node: str
    reasons: tuple[str, ...]
    unit: Unit


@dataclass(frozen=True)
class Waiting:
    """A pod that is not acted on now, and why (Pending, back-off, its node unreachable)."""

    namespace: str
    name: str
    reason: str
    applied: str = ""
    record: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rollout:
    """A workload whose rollout is not finished: kubectl rollout status's line."""

    key: ObjectKey
    line: str
    waiting: bool  # time may finish it: pods starting or restarting, minReadySeconds, a create in back-off
    deadline: int = 600  # progressDeadlineSeconds


@dataclass(frozen=True)
class Plan:
    pods: PodPlan  # the controllers' and scheduler's decisions (for display)
    deletes: tuple[PodDelete, ...]
    creates: tuple[PodCreate, ...]
    services: tuple[NodeSync, ...]
    pending: tuple[Waiting, ...]  # unschedulable
    backing_off: tuple[Waiting, ...]  # creation failed earlier; retried after the back-off
    deferred: tuple[Waiting, ...]  # deletes waiting for an unreachable node
    specs: tuple[ServiceSpec, ...]
    allocations: Mapping[str, dict[str, Any]]
    endpoints: Mapping[str, tuple[Endpoint, ...]]
    warnings: tuple[str, ...] = ()
    rollouts: tuple[Rollout, ...] = ()  # unfinished rollouts (next waves, or only time, move them)
    evicted: Mapping[tuple[str, str], str] = field(default_factory=dict)  # pod → why (taint-based eviction)
    claims: Mapping[str, Binding] = field(default_factory=dict)  # claims bound by this wave's creates
    reclaims: tuple[NodeSync, ...] = ()  # directories of deleted claims (reclaim policy Delete)

    @property
    def waiting(self) -> bool:
        """Nothing to execute now, but time may finish a rollout (pods starting or restarting,
        minReadySeconds, a failed create's back-off)."""
        return self.empty and any(r.waiting for r in self.rollouts)

    def retry_after(self) -> float:
        """The earliest moment (unix seconds) a backing-off create may be retried; 0 for none."""
        return min((float(w.record.get("retryAfter", 0)) for w in self.backing_off), default=0.0)

    @property
    def pod_changes(self) -> int:
        return len(self.deletes) + len(self.creates)

    @property
    def empty(self) -> bool:
        return not (self.deletes or self.creates or self.services or self.reclaims)

    def units(self) -> dict[str, list[Unit]]:
        """Per node, in order: deletes (one unit for all of a node's pods: one ``docker stop``
        and one ``docker rm``), creates, then rules/DNS."""
        out: dict[str, list[Unit]] = {}
        by_node: dict[str, list[PodDelete]] = {}
        for d in self.deletes:
            by_node.setdefault(d.node, []).append(d)
        for node, ds in by_node.items():
            if len(ds) == 1 or any(d.containers is None for d in ds):
                out[node] = [d.unit for d in ds]
            else:
                lines = delete_pods_lines([d.containers for d in ds if d.containers is not None])
                out[node] = [Unit(f"delete {len(ds)} pods", tuple(lines), labels=tuple(d.unit.name for d in ds))]
        for a in self.creates:
            out.setdefault(a.node, []).append(a.unit)
        for s in (*self.services, *self.reclaims):
            out.setdefault(s.node, []).append(s.unit)
        return out


def with_sealed_secrets(desired: Desired, state: Mapping[str, Any], secret_key: bytes) -> Desired:
    """Secrets known only by their hash (applied earlier, not in this command) become objects
    again when their sealed values open with the cluster's key: their pods can be recreated."""
    opened = sealed_secrets(state, desired.secret_hashes, secret_key) if secret_key and desired.secret_hashes else []
    if not opened:
        return desired
    keys = {o.key for o in opened}
    return dataclasses.replace(
        desired,
        objects=(*desired.objects, *opened),
        secret_hashes={k: v for k, v in desired.secret_hashes.items() if k not in keys},
    )


def plan(desired: Desired, view: ClusterView, state: Mapping[str, Any], inv: Inventory, policy: Policy) -> Plan:
    """The next wave. ``view`` must already hold Unknown pods for unreachable nodes
    (add_unknown_pods)."""
    desired = with_sealed_secrets(desired, state, policy.secret_key)
    net, leases = require_bootstrapped(state, inv.cluster)
    recorded_pods: Mapping[str, Any] = state.get("pods") or {}
    specs, allocations, warnings = allocate(
        [o for o in desired.objects if isinstance(o, Service)],
        state.get("services") or {},
        net.service_cidr,
        held_allocations(view.iptables.values()),
    )
    evicted = evictions(view.all_pods(), view.errors, desired.objects, recorded_pods, policy.seen or {}, policy.now)
    observed = [
        dataclasses.replace(p.observed, state="evicted", ready=False, detail=evicted[(p.namespace, p.name)])
        if (p.namespace, p.name) in evicted
        else dataclasses.replace(p.observed, state="broken", ready=False, detail="deleted (kcli delete pod)")
        if (p.namespace, p.name) in policy.deleting
        else p.observed
        for p in view.all_pods()
    ]
    volumes = _claim_volumes(desired, state)
    pods = plan_pods(
        list(desired.objects),
        observed,
        scheduler_nodes(inv, view, leases, cordoned_of(state)),
        known_configs=desired.secret_hashes,
        seed=policy.seed,
        secret_key=policy.secret_key,
        now=view.node_time(),
        draining=policy.draining,
        claim_nodes={k: v.node for k, v in volumes.items() if v.node},
    )
    if not desired.orphan:
        pods = _with_orphan_deletes(pods, desired.gone)
    unreachable = set(view.errors)
    deletes, deferred = [], []
    by_key = {(p.namespace, p.name): p for p in view.all_pods()}
    for a in pods.deletes:
        pv = by_key.get(a.observed.key) if a.observed else None
        if pv is None:
            continue
        if pv.node in unreachable:
            deferred.append(Waiting(a.namespace, a.name, f"node {pv.node} is unreachable: {a.reason}", str(a.applied)))
            continue
        containers = _pod_containers(pv)
        deletes.append(
            PodDelete(
                a.namespace,
                a.name,
                pv.node,
                a.reason,
                str(a.applied),
                Unit(f"delete {a.namespace}/{a.name}", tuple(delete_pods_lines([containers]))),
                containers,
            )
        )
    # No request dropped: a pod that serves a Service leaves the endpoints on every node (rules and
    # DNS) in one wave and is deleted in the next; new pods join them once observed ready.
    eps = endpoints_by_service(specs, pod_infos(view.all_pods()))
    dying = {(d.namespace, d.name) for d in deletes}
    serving = {(key.split("/", 1)[0], e.pod) for key, es in eps.items() for e in es if e.ready} & dying
    old_eps = endpoints_from_record(state.get("endpoints") or {})
    services: tuple[NodeSync, ...] = ()
    if serving:
        live = endpoints_by_service(
            specs, pod_infos([p for p in view.all_pods() if (p.namespace, p.name) not in dying])
        )
        services = _service_syncs(specs, live, view, leases, net.pod_cidr, old_eps)
        if services:
            eps = live  # what this wave programs
            deferred += [
                Waiting(d.namespace, d.name, f"leaving the endpoints of its Services first: {d.reason}", d.applied)
                for d in deletes
                if (d.namespace, d.name) in serving
            ]
            deletes = [d for d in deletes if (d.namespace, d.name) not in serving]
    placed, backing_off = [], []
    for a, node in pods.creates:
        rec = recorded_pods.get(f"{a.namespace}/{a.name}")
        if a.pod is not None and rec is not None and in_backoff(rec, a.pod.spec_hash, policy.now):
            backing_off.append(Waiting(a.namespace, a.name, str(rec.get("reason")), str(a.applied), dict(rec)))
        else:
            placed.append((a, node))
    creates = _creates(
        placed, desired.objects, view, leases, specs, {by_key[(d.namespace, d.name)].uid for d in deletes}, volumes
    )
    pending = tuple(Waiting(a.namespace, a.name, reason, str(a.applied)) for a, reason in pods.pending)
    if not deletes and not creates and not services:
        services = _service_syncs(specs, eps, view, leases, net.pod_cidr, old_eps)
    claims, templates = _claims(desired)
    bound = new_bindings(
        ((a.namespace, a.pod.spec, node) for a, node in pods.creates if a.pod is not None), volumes, claims, templates
    )
    bound = {k: b for k, b in bound.items() if k not in bindings_of(state)}
    reclaims = () if deletes or creates else _reclaims(desired, state, pods, view)
    return Plan(
        pods,
        tuple(deletes),
        creates,
        services,
        pending,
        tuple(backing_off),
        tuple(deferred),
        tuple(specs),
        allocations,
        eps,
        tuple(warnings),
        rollouts=_rollouts(pods, backing_off) + _drains(view, policy.draining),
        evicted=evicted,
        claims=bound,
        reclaims=reclaims,
    )


def _claims(desired: Desired) -> tuple[dict[tuple[str, str], PersistentVolumeClaim], dict[tuple[str, str], str]]:
    """The applied claims and those of StatefulSets' templates; the latter → their StatefulSet."""
    claims = {(o.namespace, o.name): o for o in desired.objects if isinstance(o, PersistentVolumeClaim)}
    templates: dict[tuple[str, str], str] = {}
    for o in desired.objects:
        if isinstance(o, StatefulSet):
            mine = template_claims(o)
            claims.update(mine)
            templates.update({k: f"StatefulSet/{o.name}" for k in mine})
    return claims, templates


def _claim_volumes(desired: Desired, state: Mapping[str, Any]) -> dict[tuple[str, str], ClaimVolume]:
    """Every claim a desired object uses or declares, and every recorded one: its volume."""
    claims, _ = _claims(desired)
    pvs = {o.name: o for o in desired.objects if isinstance(o, PersistentVolume)}
    bindings = bindings_of(state)
    wanted = set(claims) | {(b.namespace, b.name) for b in bindings.values() if not b.released}
    for o in desired.objects:
        template = getattr(o, "template", None)
        if template is not None:
            wanted.update((o.namespace, c) for c in pod_claims(template.spec))
    return {k: resolve(k[0], k[1], claims, pvs, bindings) for k in sorted(wanted)}


def _unclaimed(desired: Desired, state: Mapping[str, Any], pods: PodPlan) -> list[Binding]:
    """Bound volumes whose claim is gone (deleted or pruned) and that no desired pod uses."""
    claims = {(o.namespace, o.name) for o in desired.objects if isinstance(o, PersistentVolumeClaim)}
    in_use = {(p.namespace, c) for p in pods.reconciliation.pods for c in pod_claims(p.spec)}
    return [
        b
        for b in bindings_of(state).values()
        if not b.released and (b.namespace, b.name) not in claims | in_use and not b.template
    ]


def _reclaims(desired: Desired, state: Mapping[str, Any], pods: PodPlan, view: ClusterView) -> tuple[NodeSync, ...]:
    """The directories of gone claims whose reclaim policy is Delete, once no pod uses them."""
    out = []
    for b in _unclaimed(desired, state, pods):
        if b.reclaim_policy != "Delete" or b.node not in view.facts or b.node in view.errors:
            continue
        lines = removal_lines(b)
        if lines:
            out.append(
                NodeSync(
                    b.node,
                    (f"persistentvolumeclaim {b.key} deleted: remove volume {b.volume}",),
                    Unit(f"reclaim {b.key}", tuple(lines)),
                )
            )
    return tuple(out)


def _rollouts(pods: PodPlan, backing_off: Sequence[Waiting]) -> tuple[Rollout, ...]:
    """Deployments whose rollout is not finished, with kubectl's line."""
    retrying = {(w.namespace, w.applied) for w in backing_off}
    out = []
    for key, st in sorted(pods.reconciliation.statuses.items(), key=lambda kv: str(kv[0])):
        line = getattr(st, "rollout", "")
        if line:
            waiting = bool(getattr(st, "waiting", False)) or (key.namespace, f"{key.kind}/{key.name}") in retrying
            out.append(Rollout(key, line, waiting, int(getattr(st, "progress_deadline", 600))))
    return tuple(out)


STAY_ON_DRAIN = ("DaemonSet", "Job")  # kinds whose pods a drain leaves where they are


def stays_on_drain(applied: str) -> bool:
    """Whether a pod of ``applied`` (``Kind/name``) stays on a draining node."""
    return applied.split("/", 1)[0] in STAY_ON_DRAIN


def _drains(view: ClusterView, draining: frozenset[str]) -> tuple[Rollout, ...]:
    """A draining node that still runs pods other than DaemonSet and Job pods: a wait, as a
    rollout (its pods leave once their replacements elsewhere are ready)."""
    out = []
    for node in sorted(draining):
        left = [
            p.name for p in view.pods.get(node, ()) if p.observed.state != "exited" and not stays_on_drain(p.applied)
        ]
        if left:
            out.append(
                Rollout(
                    ObjectKey("Node", "", node),
                    f'Waiting for node "{node}" to drain: {len(left)} pod(s) '
                    f"left ({', '.join(sorted(left)[:3])}{' …' if len(left) > 3 else ''})",
                    True,
                    10**9,
                )
            )
    return tuple(out)


def _pod_containers(pv: PodView) -> PodContainers:
    """A pod's containers as its node reported them: app containers are stopped first."""
    return PodContainers(
        pv.uid,
        tuple(c.id for c in pv.containers if c.kind == "container"),
        tuple(c.id for c in pv.containers if c.kind != "container"),
        pv.grace,
        tuple(
            (c.id, c.pre_stop) for c in pv.containers if c.kind == "container" and c.pre_stop and c.status == "running"
        ),
    )


def _with_orphan_deletes(pods: PodPlan, gone: frozenset[ObjectKey]) -> PodPlan:
    """Pods of deleted/pruned objects are orphans now: delete them too."""
    gone_refs = {(k.namespace, f"{k.kind}/{k.name}") for k in gone}
    extra = tuple(
        PodAction("delete", p.namespace, p.name, f"{p.applied} was deleted", p.applied, observed=p)
        for p in pods.reconciliation.orphans
        if p.applied is not None and (p.namespace, str(p.applied)) in gone_refs
    )
    if not extra:
        return pods
    return PodPlan(pods.reconciliation, pods.deletes + extra, pods.creates, pods.pending, pods.placements)


def _creates(
    placed: Sequence[tuple[PodAction, str]],
    objects: Sequence[AnyObject],
    view: ClusterView,
    leases: Mapping[str, NodeLease],
    specs: Sequence[ServiceSpec],
    deleted_uids: set[str],
    volumes: Mapping[tuple[str, str], ClaimVolume] | None = None,
) -> tuple[PodCreate, ...]:
    """Create units with pod IPs allocated around every address in use (freed by this wave's deletes)."""
    wanted: dict[str, list[tuple[str, str]]] = {}
    for a, node in placed:
        wanted.setdefault(node, []).append((a.namespace, a.name))
    freed = {p.ip for p in view.all_pods() if p.uid in deleted_uids}
    used = {n: (view.used_ips.get(n, set()) | {p.ip for p in pods}) - freed for n, pods in view.pods.items()}
    try:
        ips = allocate_pod_ips(wanted, used, leases)
    except ValueError as exc:
        raise PlanError(str(exc)) from exc
    configs = {o.key: o for o in objects if isinstance(o, (ConfigMap, Secret))}
    out = []
    for a, node in placed:
        assert a.pod is not None
        pod = a.pod
        lease = leases[node]
        ip = "" if pod.spec.host_network else ips[(a.namespace, a.name)]
        facts = view.facts.get(node)
        place = PodPlacement(
            node,
            ip or lease.public_ip,
            lease.public_ip,
            (facts.cpus * 1000) if facts else 0,
            (facts.memory_kib * 1024) if facts else 0,
        )
        claim_paths = {c: v.path for c in pod_claims(pod.spec) if (v := (volumes or {}).get((a.namespace, c)))}
        lines = create_pod_lines(
            pod,
            place,
            configs,
            dns_args=pod_dns_args(pod.spec, a.namespace, lease.subnet),
            service_env=service_env(specs, a.namespace) if pod.spec.enable_service_links else [],
            claim_paths=claim_paths,
        )
        uid = pod_uid(pod)
        # hairpin (a pod reaching itself through a service) on the new pod's bridge port, right away
        lines = [*lines, hairpin_line()] if not pod.spec.host_network else lines
        out.append(
            PodCreate(
                a.namespace,
                a.name,
                node,
                place.ip,
                a.reason,
                str(a.applied),
                pod.spec_hash,
                Unit(
                    f"create {a.namespace}/{a.name}",
                    tuple(lines),
                    tuple(delete_pod_lines(uid)),
                    prelude=image_prelude(pod),
                ),
                str(pod.owner) if pod.owner else "",
                uid,
                dict(pod.labels),
            )
        )
    return tuple(out)


def _service_syncs(
    specs: Sequence[ServiceSpec],
    eps: Mapping[str, Sequence[Endpoint]],
    view: ClusterView,
    leases: Mapping[str, NodeLease],
    pod_cidr: str,
    old_eps: Mapping[str, Sequence[Endpoint]],
) -> tuple[NodeSync, ...]:
    """Per node, only where something differs: kube-proxy rules, DNS records, the DNS server,
    hairpin, UDP conntrack cleanup. Nothing for a node already in sync."""
    hosts_text = dns_hosts(specs, eps, {(p.namespace, p.name): p.dns_host for p in view.all_pods() if p.dns_host})
    cleanup = udp_cleanup_lines(specs, old_eps, eps)
    out = []
    for node, lease in sorted(leases.items()):
        if node not in view.facts or node in view.errors:
            continue
        lines: list[str] = []
        reasons: list[str] = []
        rules = node_rules(specs, eps, pod_cidr, view.iptables.get(node, ""))
        if rules.drift:
            lines += rules_lines(rules) + cleanup
            reasons.append("service rules differ")
        if (view.dns_file.get(node) or "").strip() != hosts_text.strip():
            lines.append(write_file(DNS_FILE, hosts_text))
            reasons.append("DNS records differ")
        if not view.dns_running.get(node):
            lines += ["docker rm -f kcli-dns >/dev/null 2>&1 || true", *dns_container_lines(lease.subnet)]
            reasons.append("DNS server not running")
        if reasons:
            out.append(NodeSync(node, tuple(reasons), Unit("services", (*lines, hairpin_line()), stop=True)))
    return tuple(out)


# --------------------------------------------------------------------------- results and the next state


def changes_objects(state: Mapping[str, Any], desired: Desired) -> bool:
    """Whether this command certainly changes the recorded objects (one is new, edited, deleted or
    pruned), known without looking at the hosts. A Secret whose data alone changed is not seen
    here (that needs the cluster's key): False means "maybe"."""
    recorded = state.get("objects") or {}
    if desired.gone:
        return True
    for o in desired.manifest:
        rec = recorded.get(object_id(o.key))
        if rec is None or rec.get("lastApplied") != redacted_manifest(o):
            return True
    return False


@dataclass(frozen=True)
class ObjectChange:
    """What a command does to one object: created | configured | unchanged | pruned | deleted."""

    kind: str
    namespace: str  # "" for cluster-scoped kinds
    name: str
    action: str
    ref: str  # kubectl's name for it: deployment.apps/web (pruned, deleted: deployment/web)


def object_changes(state: Mapping[str, Any], desired: Desired, secret_key: bytes) -> list[ObjectChange]:
    """kubectl's per-object results, with the object's kind, namespace and name."""
    recorded = state.get("objects") or {}
    out = []
    for o in desired.manifest:
        rec = recorded.get(object_id(o.key))
        if rec is None:
            action = "created"
        elif rec.get("lastApplied") != redacted_manifest(o) or (
            isinstance(o, Secret) and rec.get("contentHash") != o.content_hash(secret_key)
        ):
            action = "configured"
        else:
            action = "unchanged"
        out.append(ObjectChange(o.kind, o.key.namespace, o.name, action, o.ref))
    for keys, action in ((desired.pruned, "pruned"), (desired.deleted, "deleted")):
        out += [ObjectChange(k.kind, k.namespace, k.name, action, f"{k.kind.lower()}/{k.name}") for k in keys]
    return out


def object_results(state: Mapping[str, Any], desired: Desired, secret_key: bytes) -> list[tuple[str, str]]:
    """kubectl's per-object line: created | configured | unchanged | pruned | deleted."""
    return [(c.ref, c.action) for c in object_changes(state, desired, secret_key)]


def failures(
    plan_: Plan, results: Mapping[str, tuple[str, str]], recorded: Mapping[str, Any], now: float
) -> dict[tuple[str, str], dict[str, Any]]:
    """Failure records (reason, message, back-off) for the creates of this wave that failed."""
    out = {}
    for c in plan_.creates:
        status, err = results.get(c.unit.name, ("ok", ""))
        if status != "ok":
            out[(c.namespace, c.name)] = failure_record(
                recorded.get(f"{c.namespace}/{c.name}"), c.node, c.applied, c.spec_hash, err, now
            )
    return out


def with_failures(state: Mapping[str, Any], failed: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, Any]:
    """``state`` whose pod records carry these failures (the next wave backs off from them)."""
    out = dict(state)
    out["pods"] = {**(state.get("pods") or {}), **{f"{ns}/{n}": dict(f) for (ns, n), f in failed.items()}}
    return out


def working_state(
    state: Mapping[str, Any],
    first: Plan,
    failed: Mapping[tuple[str, str], Mapping[str, Any]],
    plans: Sequence[Plan] = (),
    results: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The state the next wave plans from: the first wave's allocations kept (an address never
    moves between waves of one command), this command's failures recorded, and the claims its
    waves bound or reclaimed (``plans`` executed with ``results``)."""
    out = with_failures(state, failed)
    out["services"] = dict(first.allocations)
    out["claims"] = claims_after(state, plans, results or {})
    return out


def claims_after(
    state: Mapping[str, Any], plans: Sequence[Plan], results: Mapping[str, tuple[str, str]]
) -> dict[str, Any]:
    """The recorded claims, with the bindings of these plans' creates and without the volumes
    their reclaims removed."""
    claims = {k: b.record() for k, b in bindings_of(state).items()}
    for p in plans:
        claims.update({k: b.record() for k, b in p.claims.items()})
        for u in p.reclaims:
            if results.get(u.unit.name, ("ok", ""))[0] == "ok":
                claims.pop(u.unit.name.split(" ", 1)[1], None)
    return claims


@dataclass(frozen=True)
class Outcome:
    """What the waves did, for the record: every wave's plan and the units' results."""

    plans: tuple[Plan, ...]
    results: Mapping[str, tuple[str, str]]  # unit label (node-qualified for services) → (ok|failed, error)
    failed: Mapping[tuple[str, str], Mapping[str, Any]]


def record(
    state: Mapping[str, Any],
    desired: Desired,
    last: Plan,
    outcome: Outcome,
    view: ClusterView,
    secret_key: bytes,
    now_iso: str,
    by: str = "",
    repairs: Sequence[Mapping[str, str]] = (),
) -> tuple[dict[str, Any], str]:
    """The next state and its commit message, from the final observation (``by``: who ran it;
    ``repairs``: node repairs done before, as events {object, reason, message}: `kcli reconcile`)."""
    new = forget_objects(record_objects(state, desired.manifest, desired.applyset, now_iso, secret_key), desired.gone)
    pending = {(w.namespace, w.name): (w.applied, w.reason) for w in last.pending}
    failed = {**{(w.namespace, w.name): dict(w.record) for w in last.backing_off}, **outcome.failed}
    new = record_pods(new, view.all_pods(), pending, failed)
    evicted = {f"{ns}/{name}": why for p in outcome.plans for (ns, name), why in p.evicted.items()}
    new["pods"] = {k: {**r, "evicted": evicted[k]} if k in evicted else r for k, r in new["pods"].items()}
    new = record_revisions(new, desired.objects, last.pods.reconciliation.statuses, now_iso, by)
    new = record_claims(new, state, desired, outcome)
    if last.allocations:
        new["services"] = dict(last.allocations)
        new["endpoints"] = endpoints_record(last.specs, last.endpoints)
    else:
        new.pop("services", None)
        new.pop("endpoints", None)
    new = add_events(new, [*({"time": now_iso, **r} for r in repairs), *events(outcome, state, now_iso)])
    changed = [f"{ref} {what}" for ref, what in object_results(state, desired, secret_key) if what != "unchanged"]
    subject = f"apply: {', '.join(changed[:4]) or 'pods reconciled'}" + (
        f" (+{len(changed) - 4})" if len(changed) > 4 else ""
    )
    if repairs and not changed:
        subject = f"reconcile: {len(repairs)} node repair(s), {sum(p.pod_changes for p in outcome.plans)} pod change(s)"
    body = [
        *(f"{r.get('object', '')}: {r.get('message', '')}" for r in repairs),
        *(f"delete {d.namespace}/{d.name} on {d.node}: {d.reason}" for p in outcome.plans for d in p.deletes),
        *(f"create {c.namespace}/{c.name} on {c.node}: {c.reason}" for p in outcome.plans for c in p.creates),
    ]
    return new, subject + ("\n\n" + "\n".join(body) if body else "")


def record_claims(new: dict[str, Any], state: Mapping[str, Any], desired: Desired, outcome: Outcome) -> dict[str, Any]:
    """Claims bound by this command's creates join the record; a deleted claim's binding goes
    when its directory was removed (Delete) or is kept as Released (Retain)."""
    claims = claims_after(state, outcome.plans, outcome.results)
    if outcome.plans:
        for b in _unclaimed(desired, {"claims": claims}, outcome.plans[-1].pods):
            if b.reclaim_policy != "Delete":
                claims[b.key] = {**claims[b.key], "released": True}
    if claims:
        new["claims"] = dict(sorted(claims.items()))
    else:
        new.pop("claims", None)
    return new


def events(outcome: Outcome, state: Mapping[str, Any], now_iso: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for p in outcome.plans:
        out += [
            {
                "time": now_iso,
                "object": d.applied,
                "reason": "Killing",
                "message": f"delete {d.namespace}/{d.name}: {d.reason}",
            }
            for d in p.deletes
        ]
        out += [
            {
                "time": now_iso,
                "object": c.applied,
                "reason": "Scheduled",
                "message": f"create {c.namespace}/{c.name}: {c.reason} → {c.node}",
            }
            for c in p.creates
        ]
    if outcome.plans:
        out += [
            {
                "time": now_iso,
                "object": w.applied,
                "reason": "FailedScheduling",
                "message": f"{w.namespace}/{w.name}: {w.reason}",
            }
            for w in outcome.plans[-1].pending
            if f"{w.namespace}/{w.name}" not in (state.get("pods") or {})
        ]
    out += [
        {
            "time": now_iso,
            "object": str(f.get("applied", "")),
            "reason": str(f.get("reason", "")),
            "message": f"{ns}/{name}: {f.get('message', '')}",
        }
        for (ns, name), f in outcome.failed.items()
    ]
    return out
