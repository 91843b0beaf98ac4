"""Pure pod scheduler (docs/k8s-reference.md §6): filter nodes, score the rest, place; explain failures like kubectl.

Filters, in upstream order, first failure wins per node: NodeUnschedulable, NodeName,
TaintToleration (NoSchedule/NoExecute), NodeAffinity (nodeSelector + required node affinity),
NodePorts, NodeResourcesFit (pods, cpu, memory, extended resources; all shortages listed).

Score (higher wins), integer like upstream:
* ``1 × LeastAllocated``: per resource ``(alloc - requested) * 100 // alloc`` for cpu and memory,
  averaged; requests of 0 count as 100m / 200Mi here (upstream's non-zero defaults).
* ``2 × NodeAffinity``: matching preferred-term weights, normalised to 0..100 over feasible nodes.
* ``3 × TaintToleration``: fewer untolerated PreferNoSchedule taints, normalised and reversed.
* ``2 × spread``: ``100 // (1 + replicas of the same owner already on the node)``. This stands in
  for PodTopologySpread's system default (hostname, ScheduleAnyway): replicas of one owner spread
  evenly over equal nodes. It is a per-node formula rather than upstream's min/max normalisation,
  which keeps every score non-increasing as pods are added: the property the fast path needs.
* NodeResourcesBalancedAllocation is left out (its score can rise as pods are added).
* Ties go to the node whose name sorts first (upstream picks at random).

Pods are placed one at a time in the order given; running pods (``existing``) keep their node and
consume its resources, ports and spread counts. Speed: pods sharing a profile and owner form a
class; static filters and static scores are computed once per (class, node); each class keeps a
max-heap of nodes whose stale entries are refreshed lazily, so a placement costs O(log nodes)
amortised instead of O(nodes).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kcli.core.objects import NodeSelectorRequirement, NodeSelectorTerm, PodSpec, PreferredSchedulingTerm, Toleration

DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
DEFAULT_MAX_PODS = 110

REASON_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_NODE_NAME = "node(s) didn't match the requested node name"
REASON_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
REASON_PORTS = "node(s) didn't have free ports for the requested pod ports"
REASON_TOO_MANY_PODS = "Too many pods"
NO_NODES = "no nodes available to schedule pods"
UNSCHEDULABLE_TAINT_KEY = "node.kubernetes.io/unschedulable"


def untolerated_taint_reason(taint: Taint) -> str:
    return f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"


def insufficient_reason(resource: str) -> str:
    return f"Insufficient {resource}"


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Taint:
    key: str
    value: str = ""
    effect: str = "NoSchedule"  # NoSchedule | PreferNoSchedule | NoExecute


@dataclass(frozen=True)
class Node:
    """A node as the scheduler sees it; ``cpu_milli``/``memory``/``pods`` are allocatable."""

    name: str
    cpu_milli: int
    memory: int
    pods: int = DEFAULT_MAX_PODS
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False  # cordoned
    extended: Mapping[str, int] = field(default_factory=dict)  # e.g. {"nvidia.com/gpu": 1}


@dataclass(frozen=True)
class HostPort:
    port: int
    protocol: str = "TCP"
    host_ip: str = ""  # "" / 0.0.0.0 = every address


@dataclass(frozen=True)
class SchedProfile:
    """Everything about a pod that scheduling depends on (hashable: pods with equal profiles share work)."""

    cpu_milli: int = 0
    memory: int = 0
    extended: tuple[tuple[str, int], ...] = ()
    node_selector: tuple[tuple[str, str], ...] = ()
    required_terms: tuple[NodeSelectorTerm, ...] = ()
    preferred_terms: tuple[PreferredSchedulingTerm, ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    host_ports: tuple[HostPort, ...] = ()
    node_name: str = ""


@dataclass(frozen=True)
class SchedPod:
    namespace: str
    name: str
    profile: SchedProfile
    owner: str = ""  # replicas with the same owner are spread; "" = no spreading

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass(frozen=True)
class ScheduleResult:
    placements: Mapping[tuple[str, str], str]  # (namespace, pod) → node name
    unschedulable: Mapping[tuple[str, str], str]  # (namespace, pod) → "0/3 nodes are available: ..."


# --------------------------------------------------------------------------- profiles


def pod_requests(spec: PodSpec) -> dict[str, int]:
    """Effective pod request (docs/k8s-reference.md §6.2): max(sum of app containers + sidecars, each init
    container + sidecars started before it). cpu in millicores, the rest in units."""
    total: dict[str, int] = {}
    for c in spec.containers:
        for k, v in c.resources.requests.items():
            total[k] = total.get(k, 0) + v
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for c in spec.init_containers:
        if c.restart_policy == "Always":
            for k, v in c.resources.requests.items():
                sidecars[k] = sidecars.get(k, 0) + v
        else:
            for k, v in c.resources.requests.items():
                init_peak[k] = max(init_peak.get(k, 0), v + sidecars.get(k, 0))
    for k, v in sidecars.items():
        total[k] = total.get(k, 0) + v
    for k, v in init_peak.items():
        total[k] = max(total.get(k, 0), v)
    return total


def host_ports(spec: PodSpec) -> tuple[HostPort, ...]:
    """Host ports a pod binds: hostPort entries, or every containerPort under hostNetwork."""
    out: list[HostPort] = []
    for c in spec.init_containers + spec.containers:
        for p in c.ports:
            port = p.host_port or (p.container_port if spec.host_network else 0)
            if port:
                out.append(HostPort(port, p.protocol, p.host_ip))
    return tuple(dict.fromkeys(out))


def profile_for(spec: PodSpec, node_name: str = "", extra_tolerations: tuple[Toleration, ...] = ()) -> SchedProfile:
    """The scheduling profile of a pod spec (``node_name`` pins it, as DaemonSet pods are)."""
    req = pod_requests(spec)
    return SchedProfile(
        cpu_milli=req.pop("cpu", 0),
        memory=req.pop("memory", 0),
        extended=tuple(sorted(req.items())),
        node_selector=tuple(sorted(spec.node_selector.items())),
        required_terms=spec.required_node_terms,
        preferred_terms=spec.preferred_node_terms,
        tolerations=spec.tolerations + extra_tolerations,
        host_ports=host_ports(spec),
        node_name=node_name or spec.node_name,
    )


# --------------------------------------------------------------------------- predicates


def tolerates(tolerations: Sequence[Toleration], taint: Taint) -> bool:
    """Upstream ``ToleratesTaint`` over a list."""
    for t in tolerations:
        if t.effect and t.effect != taint.effect:
            continue
        if t.key and t.key != taint.key:
            continue
        if t.operator == "Exists" or t.value == taint.value:
            return True
    return False


def _requirement_matches(r: NodeSelectorRequirement, value: str | None) -> bool:
    op = r.operator
    if op == "In":
        return value is not None and value in r.values
    if op == "NotIn":
        return value is None or value not in r.values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(r.values) == 1:
        try:
            have, want = int(value), int(r.values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def term_matches(term: NodeSelectorTerm, node: Node) -> bool:
    """Requirements ANDed; an empty term matches nothing (upstream)."""
    if not term.match_expressions and not term.match_fields:
        return False
    for r in term.match_expressions:
        if not _requirement_matches(r, node.labels.get(r.key)):
            return False
    for r in term.match_fields:
        if not _requirement_matches(r, node.name if r.key == "metadata.name" else None):
            return False
    return True


def matches_node_affinity(profile: SchedProfile, node: Node) -> bool:
    for k, v in profile.node_selector:
        if node.labels.get(k) != v:
            return False
    return not profile.required_terms or any(term_matches(t, node) for t in profile.required_terms)


def static_reason(profile: SchedProfile, node: Node) -> str | None:
    """First failing static filter for this node, or None if it passes them all."""
    if node.unschedulable and not tolerates(profile.tolerations, Taint(UNSCHEDULABLE_TAINT_KEY, "", "NoSchedule")):
        return REASON_UNSCHEDULABLE
    if profile.node_name and profile.node_name != node.name:
        return REASON_NODE_NAME
    for t in node.taints:
        if t.effect in ("NoSchedule", "NoExecute") and not tolerates(profile.tolerations, t):
            return untolerated_taint_reason(t)
    if not matches_node_affinity(profile, node):
        return REASON_AFFINITY
    return None


def _preferred_weight(profile: SchedProfile, node: Node) -> int:
    return sum(p.weight for p in profile.preferred_terms if term_matches(p.preference, node))


def _prefer_no_schedule_count(profile: SchedProfile, node: Node) -> int:
    tols = [t for t in profile.tolerations if t.effect in ("", "PreferNoSchedule")]
    return sum(1 for t in node.taints if t.effect == "PreferNoSchedule" and not tolerates(tols, t))


def unschedulable_message(reasons: Mapping[str, int], total_nodes: int) -> str:
    """Upstream ``FitError.Error()``: ``0/3 nodes are available: 3 Insufficient memory.``"""
    if total_nodes == 0:
        return NO_NODES
    parts = sorted(f"{count} {reason}" for reason, count in reasons.items())
    return f"0/{total_nodes} nodes are available: {', '.join(parts)}."


# --------------------------------------------------------------------------- state


class _Cluster:
    """Mutable bookkeeping private to one ``schedule`` call."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self.nodes = list(nodes)
        self.index = {n.name: i for i, n in enumerate(self.nodes)}
        n = len(self.nodes)
        self.cpu = [0] * n
        self.mem = [0] * n
        self.cpu_nz = [0] * n
        self.mem_nz = [0] * n
        self.count = [0] * n
        self.ext: list[dict[str, int]] = [{} for _ in range(n)]
        self.ports: list[dict[tuple[str, int], set[str]]] = [{} for _ in range(n)]
        self.version = [0] * n
        self.owners: dict[str, dict[int, int]] = {}

    def add(self, i: int, pod: SchedPod) -> None:
        p = pod.profile
        self.cpu[i] += p.cpu_milli
        self.mem[i] += p.memory
        self.cpu_nz[i] += p.cpu_milli or DEFAULT_MILLI_CPU_REQUEST
        self.mem_nz[i] += p.memory or DEFAULT_MEMORY_REQUEST
        self.count[i] += 1
        for k, v in p.extended:
            self.ext[i][k] = self.ext[i].get(k, 0) + v
        for hp in p.host_ports:
            self.ports[i].setdefault((hp.protocol, hp.port), set()).add(hp.host_ip or "0.0.0.0")
        if pod.owner:
            per = self.owners.setdefault(pod.owner, {})
            per[i] = per.get(i, 0) + 1
        self.version[i] += 1

    def dynamic_reasons(self, i: int, p: SchedProfile) -> list[str]:
        """NodePorts, then NodeResourcesFit (every shortage), against the current usage."""
        node = self.nodes[i]
        for hp in p.host_ports:
            used = self.ports[i].get((hp.protocol, hp.port))
            ip = hp.host_ip or "0.0.0.0"
            if used and (ip == "0.0.0.0" or "0.0.0.0" in used or ip in used):
                return [REASON_PORTS]
        out = []
        if self.count[i] + 1 > node.pods:
            out.append(REASON_TOO_MANY_PODS)
        if p.cpu_milli and self.cpu[i] + p.cpu_milli > node.cpu_milli:
            out.append(insufficient_reason("cpu"))
        if p.memory and self.mem[i] + p.memory > node.memory:
            out.append(insufficient_reason("memory"))
        for k, v in p.extended:
            if not v or (k == "ephemeral-storage" and k not in node.extended):
                continue  # nodes that do not report ephemeral storage are not checked for it
            if self.ext[i].get(k, 0) + v > node.extended.get(k, 0):
                out.append(insufficient_reason(k))
        return out

    def fits(self, i: int, p: SchedProfile) -> bool:
        return not self.dynamic_reasons(i, p)

    def least_allocated(self, i: int, p: SchedProfile) -> int:
        node = self.nodes[i]
        return _least_allocated(
            node.cpu_milli,
            node.memory,
            self.cpu_nz[i] + (p.cpu_milli or DEFAULT_MILLI_CPU_REQUEST),
            self.mem_nz[i] + (p.memory or DEFAULT_MEMORY_REQUEST),
        )


