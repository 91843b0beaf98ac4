"""`kcli apply`: validate → lock → observe (1 round trip per node) → plan → one script per node →
observe → record state (one commit). `--dry-run` stops after the plan and takes no lock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
import time
from datetime import datetime, timezone

from kcli.core.commands.batch import Unit
from kcli.core.controllers import PodAction, PodPlan, plan_pods
from kcli.core.facts.pods import unknown_pods
from kcli.core.hostalloc import held_allocations
from kcli.core.inventory import Inventory
from kcli.core.lock import lock_host
from kcli.core.network import NodeLease
from kcli.core.objects import AnyObject, ConfigMap, Namespace, ObjectKey, Secret, Service
from kcli.core.podrun import PodPlacement, create_pod_lines, delete_pod_lines, pod_uid
from kcli.core.secretkey import SECRET_KEY_FILE, SECTION as KEY_SECTION, SNIPPET as KEY_SNIPPET, parse_key
from kcli.core.servicesync import (
    allocate, dns_args, dns_container_lines, dns_hosts, endpoints_by_service, endpoints_from_record, endpoints_record,
    hairpin_line, node_rules, pod_infos, rules_lines, service_env, udp_cleanup_lines, DNS_FILE,
)
from kcli.core.commands.shell import write_file
from kcli.core.state import leases_of, network_of
from kcli.core.workloads import (
    add_events, allocate_pod_ips, cascade, failure_record, forget_objects, in_backoff, object_id, record_objects, record_pods,
    redacted_manifest, state_objects,
)
from kcli.errors import ExecutionError, ManifestError, PlanError
from kcli.shell.clusterview import VIEW_SNIPPETS, ClusterView, merged, observe_cluster, scheduler_nodes, view_from_sections
from kcli.shell.executor import run_batches, unit_errors
from kcli.shell.failpoint import failpoint
from kcli.shell.lock import ClusterLock
from kcli.shell.statestore import StateStore
from kcli.shell.transport import SshPool

Log = Callable[[str], None]


@dataclass
class ApplyReport:
    object_results: list[tuple[str, str]] = field(default_factory=list)  # (ref, created|configured|unchanged|deleted)
    plan: PodPlan | None = None
    pod_results: dict[str, tuple[str, str]] = field(default_factory=dict)  # "create ns/name" → (ok|failed, err)
    after: ClusterView | None = None
    commit: str | None = None
    dry_run: bool = False
    stats: dict = field(default_factory=dict)
    pruned: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    service_nodes: list[str] = field(default_factory=list)
    backing_off: dict = field(default_factory=dict)  # (ns, pod) → failure record: creation waits for its back-off
    unreachable: dict[str, str] = field(default_factory=dict)  # node → why: NotReady, its pods Unknown
    deferred: list[str] = field(default_factory=list)  # deletes that wait for their node to come back

    @property
    def changes(self) -> int:
        if self.plan is None:
            return 0
        return len(self.plan.deletes) + len(self.plan.creates)

    @property
    def failed(self) -> list[str]:
        return [k for k, (s, _) in self.pod_results.items() if s != "ok"]

    @property
    def failed_pods(self) -> list[str]:
        """Pod creations that failed on their node (the pod stays visible, retried with back-off)."""
        return [k for k in self.failed if k.startswith("create ")]

    @property
    def failed_other(self) -> list[str]:
        return [k for k in self.failed if not k.startswith("create ")]


def require_bootstrapped(state: dict, cluster: str) -> dict[str, NodeLease]:
    if network_of(state) is None or not leases_of(state):
        raise PlanError(f"cluster {cluster} is not bootstrapped: run `kcli bootstrap` first")
    return leases_of(state)


def check_namespaces(objects: Sequence[AnyObject], known: set[str]) -> None:
    names = known | {o.name for o in objects if isinstance(o, Namespace)} | {"default", "kube-system", "kube-public"}
    missing = sorted({o.namespace for o in objects if o.namespaced and o.namespace not in names})
    if missing:
        raise ManifestError(f'namespaces "{missing[0]}" not found', details=[f"create Namespace {n} first (or in the same apply)" for n in missing])


def desired_set(state: dict, manifest_objects: Sequence[AnyObject], applyset: str, prune: bool
                ) -> tuple[list[AnyObject], dict[ObjectKey, str], list[ObjectKey]]:
    """(objects the cluster should run, content hashes of Secrets known only from state, pruned keys)."""
    old, secret_hashes, applysets = state_objects(state)
    mine = {o.key for o in manifest_objects}
    pruned: list[ObjectKey] = []
    if prune:
        pruned = sorted((k for k, s in applysets.items() if s == applyset and k not in mine), key=object_id)
    keep = [o for o in old if o.key not in mine and o.key not in pruned]
    secret_hashes = {k: v for k, v in secret_hashes.items() if k not in mine and k not in pruned}
    return [*keep, *manifest_objects], secret_hashes, pruned


def config_store(objects: Sequence[AnyObject]) -> dict[ObjectKey, ConfigMap | Secret]:
    return {o.key: o for o in objects if isinstance(o, (ConfigMap, Secret))}


def plan_scripts(plan: PodPlan, objects: Sequence[AnyObject], view: ClusterView, leases: dict[str, NodeLease],
                 inv: Inventory, specs: Sequence = ()) -> dict[str, list[Unit]]:
    """Per node: delete units, then create units (pod IPs allocated here)."""
    units: dict[str, list[Unit]] = {}
    by_key = {(p.namespace, p.name): p for p in view.all_pods()}
    deleted_uids = set()
    for a in plan.deletes:
        obs = a.observed
        pv = by_key.get(obs.key) if obs else None
        if pv is None:
            continue
        deleted_uids.add(pv.uid)
        units.setdefault(pv.node, []).append(Unit(f"delete {a.namespace}/{a.name}", tuple(delete_pod_lines(pv.uid))))
    wanted: dict[str, list[tuple[str, str]]] = {}
    for a, node in plan.creates:
        wanted.setdefault(node, []).append((a.namespace, a.name))
    deleted_ips = {p.ip for p in view.all_pods() if p.uid in deleted_uids}
    used = {n: (view.used_ips.get(n, set()) | {p.ip for p in pods}) - deleted_ips for n, pods in view.pods.items()}
    ips = allocate_pod_ips(wanted, used, leases)
    configs = config_store(objects)
    for a, node in plan.creates:
        assert a.pod is not None
        pod = a.pod
        ip = "" if pod.spec.host_network else ips[(a.namespace, a.name)]
        place = PodPlacement(node, ip or leases[node].public_ip, leases[node].public_ip)
        dns = [] if pod.spec.host_network or pod.spec.dns_policy not in ("ClusterFirst", "ClusterFirstWithHostNet") else dns_args(a.namespace, leases[node].subnet)
        env = service_env(specs, a.namespace) if pod.spec.enable_service_links else []
        lines = create_pod_lines(pod, place, configs, dns_args=dns, service_env=env)
        units.setdefault(node, []).append(Unit(f"create {a.namespace}/{a.name}", tuple(lines), tuple(delete_pod_lines(pod_uid(pod)))))
    return units


def object_results(state: dict, manifest_objects: Sequence[AnyObject], pruned: Sequence[ObjectKey],
                   secret_key: bytes) -> list[tuple[str, str]]:
    recorded = state.get("objects") or {}
    out = []
    for o in manifest_objects:
        rec = recorded.get(object_id(o.key))
        if rec is None:
            out.append((o.ref, "created"))
        elif rec.get("lastApplied") != redacted_manifest(o) or (isinstance(o, Secret) and rec.get("contentHash") != o.content_hash(secret_key)):
            out.append((o.ref, "configured"))
        else:
            out.append((o.ref, "unchanged"))
    out += [(f"{k.kind.lower()}/{k.name}", "pruned") for k in pruned]
    return out


def apply(
    inv: Inventory,
    store: StateStore,
    manifest_objects: Sequence[AnyObject],
    *,
    applyset: str,
    dry_run: bool = False,
    prune: bool = False,
    lock_wait: float = 0.0,
    log: Log = lambda _m: None,
    parallel: int = 32,
    delete_keys: Sequence[ObjectKey] = (),
) -> ApplyReport:
    """Make the hosts run ``manifest_objects`` (plus everything applied earlier); ``delete_keys``
    removes objects instead (kcli delete). Every write carries the lock's fence."""
    state = store.load()
    leases = require_bootstrapped(state, inv.cluster)
    known_ns = {o.name for o in state_objects(state)[0] if isinstance(o, Namespace)}
    check_namespaces(manifest_objects, known_ns)
    objects, secret_hashes, pruned = desired_set(state, manifest_objects, applyset, prune)
    gone = cascade(set(pruned) | set(delete_keys), [o.key for o in objects] + list(secret_hashes))
    secret_hashes = {k: v for k, v in secret_hashes.items() if k not in gone}
    objects = [o for o in objects if o.key not in gone]
    report = ApplyReport(dry_run=dry_run)
    report.pruned = [object_id(k) for k in pruned]
    lock_node = lock_host(inv).name
    with SshPool(inv) as pool:
        lock = None if dry_run else ClusterLock(pool, "apply", wait=lock_wait)
        if lock is not None:
            lock.__enter__()
        try:
            fence = lock.fence if lock is not None else None
            view, raw = observe_cluster(pool, inv, {lock_node: {KEY_SECTION: KEY_SNIPPET}}, fence=fence, lock_node=lock_node)
            if lock_node in view.errors:
                raise ExecutionError(f"cannot read the lock node {lock_node}; nothing was changed",
                                     details=[f"{lock_node}: {view.errors[lock_node]}"])
            report.unreachable = dict(view.errors)
            add_unknown_pods(view, state.get("pods") or {})
            secret_key = parse_key((raw.get(lock_node) or {}).get(KEY_SECTION))
            if not secret_key:
                raise ExecutionError(f"cannot read the cluster's secret key on {lock_node} ({SECRET_KEY_FILE})")
            report.object_results = object_results(state, manifest_objects, pruned, secret_key) + [
                (f"{k.kind.lower()}/{k.name}", "deleted") for k in delete_keys]
            observed = [p.observed for p in view.all_pods()]
            nodes = scheduler_nodes(inv, view, leases)
            net = network_of(state)
            specs, svc_record, svc_warnings = allocate([o for o in objects if isinstance(o, Service)],
                                                       state.get("services") or {}, net.service_cidr,
                                                       held_allocations(view.iptables.values()))
            report.warnings += svc_warnings
            plan = plan_pods(objects, observed, nodes, known_configs=secret_hashes, seed=inv.cluster, secret_key=secret_key)
            plan = _with_orphan_deletes(plan, gone)
            plan, report.deferred = _without_unreachable(plan, set(report.unreachable))
            now = time.time()
            plan, backing_off = _without_backoff(plan, state.get("pods") or {}, now)
            report.plan = plan
            report.backing_off = backing_off
            if dry_run:
                report.after = view
                eps = endpoints_by_service(specs, pod_infos(view.all_pods()))
                report.service_nodes = sorted(service_scripts(specs, eps, view, leases, net.pod_cidr, {}, set()))
                report.stats = pool.stats()
                return report
            assert lock is not None and fence is not None
            units = plan_scripts(plan, objects, view, leases, inv, specs)
            if units:
                log(f"applying {report.changes} pod change(s) on {len(units)} node(s)")
            failpoint("before-execute")
            done = run_batches(pool, list(inv.hosts), units, fence=fence, lock_node=lock_node,
                               observe={n: VIEW_SNIPPETS for n in units}, timeout=900, parallel=parallel)
            for h in inv.hosts:
                if h.name in units:
                    errs = unit_errors(units[h.name], done.values.get(h.name), done.errors.get(h.name))
                    for u in units[h.name]:
                        report.pod_results[u.name] = ("failed", errs[u.name]) if u.name in errs else ("ok", "")
            after = merged(view, view_from_sections({n: r.sections for n, r in done.values.items()}))
            report.after = after
            eps = endpoints_by_service(specs, pod_infos(after.all_pods()))
            sync = service_scripts(specs, eps, after, leases, net.pod_cidr,
                                   endpoints_from_record(state.get("endpoints") or {}), set(units))
            report.service_nodes = sorted(sync)
            svc_units = {n: [Unit("services", tuple(lines), stop=True)] for n, lines in sync.items()}
            svc_done = run_batches(pool, list(inv.hosts), svc_units, fence=fence, lock_node=lock_node, timeout=120,
                                   parallel=parallel)
            for h in inv.hosts:
                if h.name in svc_units:
                    for name, err in unit_errors(svc_units[h.name], svc_done.values.get(h.name), svc_done.errors.get(h.name)).items():
                        report.pod_results[f"{name} {h.name}"] = ("failed", err)
            report.stats = pool.stats()
            new_state = forget_objects(record_objects(state, manifest_objects, applyset, _now(), secret_key), gone)
            pending = {(a.namespace, a.name): (str(a.applied), reason) for a, reason in plan.pending}
            failed = _failures(plan, report.pod_results, state.get("pods") or {}, now)
            failed.update(backing_off)
            new_state = record_pods(new_state, after.all_pods(), pending, failed)
            new_state["services"] = svc_record
            new_state["endpoints"] = endpoints_record(specs, eps)
            if not svc_record:
                new_state.pop("services")
                new_state.pop("endpoints")
            new_state = add_events(new_state, _events(plan, state, failed, backing_off))
            changed = [f"{ref} {what}" for ref, what in report.object_results if what != "unchanged"]
            subject = f"apply: {', '.join(changed[:4]) or 'pods reconciled'}" + (f" (+{len(changed) - 4})" if len(changed) > 4 else "")
            body = "\n".join([*(a.describe() for a in plan.deletes), *(f"{a.describe()} on {n}" for a, n in plan.creates)])
            lock.ensure_held()
            report.commit = store.save(new_state, subject + ("\n\n" + body if body else ""))
            return report
        finally:
            if lock is not None:
                lock.__exit__(None, None, None)


