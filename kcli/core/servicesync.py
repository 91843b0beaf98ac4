"""Services on every node (pure): allocations kept in state, endpoints from observed pods,
kube-proxy payloads and drift, the node-local DNS records, and kubelet's service env vars."""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from kcli.core import conntrack
from kcli.core.commands.shell import feed, sh
from kcli.core.facts.view_script import DNS_CONTAINER
from kcli.core.hostalloc import Held, taken_by_others
from kcli.core.iptables import (
    JUMP_RULES,
    diff_rules,
    expected_rules,
    parse_iptables_save,
    render_filter,
    render_jump_script,
    render_nat,
    restore_argv,
)
from kcli.core.network import POD_BRIDGE, gateway
from kcli.core.objects import Service
from kcli.core.services import (
    ContainerPort,
    Endpoint,
    PodInfo,
    ServicePort,
    ServiceSpec,
    allocate_cluster_ip,
    allocate_node_port,
    endpoints_by_service,
)
from kcli.errors import PlanError

if TYPE_CHECKING:
    from kcli.core.facts.pods import PodView
    from kcli.core.objects import ServicePort as ObjectPort

CLUSTER_DOMAIN = "cluster.local"
DNS_DIR = "/var/lib/kcli/dns"
DNS_FILE = f"{DNS_DIR}/cluster.hosts"
DNS_IMAGE = "kcli.local/dnsmasq:1"


_K = TypeVar("_K")


def _port_key(p: ObjectPort) -> str:
    return p.name or f"{p.port}/{p.protocol}"


def allocate(
    services: Sequence[Service],
    recorded: Mapping[str, dict[str, Any]],
    service_cidr: str,
    held: Mapping[str, Held] | None = None,
) -> tuple[list[ServiceSpec], dict[str, dict[str, Any]], list[str]]:
    """ServiceSpecs with ClusterIPs and NodePorts (kept from ``recorded``, else allocated), the new
    allocation record, and warnings (LoadBalancer treated as NodePort; ExternalName skipped).

    ``held`` (kcli.core.hostalloc) is what the hosts' rules hold per Service: addresses held for
    another Service are never handed out, and a recorded one that the hosts hold for another
    Service is a conflict (two state directories for one cluster), refused before any write."""
    warnings: list[str] = []
    held = held or {}
    taken_ips = {r["clusterIP"] for k, r in recorded.items() if r.get("clusterIP") and r["clusterIP"] != "None"}
    taken_ports = {int(p) for r in recorded.values() for p in (r.get("nodePorts") or {}).values()}
    mine = {f"{s.namespace}/{s.name}" for s in services}
    # services gone from the set release their addresses
    for key in set(recorded) - mine:
        r = recorded[key]
        taken_ips.discard(r.get("clusterIP"))
        taken_ports -= {int(p) for p in (r.get("nodePorts") or {}).values()}
    ip_holder = {ip: k for k, h in held.items() for ip in h.cluster_ips}
    port_holder = {p: k for k, h in held.items() for p in h.node_ports}

    def check_held(key: str, what: str, value: _K, holder: Mapping[_K, str]) -> None:
        other = holder.get(value)
        if other is not None and other != key and other not in mine:
            raise PlanError(
                f"service {key}: {what} {value} is already programmed on the hosts for service {other}",
                details=[
                    "another state directory may manage this cluster: pull its state (git pull) before applying",
                    "or choose another value",
                ],
            )

    # Explicitly requested addresses are kept out of dynamic allocation, so that the order in
    # which services are allocated never decides who gets them.
    requested_ips = {svc.cluster_ip for svc in services if svc.cluster_ip and not svc.headless}
    requested_ports = {p.node_port for svc in services for p in svc.ports if p.node_port}
    specs, record = [], {}
    for svc in sorted(services, key=lambda s: (s.namespace, s.name)):
        key = f"{svc.namespace}/{svc.name}"
        old = recorded.get(key) or {}
        stype = svc.type
        if stype == "LoadBalancer":
            warnings.append(f"service {key}: type LoadBalancer has no load balancer here; treated as NodePort")
            stype = "NodePort"
        if stype == "ExternalName":
            warnings.append(f"service {key}: type ExternalName is not supported; skipped")
            continue
        if svc.headless:
            ip = "None"
        elif svc.cluster_ip and svc.cluster_ip == old.get("clusterIP"):
            ip = svc.cluster_ip
        elif svc.cluster_ip:
            taken_ips.discard(old.get("clusterIP"))
            ip = allocate_cluster_ip(service_cidr, taken_ips, svc.cluster_ip)
        elif old.get("clusterIP") and old["clusterIP"] != "None":
            ip = old["clusterIP"]
        else:
            ip = allocate_cluster_ip(service_cidr, taken_ips | requested_ips | taken_by_others(held, key)[0])
        if ip != "None":
            check_held(key, "clusterIP", ip, ip_holder)
            taken_ips.add(ip)
        ports, node_ports = [], {}
        for p in svc.ports:
            np = None
            if stype == "NodePort":
                prev = (old.get("nodePorts") or {}).get(_port_key(p))
                if p.node_port and p.node_port != prev:
                    np = allocate_node_port(taken_ports, p.node_port)
                else:
                    np = prev or allocate_node_port(taken_ports | requested_ports | taken_by_others(held, key)[1])
                check_held(key, "nodePort", np, port_holder)
                taken_ports.add(np)
                node_ports[_port_key(p)] = np
            ports.append(ServicePort(p.name, p.protocol, p.port, p.target_port, np))
        specs.append(
            ServiceSpec(
                svc.namespace,
                svc.name,
                stype,
                ip,
                tuple(ports),
                tuple(svc.selector.items()),
                svc.session_affinity,
                svc.session_affinity_timeout,
            )
        )
        record[key] = {"clusterIP": ip, "type": stype, **({"nodePorts": node_ports} if node_ports else {})}
    return specs, record, warnings


