"""`kcli reset NODE...|--all`: undo bootstrap on hosts, remove them from their peers and the state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kcli.core.commands.batch import Unit, steps_units
from kcli.core.commands.shell import Step
from kcli.core.facts.host import overlay_snippets, parse_host_facts
from kcli.core.inventory import Host, Inventory
from kcli.core.overlay import plan_peers
from kcli.core.reset import reset_steps
from kcli.core.state import empty_state, leases_of, network_of, without_nodes
from kcli.errors import UsageError
from kcli.shell.executor import first_failure, run_batches, unit_errors
from kcli.shell.lock import ClusterLock
from kcli.shell.observe import observe
from kcli.shell.statestore import StateStore
from kcli.shell.transport import SshPool


@dataclass
class ResetReport:
    reset: list[str] = field(default_factory=list)
    peer_steps: dict[str, Step] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    commit: str | None = None


def _host_for(inv: Inventory, state: dict, name: str) -> Host:
    try:
        return inv.host(name)
    except Exception:  # noqa: BLE001 - fall back to the address recorded at bootstrap
        rec = (state.get("nodes") or {}).get(name)
        if not rec:
            raise UsageError(f"node {name!r} is neither in the inventory nor in the state") from None
        tmpl = inv.hosts[0] if inv.hosts else Host(name=name, address=rec["publicIP"])
        return Host(
            name=name,
            address=rec["publicIP"],
            port=tmpl.port,
            user=tmpl.user,
            identity_file=tmpl.identity_file,
            sudo=tmpl.sudo,
            connect_timeout=tmpl.connect_timeout,
        )


def reset(
    inv: Inventory, store: StateStore, names: Sequence[str], all_nodes: bool, parallel: int = 32, lock_wait: float = 0.0
) -> ResetReport:
    state = store.load()
    net = network_of(state)
    leases = leases_of(state)
    if all_nodes:
        names = sorted(set(inv.names()) | set(leases))
    if not names:
        raise UsageError("name the nodes to reset, or pass --all")
    targets = [_host_for(inv, state, n) for n in names]
    tset = {h.name for h in targets}
    remaining = [h for h in inv.hosts if h.name not in tset and h.name in leases]
    report = ResetReport()
    with SshPool(inv) as pool, ClusterLock(pool, "reset", wait=lock_wait, store=store) as lock:
        from kcli.core.iptables import JUMP_RULES

        units = {
            h.name: steps_units(
                reset_steps(
                    h.name,
                    net,
                    {n: lease for n, lease in leases.items() if n != h.name},
                    extra_jumps=JUMP_RULES,
                    extra_chain_prefixes=("KUBE-",),
                )
            )
            for h in targets
        }
        res = run_batches(
            pool, targets, units, fence=lock.fence, lock_nodes=lock.held_on, timeout=300, parallel=parallel
        )
        for h in targets:
            failure = first_failure(units[h.name], res.values.get(h.name), res.errors.get(h.name))
            if failure is not None:
                report.errors[h.name] = failure
            else:
                report.reset.append(h.name)
        if net is not None and remaining:
            keep = {n: lease for n, lease in leases.items() if n not in tset or n in report.errors}
            obs = observe(
                pool,
                remaining,
                per_host={h.name: overlay_snippets(keep[h.name].public_ip) for h in remaining},
                fence=lock.fence,
                lock_nodes=lock.held_on,
            )
            peer_units: dict[str, list[Unit]] = {}
            for h in remaining:
                sections = obs.values.get(h.name)
                if sections is None:
                    report.errors[h.name] = f"removing peers: {obs.errors[h.name]}"
                    continue
                f = parse_host_facts(sections)
                step = plan_peers(
                    h.name, f, net, keep[h.name], {n: lease for n, lease in keep.items() if n != h.name}, False
                )
                report.peer_steps[h.name] = step
                if step.changed:
                    peer_units[h.name] = steps_units([step])
            peer_res = run_batches(
                pool, remaining, peer_units, fence=lock.fence, lock_nodes=lock.held_on, timeout=120, parallel=parallel
            )
            for h in remaining:
                if h.name in peer_units:
                    errs = unit_errors(peer_units[h.name], peer_res.values.get(h.name), peer_res.errors.get(h.name))
                    if errs:
                        report.errors[h.name] = "removing peers: " + "; ".join(errs.values())
        done = set(report.reset)
        if all_nodes and not report.errors:
            new_state = empty_state(inv.cluster)
        else:
            new_state = without_nodes(state, done)
        if done:
            lock.ensure_held()  # reset keeps the lock's own files (kcli.core.lock.KEPT_BY_RESET)
            report.commit = store.save(new_state, f"reset {', '.join(sorted(done))}" + (" (all)" if all_nodes else ""))
    return report
