"""Pod data shared by the controllers (desired, observed, actions), naming, ranking, bare Pods.

Observed pod states (the shell derives them from docker):
* ``running``: the app containers are up; ``restarting``: docker is restarting one (crash loop);
* ``created``: containers exist but have not started;
* ``exited``: every app container has exited and docker will not restart them (``exit_code``:
  the first non-zero exit code, else 0);
* ``broken``: part of the pod is gone (sandbox or a container removed, or stopped by hand);
  ``detail`` says what. kcli replaces broken pods.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kcli.core.objects import (
    SAFE_ALPHABET,
    ObjectKey,
    Pod,
    PodSpec,
    PodTemplate,
    referenced_configs,
    spec_hash,
)
from kcli.core.scheduler import HostPort

STATES = ("running", "restarting", "created", "exited", "broken")


@dataclass(frozen=True, order=True)
class OwnerRef:
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class DesiredPod:
    """A pod that should exist. ``owner`` is its direct controller (None for a bare Pod);
    ``applied`` is the applied object it comes from (Deployment/web, DaemonSet/x, Pod/x, ...)."""

    namespace: str
    name: str
    labels: Mapping[str, str]
    template: PodTemplate
    spec_hash: str
    applied: OwnerRef
    owner: OwnerRef | None = None
    node_name: str = ""  # pinned (DaemonSet pods, spec.nodeName)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def spec(self) -> PodSpec:
        return self.template.spec

    @property
    def annotations(self) -> Mapping[str, str]:
        return self.template.annotations

    def manifest(self) -> dict[str, Any]:
        """Kubernetes-shaped Pod (for ``-o yaml`` and the state record)."""
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace, "labels": dict(self.labels)}
        if self.annotations:
            meta["annotations"] = dict(self.annotations)
        if self.owner:
            api = {"ReplicaSet": "apps/v1", "DaemonSet": "apps/v1", "Job": "batch/v1"}.get(self.owner.kind, "v1")
            meta["ownerReferences"] = [
                {
                    "apiVersion": api,
                    "kind": self.owner.kind,
                    "name": self.owner.name,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
        spec = dict(self.template.manifest)
        if self.node_name:
            spec["nodeName"] = self.node_name
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


@dataclass(frozen=True)
class ObservedPod:
    """A kcli pod found on a host. Requests/ports let the scheduler account for pods whose
    object is no longer in the applied set."""

    namespace: str
    name: str
    node: str
    applied: OwnerRef | None
    owner: OwnerRef | None = None
    spec_hash: str = ""
    state: str = "running"
    exit_code: int | None = None
    restart_count: int = 0
    ready: bool = True
    created_at: float = 0.0  # unix seconds, for "newest first" ranking
    detail: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    cpu_milli: int = 0
    memory: int = 0
    host_ports: tuple[HostPort, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclass(frozen=True)
class PodAction:
    """Create or delete one pod, with the reason a human reads in the plan."""

    verb: str  # "create" | "delete"
    namespace: str
    name: str
    reason: str
    applied: OwnerRef | None
    pod: DesiredPod | None = None  # create
    observed: ObservedPod | None = None  # delete

    def describe(self) -> str:
        node = self.observed.node if self.observed else (self.pod.node_name if self.pod else "")
        where = f" on {node}" if node else ""
        return f"{self.verb} pod {self.namespace}/{self.name}{where} ({self.applied}): {self.reason}"


# --------------------------------------------------------------------------- context


NameSuffix = Callable[[str, int], str]


def hashed_suffix(seed: str = "") -> NameSuffix:
    """Default 5-char suffix: sha256(seed, base, attempt) mapped into the safe alphabet."""

    def suffix(base: str, attempt: int) -> str:
        digest = hashlib.sha256(f"{seed}\x00{base}\x00{attempt}".encode()).digest()
        return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in digest[:5])

    return suffix


@dataclass
class Context:
    """Inputs every controller shares: config content hashes and a deterministic name allocator.

    ``configs`` maps ObjectKey(ConfigMap|Secret, ns, name) → content hash (objects of the applied
    set plus those known in the cluster). ``taken`` holds every pod name in use or handed out.
    """

    configs: Mapping[ObjectKey, str]
    name_suffix: NameSuffix
    taken: set[tuple[str, str]] = field(default_factory=set)
    attempts: dict[tuple[str, str], int] = field(default_factory=dict)  # next attempt per (namespace, base)
    now: float = 0.0  # the nodes' clock (unix seconds), for minReadySeconds; 0: unknown (no wait)
    draining: frozenset[str] = frozenset()  # nodes `kcli drain` empties: their pods are replaced elsewhere

    def new_name(self, namespace: str, base: str) -> str:
        """``base-xxxxx``, never colliding with an observed or already generated name."""
        attempt = self.attempts.get((namespace, base), 0)
        while True:
            name = f"{base}-{self.name_suffix(base, attempt)}"
            attempt += 1
            if (namespace, name) not in self.taken:
                self.taken.add((namespace, name))
                self.attempts[(namespace, base)] = attempt
                return name

    def config_fingerprint(self, spec: PodSpec, namespace: str) -> str:
        """Content hashes of the ConfigMaps/Secrets a pod reads (``?`` when unknown), sorted."""
        refs = sorted(referenced_configs(spec))
        return ",".join(f"{k}/{n}={self.configs.get(ObjectKey(k, namespace, n), '?')}" for k, n in refs)


def pod_spec_hash(template: PodTemplate, fingerprint: str) -> str:
    """The pod's spec hash: defaulted template + content hashes of the configs it reads."""
    return spec_hash({"template": template.data(), "configs": fingerprint})