def pod_infos(pod_views: Iterable[PodView]) -> list[PodInfo]:
    """Observed pods as the endpoint resolver sees them (ready = running and all containers up)."""
    out = []
    for p in pod_views:
        if not p.ip:
            continue
        ports = tuple(
            ContainerPort(int(x.get("containerPort", 0)), x.get("name", ""), x.get("protocol", "TCP")) for x in p.ports
        )
        out.append(PodInfo(p.name, p.namespace, tuple(p.labels.items()), p.ip, p.node, bool(p.observed.ready), ports))
    return out


@dataclass(frozen=True)
class NodeServices:
    nat: str
    filter: str
    drift: tuple[str, ...]


def node_rules(
    specs: Sequence[ServiceSpec], eps: Mapping[str, Sequence[Endpoint]], pod_cidr: str, iptables_save: str
) -> NodeServices:
    observed = parse_iptables_save(iptables_save)
    nat = render_nat(specs, eps, cluster_cidr=pod_cidr, existing_chains=observed.get("nat", {}).keys())
    filt = render_filter(specs, eps)
    drift = diff_rules(expected_rules([nat, filt], JUMP_RULES), observed)
    return NodeServices(nat, filt, tuple(drift))


def rules_lines(ns: NodeServices) -> list[str]:
    """Apply both tables atomically (one iptables-restore each), then ensure the jumps."""
    return [feed(ns.nat, restore_argv()), feed(ns.filter, restore_argv()), render_jump_script().replace("set -e\n", "")]


_DNS_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def dns_hosts(
    specs: Sequence[ServiceSpec],
    eps: Mapping[str, Sequence[Endpoint]],
    pod_hosts: Mapping[tuple[str, str], str] | None = None,
) -> str:
    """hosts-file records: NAME.NS.svc.cluster.local → ClusterIP; headless → every ready pod IP,
    and for a ready pod whose ``pod_hosts`` ((namespace, pod) → HOSTNAME.SUBDOMAIN) names this
    Service as its subdomain, HOSTNAME.NAME.NS.svc.cluster.local → its IP (a StatefulSet's pods).

    One record per line with nothing on it but an address and a DNS name, so no value can add a
    record: a name that is not a DNS name is an error (validation lets none through: Service
    names are DNS-1035 labels, namespaces DNS labels), an address that does not parse as one
    (read back from a node) is left out."""
    lines = ["# Written by kcli: cluster DNS records (dnsmasq --hostsdir reloads it on change)"]
    for s in specs:
        fqdn = f"{s.name}.{s.namespace}.svc.{CLUSTER_DOMAIN}"
        if len(fqdn) > 253 or not _DNS_NAME.fullmatch(fqdn):
            raise ValueError(f"service {s.key}: {fqdn!r} is not a DNS name")
        if s.headless:
            ips = sorted({e.ip for e in eps.get(s.key, ()) if e.ready})
        else:
            ips = [s.cluster_ip] if s.cluster_ip else []
        for ip in ips:
            addr = _address(ip)
            if addr is not None:
                lines.append(f"{addr} {fqdn}")
        if s.headless:
            lines += _pod_records(s, fqdn, eps.get(s.key, ()), pod_hosts or {})
    return "\n".join(lines) + "\n"