def add_unknown_pods(view: ClusterView, records: dict) -> None:
    """Pods the state records on nodes that could not be read, as kubectl's Unknown."""
    for node in view.errors:
        view.pods[node] = unknown_pods(node, records)


def _without_unreachable(plan: PodPlan, unreachable: set[str]) -> tuple[PodPlan, list[str]]:
    """Deletes on nodes that cannot be reached wait for them (nothing is scheduled there anyway)."""
    keep = tuple(a for a in plan.deletes if a.observed is None or a.observed.node not in unreachable)
    if len(keep) == len(plan.deletes):
        return plan, []
    deferred = [f"{a.namespace}/{a.name} on {a.observed.node}" for a in plan.deletes if a not in keep and a.observed]
    return PodPlan(plan.reconciliation, keep, plan.creates, plan.pending, plan.placements), deferred


def _without_backoff(plan: PodPlan, recorded: dict, now: float) -> tuple[PodPlan, dict[tuple[str, str], dict]]:
    """Creates of pods whose last creation failed wait for their back-off; they stay recorded."""
    keep, waiting = [], {}
    for a, node in plan.creates:
        rec = recorded.get(f"{a.namespace}/{a.name}")
        if a.pod is not None and in_backoff(rec, a.pod.spec_hash, now):
            waiting[(a.namespace, a.name)] = dict(rec)
        else:
            keep.append((a, node))
    if not waiting:
        return plan, {}
    return PodPlan(plan.reconciliation, plan.deletes, tuple(keep), plan.pending, plan.placements), waiting