def _least_allocated(cpu_alloc: int, mem_alloc: int, cpu_used: int, mem_used: int) -> int:
    """LeastAllocated over cpu and memory, weights 1 and 1, integer as upstream."""
    score = 0
    if cpu_alloc > 0 and cpu_used <= cpu_alloc:
        score += (cpu_alloc - cpu_used) * 100 // cpu_alloc
    if mem_alloc > 0 and mem_used <= mem_alloc:
        score += (mem_alloc - mem_used) * 100 // mem_alloc
    return score // 2


class _Class:
    """Pods with one profile and one owner: their feasible nodes and a lazy max-heap over them."""

    def __init__(self, cluster: _Cluster, profile: SchedProfile, owner: str) -> None:
        self.profile = profile
        self.owner = owner
        nodes = cluster.nodes
        if profile.node_name:
            idx = cluster.index.get(profile.node_name)
            candidates = [idx] if idx is not None else []
        else:
            candidates = list(range(len(nodes)))
        self.static_fail: dict[int, str] = {}
        feasible = []
        for i in candidates:
            reason = static_reason(profile, nodes[i])
            if reason is None:
                feasible.append(i)
            else:
                self.static_fail[i] = reason
        # Static part of the score: 2 × preferred affinity + 3 × PreferNoSchedule, normalised over
        # the feasible nodes. Most nodes share the default (no preferred match, no soft taint).
        weights = {i: _preferred_weight(profile, nodes[i]) for i in feasible} if profile.preferred_terms else {}
        taints = {i: c for i in feasible if nodes[i].taints and (c := _prefer_no_schedule_count(profile, nodes[i]))}
        max_w = max(weights.values(), default=0)
        max_t = max(taints.values(), default=0)
        self.static_default = 3 * 100
        self.static_score: dict[int, int] = {}
        for i in set(weights) | set(taints):
            aff = weights.get(i, 0) * 100 // max_w if max_w else 0
            tt = 100 - taints.get(i, 0) * 100 // max_t if max_t else 100
            self.static_score[i] = 2 * aff + 3 * tt
        self.feasible = set(feasible)
        # Initial scores; nodes with equal allocatable and usage share one LeastAllocated computation.
        pc = profile.cpu_milli or DEFAULT_MILLI_CPU_REQUEST
        pm = profile.memory or DEFAULT_MEMORY_REQUEST
        counts = cluster.owners.get(owner, {}) if owner else {}
        memo: dict[tuple[int, int, int, int], int] = {}
        heap = []
        for i in feasible:
            n = nodes[i]
            key = (n.cpu_milli, n.memory, cluster.cpu_nz[i], cluster.mem_nz[i])
            la = memo.get(key)
            if la is None:
                la = memo[key] = _least_allocated(key[0], key[1], key[2] + pc, key[3] + pm)
            score = self.static_score.get(i, self.static_default) + la
            if owner:
                score += 2 * (100 // (1 + counts.get(i, 0)))
            heap.append((-score, n.name, i, cluster.version[i]))
        heapq.heapify(heap)
        self.heap = heap

    def score(self, cluster: _Cluster, i: int) -> int:
        s = self.static_score.get(i, self.static_default) + cluster.least_allocated(i, self.profile)
        if self.owner:
            s += 2 * (100 // (1 + cluster.owners.get(self.owner, {}).get(i, 0)))
        return s

    def pick(self, cluster: _Cluster) -> int | None:
        """Best feasible node now, or None. Nodes that no longer fit are dropped for good (usage only grows)."""
        heap = self.heap
        while heap:
            _, name, i, ver = heap[0]
            if ver != cluster.version[i]:
                heapq.heapreplace(heap, (-self.score(cluster, i), name, i, cluster.version[i]))
                continue
            if cluster.fits(i, self.profile):
                return i
            heapq.heappop(heap)
        return None

    def placed(self, cluster: _Cluster, i: int) -> None:
        heapq.heapreplace(self.heap, (-self.score(cluster, i), cluster.nodes[i].name, i, cluster.version[i]))

    def message(self, cluster: _Cluster) -> str:
        reasons: dict[str, int] = {}
        total = len(cluster.nodes)
        if self.profile.node_name:
            others = total - (1 if self.profile.node_name in cluster.index else 0)
            if others:
                reasons[REASON_NODE_NAME] = others
        for i in range(total) if not self.profile.node_name else self.static_fail.keys() | self.feasible:
            rs = [self.static_fail[i]] if i in self.static_fail else cluster.dynamic_reasons(i, self.profile)
            for r in rs:
                reasons[r] = reasons.get(r, 0) + 1
        return unschedulable_message(reasons, total)


# --------------------------------------------------------------------------- entry point


def schedule(
    pods: Sequence[SchedPod],
    nodes: Sequence[Node],
    existing: Sequence[tuple[SchedPod, str]] = (),
) -> ScheduleResult:
    """Place ``pods`` (in order) on ``nodes``, given ``existing`` (pod, node) placements."""
    cluster = _Cluster(nodes)
    for pod, node_name in existing:
        i = cluster.index.get(node_name)
        if i is not None:
            cluster.add(i, pod)
    classes: dict[tuple[SchedProfile, str], _Class] = {}
    placements: dict[tuple[str, str], str] = {}
    failed: dict[tuple[str, str], _Class] = {}
    for pod in pods:
        ck = (pod.profile, pod.owner)
        cls = classes.get(ck)
        if cls is None:
            cls = classes[ck] = _Class(cluster, pod.profile, pod.owner)
        i = cls.pick(cluster)
        if i is None:
            failed[pod.key] = cls
            continue
        cluster.add(i, pod)
        cls.placed(cluster, i)
        placements[pod.key] = cluster.nodes[i].name
    messages: dict[int, str] = {}
    unschedulable = {}
    for key, cls in failed.items():
        if id(cls) not in messages:
            messages[id(cls)] = cls.message(cluster)
        unschedulable[key] = messages[id(cls)]
    return ScheduleResult(placements, unschedulable)