# --------------------------------------------------------------------------- helpers


def needs_replacement(pod: ObservedPod, restart_policy: str) -> bool:
    """Broken and evicted pods, and pods stopped although their restart policy says Always."""
    return pod.state in ("broken", "evicted") or (pod.state == "exited" and restart_policy == "Always")


def failure_reason(pod: ObservedPod) -> str:
    return f"pod {pod.name} is {pod.state}" + (f": {pod.detail}" if pod.detail else "")


_STATE_RANK = {"created": 0, "restarting": 1, "exited": 1, "broken": 1, "running": 2}


def pick_victims(pods: Sequence[ObservedPod], count: int) -> list[ObservedPod]:
    """The ``count`` pods to remove when scaling down, after upstream ``getPodsToDelete``:
    not started < crash-looping < running; not ready < ready; then pods on the node holding the
    most of these pods (recounted after each pick, so the survivors stay spread); more restarts
    first; newer first; then by name. Upstream's "ready for less time" needs a clock: left out."""
    if count <= 0:
        return []
    per_node = Counter(p.node for p in pods)
    groups: dict[tuple[int, bool], list[ObservedPod]] = {}
    for p in pods:
        groups.setdefault((_STATE_RANK.get(p.state, 1), p.ready), []).append(p)
    victims: list[ObservedPod] = []
    for _, group in sorted(groups.items()):
        heap = [(-per_node[p.node], -p.restart_count, -p.created_at, p.name, i) for i, p in enumerate(group)]
        heapq.heapify(heap)
        while heap and len(victims) < count:
            neg, restarts, created, name, i = heapq.heappop(heap)
            p = group[i]
            if -neg != per_node[p.node]:  # its node lost a pod since: re-rank
                heapq.heappush(heap, (-per_node[p.node], restarts, created, name, i))
                continue
            victims.append(p)
            per_node[p.node] -= 1
    return victims


def dominant_hash(pods: Sequence[ObservedPod]) -> str:
    counts = Counter(p.spec_hash for p in pods)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if counts else ""


def delete(pod: ObservedPod, reason: str, applied: OwnerRef | None) -> PodAction:
    return PodAction("delete", pod.namespace, pod.name, reason, applied, observed=pod)


def create(pod: DesiredPod, reason: str) -> PodAction:
    return PodAction("create", pod.namespace, pod.name, reason, pod.applied, pod=pod)


@dataclass(frozen=True)
class ControllerResult:
    pods: tuple[DesiredPod, ...]  # every pod that should exist once the actions ran
    actions: tuple[PodAction, ...]
    status: Any = None


# --------------------------------------------------------------------------- bare Pods


@dataclass(frozen=True)
class PodStatus:
    phase: str  # Pending (to create), Running, Succeeded, Failed
    node: str = ""


def reconcile_pod(pod: Pod, observed: Sequence[ObservedPod], ctx: Context) -> ControllerResult:
    """A bare Pod: create it, keep it, or replace it (same name) when its spec hash changed or it
    broke. Upstream rejects most pod spec updates; kcli replaces the pod instead."""
    applied = OwnerRef("Pod", pod.name)
    template = pod.template
    shash = pod_spec_hash(template, ctx.config_fingerprint(pod.spec, pod.namespace))
    desired = DesiredPod(
        pod.namespace, pod.name, dict(pod.meta.labels), template, shash, applied, None, pod.spec.node_name
    )
    mine = [p for p in observed if p.name == pod.name]
    actions: list[PodAction] = []
    current = None
    for p in mine:
        if p.node in ctx.draining and not pod.spec.node_name:  # kcli drain --force: moved (same name)
            actions.append(delete(p, f"drain: evicted from node {p.node}", applied))
        elif current is None and p.spec_hash == shash and not needs_replacement(p, pod.spec.restart_policy):
            current = p
        elif p.spec_hash != shash:
            actions.append(delete(p, f"spec-hash {p.spec_hash}→{shash}", applied))
        else:
            actions.append(delete(p, failure_reason(p), applied))
    if current is None:
        reason = actions[0].reason if actions else "new pod"
        actions.append(create(desired, reason))
        status = PodStatus("Pending")
    else:
        phase = {"exited": "Succeeded" if current.exit_code == 0 else "Failed"}.get(current.state, "Running")
        status = PodStatus(phase, current.node)
    return ControllerResult((desired,), tuple(actions), status)