def _failures(plan: PodPlan, results: dict[str, tuple[str, str]], recorded: dict, now: float) -> dict[tuple[str, str], dict]:
    out = {}
    for a, node in plan.creates:
        status, err = results.get(f"create {a.namespace}/{a.name}", ("ok", ""))
        if status != "ok" and a.pod is not None:
            out[(a.namespace, a.name)] = failure_record(recorded.get(f"{a.namespace}/{a.name}"), node, str(a.applied),
                                                        a.pod.spec_hash, err, now)
    return out


def _events(plan: PodPlan, state: dict, failed: dict, backing_off: dict) -> list[dict]:
    now = _now()
    events = [
        {"time": now, "object": str(a.applied), "reason": "Killing" if a.verb == "delete" else "Scheduled",
         "message": a.describe()}
        for a in plan.deletes
    ] + [{"time": now, "object": str(a.applied), "reason": "Scheduled", "message": f"{a.describe()} → {node}"}
         for a, node in plan.creates]
    events += [{"time": now, "object": str(a.applied), "reason": "FailedScheduling", "message": f"{a.namespace}/{a.name}: {r}"}
               for a, r in plan.pending if f"{a.namespace}/{a.name}" not in (state.get("pods") or {})]
    events += [{"time": now, "object": f["applied"], "reason": f["reason"], "message": f"{ns}/{name}: {f['message']}"}
               for (ns, name), f in failed.items() if (ns, name) not in backing_off]
    return events


