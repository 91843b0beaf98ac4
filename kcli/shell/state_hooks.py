"""Overlay checks for `get nodes` / `describe node`, from the bootstrap state (none before bootstrap)."""

from __future__ import annotations

from datetime import datetime

from kcli.core.bootstrap import overlay_drift
from kcli.core.facts.host import overlay_snippets, parse_host_facts
from kcli.core.nodes import Condition
from kcli.core.state import leases_of, network_of
from kcli.shell.statestore import StateStore


def node_extras(inv, hosts, store: StateStore):
    """Return (per-host extra snippets, finish(host, sections) → (joined_at, extra conditions)),
    from the state as ``store`` has it parsed (read only)."""
    state = store.peek()
    net = network_of(state)
    leases = leases_of(state)
    nodes = state.get("nodes") or {}
    extra = {h.name: overlay_snippets(leases[h.name].public_ip) for h in hosts if net and h.name in leases}

    def finish(host, sections):
        joined = nodes.get(host.name, {}).get("joinedAt")
        joined_at = datetime.fromisoformat(joined).timestamp() if joined else None
        if net is None or sections is None:
            return joined_at, ()
        if host.name not in leases:
            return joined_at, (
                Condition(
                    "NetworkUnavailable",
                    "True",
                    "NotBootstrapped",
                    "node is not part of the overlay yet: run kcli bootstrap",
                ),
            )
        f = parse_host_facts(sections)
        peers = {n: lease for n, lease in leases.items() if n != host.name}
        drift = overlay_drift(host.name, f, net, leases[host.name], peers)
        if drift:
            msg = "; ".join(f"{s.name}: {s.detail}" for s in drift)
            return joined_at, (Condition("NetworkUnavailable", "True", "OverlayDrift", f"{msg} (run kcli bootstrap)"),)
        return joined_at, (
            Condition(
                "NetworkUnavailable",
                "False",
                "OverlayReady",
                f"{net.backend} overlay matches the state ({leases[host.name].subnet})",
            ),
        )

    return extra, finish
