"""`kcli bootstrap` / `kcli reset`: observe (1 round trip per host) → preflight → plan → one batched
script per host → verify → one state commit. Pure work lives in kcli.core.{preflight,bootstrap}."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kcli.core.bootstrap import overlay_drift, ping_snippet, plan_host
from kcli.core.commands.batch import steps_units
from kcli.core.commands.shell import Step
from kcli.core.eviction import stale_pods_step
from kcli.core.facts.host import host_snippets, parse_host_facts
from kcli.core.fence import Fence
from kcli.core.inventory import Host, Inventory
from kcli.core.network import ClusterNetwork, NodeLease, allocate_leases, validate_network
from kcli.core.preflight import Check, blocking, run_checks
from kcli.core.progress import Progress, ProgressEvent, no_progress
from kcli.core.state import leases_of, network_of, with_network, with_node
from kcli.errors import UsageError
from kcli.shell.executor import first_failure, run_batches
from kcli.shell.lock import ClusterLock
from kcli.shell.observe import observe
from kcli.shell.statestore import StateStore
from kcli.shell.transport import SshPool

Log = Callable[[str], None]


@dataclass
class BootstrapReport:
    checks: list[Check] = field(default_factory=list)
    steps: dict[str, list[Step]] = field(default_factory=dict)
    results: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    pings: dict[str, dict[str, str]] = field(default_factory=dict)
    drift_after: dict[str, list[str]] = field(default_factory=dict)
    commit: str | None = None
    leases: dict[str, NodeLease] = field(default_factory=dict)
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)
    blockers: list[Check] = field(default_factory=list)
    pause_loaded: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(1 for steps in self.steps.values() for s in steps if s.changed)


def resolve_ip(address: str) -> str:
    try:
        ipaddress.ip_address(address)
        return address
    except ValueError:
        try:
            return socket.gethostbyname(address)
        except OSError as exc:
            raise UsageError(f"cannot resolve host address {address}: {exc}") from exc


def choose_network(
    state: dict, inv: Inventory, pod_cidr: str | None, service_cidr: str | None, backend: str | None
) -> ClusterNetwork:
    """Flags, else the state's, else the inventory's network section, else Kubernetes defaults.
    CIDRs are fixed once recorded (like kubeadm's): changing them needs `kcli reset --all`."""
    recorded = network_of(state)
    base = recorded or ClusterNetwork(
        pod_cidr=inv.network.get("pod_cidr", ClusterNetwork.pod_cidr),
        service_cidr=inv.network.get("service_cidr", ClusterNetwork.service_cidr),
        backend=inv.network.get("backend", ClusterNetwork.backend),
    )
    net = ClusterNetwork(
        pod_cidr=pod_cidr or base.pod_cidr,
        service_cidr=service_cidr or base.service_cidr,
        backend=backend or base.backend,
    )
    errs = validate_network(net)
    if errs:
        raise UsageError(errs[0], details=errs[1:])
    if recorded and (net.pod_cidr != recorded.pod_cidr or net.service_cidr != recorded.service_cidr):
        raise UsageError(
            f"cluster {inv.cluster} already uses pod network {recorded.pod_cidr} and service network "
            f"{recorded.service_cidr}; run `kcli reset --all` before changing them"
        )
    return net


def observe_hosts(
    pool: SshPool,
    hosts: Sequence[Host],
    ips: dict[str, str],
    extra: dict[str, dict[str, str]] | None = None,
    *,
    fence: Fence | None = None,
    lock_nodes: Collection[str] = (),
):
    per_host = {h.name: {**host_snippets(ips[h.name]), **((extra or {}).get(h.name, {}))} for h in hosts}
    results = observe(pool, hosts, per_host=per_host, fence=fence, lock_nodes=lock_nodes)
    facts = {n: parse_host_facts(s) for n, s in results.values.items()}
    return facts, results


def bootstrap(
    inv: Inventory,
    store: StateStore,
    *,
    pod_cidr: str | None = None,
    service_cidr: str | None = None,
    backend: str | None = None,
    dry_run: bool = False,
    ignore: Sequence[str] = (),
    log: Log = lambda _m: None,
    parallel: int = 32,
    lock_wait: float = 0.0,
    progress: Progress = no_progress,
) -> BootstrapReport:
    """``progress`` hears each host's phase: observing, preflight, applying, images (with the
    bytes sent), verifying, and how it ended."""
    state = store.load()
    net = choose_network(state, inv, pod_cidr, service_cidr, backend)
    hosts = list(inv.hosts)
    ips = {h.name: resolve_ip(h.address) for h in hosts}
    report = BootstrapReport(dry_run=dry_run)
    existing = leases_of(state)
    for gone in sorted(set(existing) - set(ips)):
        report.warnings.append(
            f"node {gone} is in the state but not in the inventory: its peers keep routes to it; "
            f"run `kcli reset {gone}` to remove it"
        )
    with SshPool(inv) as pool, ClusterLock(pool, "bootstrap", wait=lock_wait, enabled=not dry_run, store=store) as lock:
        for h in hosts:
            progress(ProgressEvent(h.name, "observing"))
        local_before = time.time()
        facts, results = observe_hosts(pool, hosts, ips, fence=lock.fence_or_none, lock_nodes=lock.held_on)
        local_clock = (local_before + time.time()) / 2
        for h in hosts:
            peers_ip = [ips[o.name] for o in hosts if o.name != h.name]
            report.checks += run_checks(
                h.name, ips[h.name], facts.get(h.name), results.errors.get(h.name), net, peers_ip, local_clock, h.sudo
            )
        leases = allocate_leases(net, inv.cluster, ips, existing)
        report.leases = leases
        report.blockers = blocking(report.checks, ignore)
        if report.blockers:
            failed = {c.host: c.name for c in report.blockers}
            for h in hosts:
                why = f"preflight failed: {failed[h.name]}" if h.name in failed else "preflight failed on other hosts"
                progress(ProgressEvent(h.name, why, finished=True, ok=False))
            return report
        pod_records = state.get("pods") or {}
        for h in hosts:
            peers = {n: lease for n, lease in leases.items() if n != h.name}
            stale = stale_pods_step(h.name, pod_records)  # a node back from being lost: first of all
            report.steps[h.name] = [
                *([stale] if stale else []),
                *plan_host(h.name, facts[h.name], net, leases[h.name], peers),
            ]
        counts = {n: sum(1 for s in steps if s.changed) for n, steps in report.steps.items()}
        if dry_run:
            for h in hosts:
                progress(
                    ProgressEvent(
                        h.name,
                        f"would change {counts[h.name]} step(s)" if counts[h.name] else "up to date",
                        finished=True,
                    )
                )
            return report

        units = {n: steps_units(steps) for n, steps in report.steps.items() if any(s.changed for s in steps)}
        if report.changes:
            log(f"applying {report.changes} change(s) on {len(units)} host(s)")
        for h in hosts:
            progress(ProgressEvent(h.name, f"applying {counts[h.name]} change(s)" if h.name in units else "no change"))
        done = run_batches(
            pool,
            hosts,
            units,
            fence=lock.fence,
            lock_nodes=lock.held_on,
            timeout=max(max((h.command_timeout for h in hosts), default=0), 600),
            parallel=parallel,
        )
        for h in hosts:
            if h.name not in units:
                continue
            result = done.values.get(h.name)
            report.results[h.name] = (
                {u.name: ("ok" if u.ok else f"failed:{u.rc}") for u in result.units.values()} if result else {}
            )
            failure = first_failure(units[h.name], result, done.errors.get(h.name))
            if failure is not None:
                report.errors[h.name] = failure
                progress(ProgressEvent(h.name, f"failed: {failure}", finished=True, ok=False))

        # The pod sandbox image is built here and shipped, never pulled (skipped where present).
        from kcli.shell.images import load_images
        from kcli.shell.localimages import build_busybox, build_dnsmasq, build_pause

        ready = [h for h in hosts if h.name not in report.errors]
        loaded = load_images(pool, ready, [build_pause(), build_dnsmasq(), build_busybox()], progress=progress)
        report.pause_loaded = [n for n, v, _ in loaded if v is not None and v.loaded]
        report.errors.update({n: f"system images: {e}" for n, e in loaded.errors.items()})

        # Verify: re-read the network and ping every peer over the overlay (one more round trip).
        ok_hosts = [h for h in hosts if h.name not in report.errors]
        for h in ok_hosts:
            progress(ProgressEvent(h.name, "verifying the overlay"))
        pings = {
            h.name: {"ping": ping_snippet(net, {n: lease for n, lease in leases.items() if n != h.name})}
            for h in ok_hosts
        }
        after, after_res = observe_hosts(pool, ok_hosts, ips, pings, fence=lock.fence, lock_nodes=lock.held_on)
        for h in ok_hosts:
            sec = after_res.values.get(h.name, {}).get("ping")
            report.pings[h.name] = dict(
                line.split("=", 1) for line in (sec.text.splitlines() if sec else []) if "=" in line
            )
            f = after.get(h.name)
            if f is not None:
                drift = overlay_drift(
                    h.name, f, net, leases[h.name], {n: lease for n, lease in leases.items() if n != h.name}
                )
                if drift:
                    report.drift_after[h.name] = [s.detail for s in drift]
            bad = sorted(p for p, r in report.pings[h.name].items() if r != "ok")
            if bad or h.name in report.drift_after:
                why = f"overlay ping failed to {', '.join(bad)}" if bad else "still differs after apply"
                progress(ProgressEvent(h.name, why, finished=True, ok=False))
            else:
                progress(ProgressEvent(h.name, f"ready ({counts[h.name]} change(s))", finished=True))

        new_state = with_network(state, net)
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        for h in hosts:
            if h.name in report.errors:
                continue
            new_state = with_node(new_state, leases[h.name], after.get(h.name) or facts.get(h.name), now)
        joined = sorted(set(leases_of(new_state)) - set(existing))
        changed = [f"{s.host}: {s.name}: {s.detail}" for steps in report.steps.values() for s in steps if s.changed]
        subject = f"bootstrap {inv.cluster}: {report.changes} change(s)" + (
            f", joined {', '.join(joined)}" if joined else ""
        )
        lock.ensure_held()
        report.commit = store.save(new_state, subject + "\n\n" + "\n".join(changed))
    return report