def _with_orphan_deletes(plan: PodPlan, gone: set[ObjectKey]) -> PodPlan:
    """Pods of deleted/pruned objects are orphans now: delete them too."""
    gone_refs = {(k.namespace, f"{k.kind}/{k.name}") for k in gone}
    extra = tuple(
        PodAction("delete", p.namespace, p.name, f"{p.applied} was deleted", p.applied, observed=p)
        for p in plan.reconciliation.orphans
        if p.applied is not None and (p.namespace, str(p.applied)) in gone_refs
    )
    if not extra:
        return plan
    return PodPlan(plan.reconciliation, plan.deletes + extra, plan.creates, plan.pending, plan.placements)


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def service_scripts(specs, eps, view: ClusterView, leases, pod_cidr: str, old_eps, pod_nodes: set[str]) -> dict[str, list[str]]:
    """Per node, only where something differs: kube-proxy rules, DNS records, the DNS server,
    hairpin on new pods' ports, UDP conntrack cleanup. Nothing for a node already in sync."""
    hosts_text = dns_hosts(specs, eps)
    cleanup = udp_cleanup_lines(specs, old_eps, eps)
    out: dict[str, list[str]] = {}
    for node, lease in leases.items():
        if node not in view.facts:
            continue
        lines: list[str] = []
        rules = node_rules(specs, eps, pod_cidr, view.iptables.get(node, ""))
        if rules.drift:
            lines += rules_lines(rules) + cleanup
        if (view.dns_file.get(node) or "").strip() != hosts_text.strip():
            lines.append(write_file(DNS_FILE, hosts_text))
        if not view.dns_running.get(node):
            lines += ["docker rm -f kcli-dns >/dev/null 2>&1 || true", *dns_container_lines(lease.subnet)]
        if lines or node in pod_nodes:
            lines.append(hairpin_line())
        if lines:
            out[node] = lines
    return out
