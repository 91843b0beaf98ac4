"""`kcli apply`: validate → lock → observe (1 round trip per node) → plan → one script per node →
observe → record state (one commit). `--dry-run` stops after the plan and takes no lock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from kcli.core.controllers import PodPlan, plan_pods
from kcli.core.inventory import Host, Inventory
from kcli.core.network import NodeLease
from kcli.core.objects import AnyObject, ConfigMap, Namespace, ObjectKey, Secret
from kcli.core.podrun import PodPlacement, create_pod_lines, delete_pod_lines, pod_uid
from kcli.core.objects import Service
from kcli.core.servicesync import (
    allocate, dns_args, dns_container_lines, dns_hosts, endpoints_by_service, endpoints_from_record, endpoints_record,
    hairpin_line, node_rules, pod_infos, rules_lines, service_env, udp_cleanup_lines, DNS_FILE,
)
from kcli.core.commands.shell import RUN_STDIN_SCRIPT, write_file
from kcli.core.state import leases_of, network_of
from kcli.core.workloads import (
    add_events, allocate_pod_ips, forget_objects, object_id, parse_pod_results, record_objects, record_pods,
    redacted_manifest, render_pod_script, state_objects,
)
from kcli.errors import ManifestError, PlanError
from kcli.shell.clusterview import ClusterView, observe_cluster, scheduler_nodes
from kcli.shell.fanout import run_on_hosts
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

    @property
    def changes(self) -> int:
        if self.plan is None:
            return 0
        return len(self.plan.deletes) + len(self.plan.creates)

    @property
    def failed(self) -> list[str]:
        return [k for k, (s, _) in self.pod_results.items() if s != "ok"]


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
                 inv: Inventory, specs: Sequence = ()) -> dict[str, list[tuple[str, list[str], list[str]]]]:
    """Per node: delete units, then create units (pod IPs allocated here)."""
    units: dict[str, list[tuple[str, list[str], list[str]]]] = {}
    by_key = {(p.namespace, p.name): p for p in view.all_pods()}
    deleted_uids = set()
    for a in plan.deletes:
        obs = a.observed
        pv = by_key.get(obs.key) if obs else None
        if pv is None:
            continue
        deleted_uids.add(pv.uid)
        units.setdefault(pv.node, []).append((f"delete {a.namespace}/{a.name}", delete_pod_lines(pv.uid), []))
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
        units.setdefault(node, []).append((f"create {a.namespace}/{a.name}", lines, delete_pod_lines(pod_uid(pod))))
    return units


def object_results(state: dict, manifest_objects: Sequence[AnyObject], pruned: Sequence[ObjectKey]) -> list[tuple[str, str]]:
    recorded = state.get("objects") or {}
    out = []
    for o in manifest_objects:
        rec = recorded.get(object_id(o.key))
        if rec is None:
            out.append((o.ref, "created"))
        elif rec.get("lastApplied") != redacted_manifest(o) or (isinstance(o, Secret) and rec.get("contentHash") != o.content_hash()):
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
    removes objects instead (kcli delete)."""
    state = store.load()
    leases = require_bootstrapped(state, inv.cluster)
    known_ns = {o.name for o in state_objects(state)[0] if isinstance(o, Namespace)}
    check_namespaces(manifest_objects, known_ns)
    objects, secret_hashes, pruned = desired_set(state, manifest_objects, applyset, prune)
    gone = set(pruned) | set(delete_keys)
    objects = [o for o in objects if o.key not in gone]
    report = ApplyReport(dry_run=dry_run)
    report.object_results = object_results(state, manifest_objects, pruned) + [
        (f"{k.kind.lower()}/{k.name}", "deleted") for k in delete_keys]
    report.pruned = [object_id(k) for k in pruned]
    with SshPool(inv) as pool:
        lock = None if dry_run else ClusterLock(pool, "apply", wait=lock_wait)
        if lock is not None:
            lock.__enter__()
        try:
            view, _ = observe_cluster(pool, inv)
            view.require_all()
            observed = [p.observed for p in view.all_pods()]
            nodes = scheduler_nodes(inv, view, leases)
            net = network_of(state)
            specs, svc_record, svc_warnings = allocate([o for o in objects if isinstance(o, Service)],
                                                       state.get("services") or {}, net.service_cidr)
            report.warnings += svc_warnings
            plan = plan_pods(objects, observed, nodes, known_configs=secret_hashes, seed=inv.cluster)
            plan = _with_orphan_deletes(plan, gone)
            report.plan = plan
            if dry_run:
                report.after = view
                eps = endpoints_by_service(specs, pod_infos(view.all_pods()))
                report.service_nodes = sorted(service_scripts(specs, eps, view, leases, net.pod_cidr, {}, set()))
                report.stats = pool.stats()
                return report
            units = plan_scripts(plan, objects, view, leases, inv, specs)
            if units:
                log(f"applying {report.changes} pod change(s) on {len(units)} node(s)")

            def execute(h: Host) -> dict[str, tuple[str, str]]:
                if h.name not in units:
                    return {}
                res = pool.get(h).run(RUN_STDIN_SCRIPT, stdin=render_pod_script(units[h.name]).encode(),
                                      timeout=max(h.command_timeout, 900))
                return parse_pod_results(res.stdout)

            done = run_on_hosts(execute, [h for h in inv.hosts if h.name in units], max_workers=parallel)
            for node, results in done.values.items():
                report.pod_results.update(results)
            for node, exc in done.errors.items():
                for label, *_ in units.get(node, []):
                    report.pod_results[label] = ("failed", str(exc))
            after = view
            if units:
                after, _ = observe_cluster(pool, inv)
            report.after = after
            eps = endpoints_by_service(specs, pod_infos(after.all_pods()))
            sync = service_scripts(specs, eps, after, leases, net.pod_cidr,
                                   endpoints_from_record(state.get("endpoints") or {}), set(units))
            report.service_nodes = sorted(sync)
            svc_done = run_on_hosts(
                lambda h: pool.get(h).run(RUN_STDIN_SCRIPT, stdin=("set -e\n" + "\n".join(sync[h.name])).encode(),
                                          timeout=120, check=True),
                [h for h in inv.hosts if h.name in sync], max_workers=parallel)
            for node, exc in svc_done.errors.items():
                report.pod_results[f"services {node}"] = ("failed", str(exc))
            report.stats = pool.stats()
            new_state = forget_objects(record_objects(state, manifest_objects, applyset, _now()), gone)
            pending = {(a.namespace, a.name): (str(a.applied), reason) for a, reason in plan.pending}
            new_state = record_pods(new_state, after.all_pods(), pending)
            new_state["services"] = svc_record
            new_state["endpoints"] = endpoints_record(specs, eps)
            if not svc_record:
                new_state.pop("services")
                new_state.pop("endpoints")
            now = _now()
            events = [
                {"time": now, "object": str(a.applied), "reason": "Killing" if a.verb == "delete" else "Scheduled",
                 "message": a.describe()}
                for a in plan.deletes
            ] + [{"time": now, "object": str(a.applied), "reason": "Scheduled", "message": f"{a.describe()} → {node}"}
                 for a, node in plan.creates]
            events += [{"time": now, "object": str(a.applied), "reason": "FailedScheduling", "message": f"{a.namespace}/{a.name}: {r}"}
                       for a, r in plan.pending if f"{a.namespace}/{a.name}" not in (state.get("pods") or {})]
            new_state = add_events(new_state, events)
            changed = [f"{ref} {what}" for ref, what in report.object_results if what != "unchanged"]
            subject = f"apply: {', '.join(changed[:4]) or 'pods reconciled'}" + (f" (+{len(changed) - 4})" if len(changed) > 4 else "")
            body = "\n".join([*(a.describe() for a in plan.deletes), *(f"{a.describe()} on {n}" for a, n in plan.creates)])
            report.commit = store.save(new_state, subject + ("\n\n" + body if body else ""))
            return report
        finally:
            if lock is not None:
                lock.__exit__(None, None, None)


def _with_orphan_deletes(plan: PodPlan, gone: set[ObjectKey]) -> PodPlan:
    """Pods of deleted/pruned objects are orphans now: delete them too."""
    from kcli.core.controllers import PodAction

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
