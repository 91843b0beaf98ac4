"""conntrack argv builders for UDP services (pure; docs/k8s-reference.md §1.9).

UDP has no connection close: after an endpoint goes away, conntrack keeps sending a client's
"flow" to the dead IP until the entry times out. kube-proxy deletes those entries; so does kcli,
on every node whose rules changed. ``conntrack -D`` exits 1 when nothing matched, so callers
accept ``OK_EXIT_CODES``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from kcli.core.services import Endpoint, ServiceSpec, ready_endpoints

OK_EXIT_CODES = (0, 1)

Argv = tuple[str, ...]


def clear_service_ip(service_ip: str) -> Argv:
    """Every UDP flow to a ClusterIP (it went from no endpoints to some)."""
    return ("conntrack", "-D", "-p", "udp", "--orig-dst", service_ip)


def clear_endpoint(service_ip: str, endpoint_ip: str) -> Argv:
    """UDP flows to a ClusterIP that were DNATed to one (now gone) endpoint."""
    return ("conntrack", "-D", "-p", "udp", "--orig-dst", service_ip, "--dst-nat", endpoint_ip)


def clear_node_port(node_port: int) -> Argv:
    """Every UDP flow to a NodePort."""
    return ("conntrack", "-D", "-p", "udp", "--dport", str(node_port))


def clear_node_port_endpoint(node_port: int, endpoint_ip: str) -> Argv:
    """UDP flows to a NodePort that were DNATed to one (now gone) endpoint."""
    return ("conntrack", "-D", "-p", "udp", "--dport", str(node_port), "--dst-nat", endpoint_ip)


def udp_conntrack_cleanup(
    services: Iterable[ServiceSpec],
    old_endpoints: Mapping[str, Sequence[Endpoint]],
    new_endpoints: Mapping[str, Sequence[Endpoint]],
) -> tuple[Argv, ...]:
    """The conntrack deletions due after endpoints changed from ``old`` to ``new``.

    ``services`` should include deleted ones (their endpoints are simply absent from ``new``).
    For each UDP service port: a ready endpoint that disappeared has its DNATed flows cleared;
    a port that had no ready endpoint and now has one has all its flows cleared (entries made
    while it was REJECTing). Deterministic order, no duplicates.
    """
    out: dict[Argv, None] = {}
    for svc in sorted(services, key=lambda s: s.key):
        if svc.headless or not svc.cluster_ip:
            continue
        for sp in svc.ports:
            if sp.protocol != "UDP":
                continue
            old = {e.ip for e in ready_endpoints(old_endpoints.get(svc.key, ()), sp)}
            new = {e.ip for e in ready_endpoints(new_endpoints.get(svc.key, ()), sp)}
            if new and not old:
                out[clear_service_ip(svc.cluster_ip)] = None
                if sp.node_port:
                    out[clear_node_port(sp.node_port)] = None
            for ip in sorted(old - new):
                out[clear_endpoint(svc.cluster_ip, ip)] = None
                if sp.node_port:
                    out[clear_node_port_endpoint(sp.node_port, ip)] = None
    return tuple(out)