def _pod_records(
    s: ServiceSpec, fqdn: str, eps: Sequence[Endpoint], pod_hosts: Mapping[tuple[str, str], str]
) -> list[str]:
    out = {}
    for e in eps:
        host, _, sub = pod_hosts.get((s.namespace, e.pod), "").partition(".")
        addr = _address(e.ip)
        name = f"{host}.{fqdn}"
        if e.ready and sub == s.name and host and addr is not None and len(name) <= 253 and _DNS_NAME.fullmatch(name):
            out[name] = f"{addr} {name}"
    return [out[n] for n in sorted(out)]


def dns_args(namespace: str, node_subnet: str) -> list[str]:
    """Docker flags giving a pod the cluster's resolver and Kubernetes' search path (ClusterFirst)."""
    return [
        "--dns",
        gateway(node_subnet),
        "--dns-search",
        f"{namespace}.svc.{CLUSTER_DOMAIN}",
        "--dns-search",
        f"svc.{CLUSTER_DOMAIN}",
        "--dns-search",
        CLUSTER_DOMAIN,
        "--dns-option",
        "ndots:5",
    ]


def pod_dns_args(spec: Any, namespace: str, node_subnet: str) -> list[str]:
    """The pod's resolv.conf as kubelet builds it from ``dnsPolicy`` and ``dnsConfig``, as docker
    flags: ClusterFirst is the cluster's resolver and search path (``dns_args``); Default keeps
    the node's; None is ``dnsConfig`` alone. ``dnsConfig`` adds nameservers (3 at most) and
    search domains and overrides options of the same name. A host-network pod keeps the node's."""
    if spec.host_network:
        return []
    servers: list[str] = []
    searches: list[str] = []
    options: dict[str, str | None] = {}
    if spec.dns_policy in ("ClusterFirst", "ClusterFirstWithHostNet"):
        servers = [gateway(node_subnet)]
        searches = [f"{namespace}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN]
        options = {"ndots": "5"}
    cfg = spec.dns_config
    if cfg is not None:
        servers += list(cfg.nameservers)
        searches += list(cfg.searches)
        options.update(dict(cfg.options))
    out: list[str] = []
    for s in list(dict.fromkeys(servers))[:3]:
        out += ["--dns", s]
    for d in dict.fromkeys(searches):
        out += ["--dns-search", d]
    for k, v in options.items():
        out += ["--dns-option", k if v is None else f"{k}:{v}"]
    return out


def dns_container_lines(node_subnet: str) -> list[str]:
    """Start the node-local dnsmasq (host network, listening on the pod gateway) when absent."""
    gw = gateway(node_subnet)
    run = [
        "docker",
        "run",
        "-d",
        "--name",
        DNS_CONTAINER,
        "--restart",
        "always",
        "--network",
        "host",
        "--label",
        "io.kcli.managed=true",
        "--label",
        "io.kcli.system=dns",
        "-v",
        f"{DNS_DIR}:/etc/kcli-dns:ro",
        DNS_IMAGE,
        "--keep-in-foreground",
        "--no-hosts",
        "--hostsdir=/etc/kcli-dns",
        f"--listen-address={gw}",
        "--bind-dynamic",
        f"--local=/{CLUSTER_DOMAIN}/",
        "--domain-needed",
        "--cache-size=0",
        "--user=root",
        "--log-facility=-",
    ]
    return [f"{sh(('docker', 'inspect', DNS_CONTAINER))} >/dev/null 2>&1 || {sh(run)} >/dev/null"]


def env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def service_env(specs: Sequence[ServiceSpec], namespace: str) -> list[tuple[str, str]]:
    """kubelet's docker-link style variables for the services of the pod's namespace."""
    out: list[tuple[str, str]] = []
    for s in specs:
        if s.namespace != namespace or not s.cluster_ip or s.headless or not s.ports:
            continue
        n = env_name(s.name)
        first = s.ports[0]
        out += [(f"{n}_SERVICE_HOST", s.cluster_ip), (f"{n}_SERVICE_PORT", str(first.port))]
        for p in s.ports:
            if p.name:
                out.append((f"{n}_SERVICE_PORT_{env_name(p.name)}", str(p.port)))
        out.append((f"{n}_PORT", f"{first.protocol.lower()}://{s.cluster_ip}:{first.port}"))
        for p in s.ports:
            pre = f"{n}_PORT_{p.port}_{p.protocol}"
            out += [
                (pre, f"{p.protocol.lower()}://{s.cluster_ip}:{p.port}"),
                (f"{pre}_PROTO", p.protocol.lower()),
                (f"{pre}_PORT", str(p.port)),
                (f"{pre}_ADDR", s.cluster_ip),
            ]
    return out


def hairpin_line() -> str:
    """Let a pod reach itself through its service (hairpin) on every port of the pod bridge."""
    return f'for f in /sys/class/net/{POD_BRIDGE}/brif/*/hairpin_mode; do [ -e "$f" ] && echo 1 > "$f"; done; true'


def udp_cleanup_lines(
    specs: Sequence[ServiceSpec], old_eps: Mapping[str, Sequence[Endpoint]], new_eps: Mapping[str, Sequence[Endpoint]]
) -> list[str]:
    argvs = conntrack.udp_conntrack_cleanup(specs, old_eps, new_eps)
    return [f"{sh(a)} >/dev/null 2>&1 || true" for a in argvs]


def endpoints_record(
    specs: Sequence[ServiceSpec], eps: Mapping[str, Sequence[Endpoint]]
) -> dict[str, dict[str, list[str]]]:
    """Ready endpoint addresses per service and port (state; also the "old" side of UDP cleanup)."""
    out: dict[str, dict[str, list[str]]] = {}
    for s in specs:
        per = {}
        for p in s.ports:
            per[f"{p.name}/{p.protocol}"] = sorted(
                e.ip + ":" + str(e.port)
                for e in eps.get(s.key, ())
                if e.ready and e.port_name == p.name and e.protocol == p.protocol
            )
        out[s.key] = per
    return out


def endpoints_from_record(record: Mapping[str, Mapping[str, Sequence[str]]]) -> dict[str, list[Endpoint]]:
    out: dict[str, list[Endpoint]] = {}
    for key, per in record.items():
        for port_key, addrs in per.items():
            name, _, proto = port_key.rpartition("/")
            for a in addrs:
                ip, _, port = a.rpartition(":")
                out.setdefault(key, []).append(Endpoint(ip, int(port), "", "", True, name, proto))
    return out


def current_services(
    objects: Sequence[object], recorded: Mapping[str, dict[str, Any]], service_cidr: str, pod_views: Iterable[PodView]
) -> tuple[list[ServiceSpec], dict[str, tuple[Endpoint, ...]]]:
    """The services as they stand (recorded allocations) and their endpoints from observed pods."""
    specs, _, _ = allocate([o for o in objects if isinstance(o, Service)], recorded, service_cidr)
    return specs, endpoints_by_service(specs, pod_infos(pod_views))


def probe_script(specs: Sequence[ServiceSpec], eps: Mapping[str, Sequence[Endpoint]], timeout: int) -> str:
    """Inside one throwaway pod-network container: for each TCP service port, connect to the VIP;
    on failure also try one endpoint directly, so the failing hop can be named. Prints
    ``key|port|vip-result|endpoint-result|dns-result`` lines."""
    lines = []
    t = int(timeout)
    for s in specs:
        if s.headless or not s.cluster_ip:
            continue
        fqdn = f"{s.name}.{s.namespace}.svc.{CLUSTER_DOMAIN}"
        for p in s.ports:
            if p.protocol != "TCP":
                continue
            ready = [e for e in eps.get(s.key, ()) if e.ready and e.port_name == p.name]
            ep = sh(("nc", "-w", str(t), ready[0].ip, str(int(ready[0].port)))) if ready else ""
            tag = shlex.quote(f"{s.key}|{p.port}")
            vip = sh(("nc", "-w", str(t), s.cluster_ip, str(int(p.port))))
            lines.append(
                f"v=fail; {vip} </dev/null >/dev/null 2>/tmp/e && v=ok || {{ grep -q refused /tmp/e && v=refused || {{ grep -q unreachable /tmp/e && v=unreachable || v=timeout; }}; }}; "
                + (f"e=fail; {ep} </dev/null >/dev/null 2>&1 && e=ok; " if ep else "e=none; ")
                + f"d=fail; {sh(('nslookup', fqdn))} 2>/dev/null | {sh(('grep', '-q', s.cluster_ip))} && d=ok; "
                + f'echo {tag}"|$v|$e|$d"'
            )
    return "\n".join(lines) + "\n"
