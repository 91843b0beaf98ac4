"""The flannel-compatible overlay on one node, planned from HostFacts (docs/k8s-reference.md §2, §9).

vxlan: flannel.1 (VNI 1, port 8472, nolearning, MTU uplink-50, stable MAC) with one neigh, one FDB
entry and one route per peer. host-gw: one route per peer via its address. Pods live on a docker
bridge network (``kcli-pods`` / ``cni0``) holding the node's /24, docker's masquerade off; kcli's own
chains accept forwarding for the pod network and masquerade traffic leaving it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

from kcli.core.commands.shell import Step, feed, sh, write_file
from kcli.core.facts.host import MANAGED_FILES, HostFacts
from kcli.core.iptables import diff_rules, expected_rules, parse_iptables_save
from kcli.core.network import (
    POD_BRIDGE,
    POD_NETWORK,
    VXLAN_DEV,
    VXLAN_PORT,
    VXLAN_VNI,
    ClusterNetwork,
    NodeLease,
    gateway,
    overlay_mtu,
    subnet_env,
    vtep_address,
)
from kcli.errors import PlanError

FWD_CHAIN = "KCLI-FWD"
MASQ_CHAIN = "KCLI-POSTRTG"
GUARD_CHAIN = "KCLI-SVC-GUARD"
KCLI_PREFIXES = ("KCLI-",)
OVERLAY_JUMPS = (
    ("filter", "FORWARD", ("-m", "comment", "--comment", "kcli forward", "-j", FWD_CHAIN)),
    ("nat", "POSTROUTING", ("-m", "comment", "--comment", "kcli masq", "-j", MASQ_CHAIN)),
)
# Inserted first: traffic to the service network that no service rule translated is refused here,
# instead of leaving the node towards whatever owns that range outside the cluster.
GUARD_JUMPS = (
    ("filter", "FORWARD", ("-m", "comment", "--comment", "kcli service guard", "-j", GUARD_CHAIN)),
    ("filter", "OUTPUT", ("-m", "comment", "--comment", "kcli service guard", "-j", GUARD_CHAIN)),
)


def docker_version_tuple(version: str | None) -> tuple[int, ...]:
    nums = re.findall(r"\d+", (version or "").split("+")[0].split("-")[0])
    return tuple(int(n) for n in nums[:3]) or (0,)


def pod_network_options(mtu: int, docker_version: str | None) -> dict[str, str]:
    opts = {
        "com.docker.network.bridge.name": POD_BRIDGE,
        "com.docker.network.driver.mtu": str(mtu),
        "com.docker.network.bridge.enable_ip_masquerade": "false",
    }
    if docker_version_tuple(docker_version) >= (28,):
        # Docker >= 28 drops routed traffic to container IPs (moby#49792): opt out per network.
        opts["com.docker.network.bridge.gateway_mode_ipv4"] = "nat-unprotected"
    return opts


def plan_pod_network(host: str, f: HostFacts, lease: NodeLease, mtu: int) -> Step:
    opts = pod_network_options(mtu, f.node.docker_version)
    create = [
        "docker",
        "network",
        "create",
        "--driver",
        "bridge",
        "--subnet",
        lease.subnet,
        "--gateway",
        gateway(lease.subnet),
        "--label",
        "io.kcli.managed=true",
    ]
    for k, v in sorted(opts.items()):
        create += ["-o", f"{k}={v}"]
    create.append(POD_NETWORK)
    cur = f.pod_network
    if cur is None:
        return Step(
            host, "pod-network", f"create docker network {POD_NETWORK} {lease.subnet} on {POD_BRIDGE}", (sh(create),)
        )
    ipam = (cur.get("IPAM") or {}).get("Config") or [{}]
    have = {"subnet": ipam[0].get("Subnet"), "gateway": ipam[0].get("Gateway")}
    have_opts = cur.get("Options") or {}
    diffs = []
    if have["subnet"] != lease.subnet:
        diffs.append(f"subnet {have['subnet']} → {lease.subnet}")
    if have["gateway"] != gateway(lease.subnet):
        diffs.append(f"gateway {have['gateway']} → {gateway(lease.subnet)}")
    for k, v in opts.items():
        if have_opts.get(k) != v:
            diffs.append(f"{k.rsplit('.', 1)[-1]} {have_opts.get(k)} → {v}")
    if not diffs:
        return Step(host, "pod-network", f"{POD_NETWORK} {lease.subnet} up to date")
    if cur.get("Containers"):
        raise PlanError(
            f"{host}: docker network {POD_NETWORK} differs ({'; '.join(diffs)}) but has containers; "
            f"run `kcli reset {host}` first"
        )
    return Step(
        host,
        "pod-network",
        f"recreate {POD_NETWORK}: {'; '.join(diffs)}",
        (sh(("docker", "network", "rm", POD_NETWORK)), sh(create)),
    )


def plan_vxlan_device(host: str, f: HostFacts, net: ClusterNetwork, lease: NodeLease, mtu: int) -> tuple[Step, bool]:
    """Returns the step and whether the device will be (re)created (then peers start from empty)."""
    if net.backend != "vxlan":
        if f.vxlan is not None:
            return Step(
                host,
                "vxlan-device",
                f"delete {VXLAN_DEV} (backend {net.backend})",
                (sh(("ip", "link", "del", VXLAN_DEV)),),
            ), True
        return Step(host, "vxlan-device", f"not used (backend {net.backend})"), False
    if f.uplink_dev is None:
        raise PlanError(f"{host}: no interface holds {lease.public_ip}; cannot place {VXLAN_DEV}")
    addr = f"{vtep_address(lease.subnet)}/32"
    create = (
        sh(
            (
                "ip",
                "link",
                "add",
                VXLAN_DEV,
                "type",
                "vxlan",
                "id",
                str(VXLAN_VNI),
                "local",
                lease.public_ip,
                "dev",
                f.uplink_dev,
                "dstport",
                str(VXLAN_PORT),
                "nolearning",
            )
        ),
        sh(("ip", "link", "set", VXLAN_DEV, "address", lease.vtep_mac, "mtu", str(mtu))),
        sh(("ip", "addr", "add", addr, "dev", VXLAN_DEV)),
        sh(("ip", "link", "set", VXLAN_DEV, "up")),
    )
    vx = f.vxlan
    if vx is None:
        return Step(
            host,
            "vxlan-device",
            f"create {VXLAN_DEV} vni {VXLAN_VNI} local {lease.public_ip} dev {f.uplink_dev} mtu {mtu}",
            create,
        ), True
    info = vx.get("linkinfo") or {}
    data = info.get("info_data") or {}
    wrong = []
    if info.get("info_kind") != "vxlan":
        wrong.append(f"kind {info.get('info_kind')}")
    for key, want in (
        ("id", VXLAN_VNI),
        ("local", lease.public_ip),
        ("port", VXLAN_PORT),
        ("link", f.uplink_dev),
        ("learning", False),
    ):
        if data.get(key) != want:
            wrong.append(f"{key} {data.get(key)} → {want}")
    if wrong:
        return Step(
            host,
            "vxlan-device",
            f"recreate {VXLAN_DEV}: {'; '.join(wrong)}",
            (sh(("ip", "link", "del", VXLAN_DEV)), *create),
        ), True
    lines, why = [], []
    if vx.get("address") != lease.vtep_mac or vx.get("mtu") != mtu:
        lines.append(sh(("ip", "link", "set", VXLAN_DEV, "address", lease.vtep_mac, "mtu", str(mtu))))
        why.append(f"mac/mtu {vx.get('address')}/{vx.get('mtu')} → {lease.vtep_mac}/{mtu}")
    for a in f.vxlan_addrs:
        if a != addr:
            lines.append(sh(("ip", "addr", "del", a, "dev", VXLAN_DEV)))
            why.append(f"remove address {a}")
    if addr not in f.vxlan_addrs:
        lines.append(sh(("ip", "addr", "add", addr, "dev", VXLAN_DEV)))
        why.append(f"add address {addr}")
    if "UP" not in (vx.get("flags") or []):
        lines.append(sh(("ip", "link", "set", VXLAN_DEV, "up")))
        why.append("set up")
    if not lines:
        return Step(host, "vxlan-device", f"{VXLAN_DEV} up to date ({lease.vtep_mac}, mtu {mtu})"), False
    return Step(host, "vxlan-device", "; ".join(why), tuple(lines)), False


def _in(cidr: str, addr_or_net: str) -> bool:
    try:
        inner, outer = ipaddress.ip_network(addr_or_net, strict=False), ipaddress.ip_network(cidr)
    except (ValueError, TypeError):
        return False
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False  # one address family in the other


def _by_dst(entries: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``ip -j`` route or neighbour objects by their ``dst`` (one without a ``dst`` is left out)."""
    return {e["dst"]: e for e in entries if isinstance(e.get("dst"), str)}


def _fdb_entries(entries: Iterable[dict[str, Any]]) -> set[tuple[str, str]]:
    """``bridge -j fdb`` objects as (mac, dst) pairs (one without a ``mac`` or ``dst`` is left out)."""
    return {
        (e["mac"], e["dst"])
        for e in entries
        if isinstance(e.get("mac"), str) and isinstance(e.get("dst"), str) and e["dst"]
    }


def plan_peers(
    host: str, f: HostFacts, net: ClusterNetwork, lease: NodeLease, peers: Mapping[str, NodeLease], fresh_device: bool
) -> Step:
    lines: list[str] = []
    why: list[str] = []
    routes = [r for r in f.routes if r.get("dst") != "default"]
    if net.backend == "vxlan":
        neigh = {} if fresh_device else _by_dst(f.neigh)
        fdb = set() if fresh_device else _fdb_entries(f.fdb)
        vroutes = {} if fresh_device else _by_dst(r for r in routes if r.get("dev") == VXLAN_DEV)
        want_neigh: dict[str, str] = {}
        want_fdb: set[tuple[str, str]] = set()
        want_routes: dict[str, str] = {}
        for name in sorted(peers):
            p = peers[name]
            gw = vtep_address(p.subnet)
            want_neigh[gw] = p.vtep_mac
            want_fdb.add((p.vtep_mac, p.public_ip))
            want_routes[p.subnet] = gw
            n = neigh.get(gw)
            if n is None or n.get("lladdr") != p.vtep_mac or "PERMANENT" not in (n.get("state") or []):
                lines.append(
                    sh(("ip", "neigh", "replace", gw, "lladdr", p.vtep_mac, "dev", VXLAN_DEV, "nud", "permanent"))
                )
                why.append(f"neigh {name}")
            if (p.vtep_mac, p.public_ip) not in fdb:
                lines.append(
                    sh(
                        (
                            "bridge",
                            "fdb",
                            "replace",
                            p.vtep_mac,
                            "dev",
                            VXLAN_DEV,
                            "dst",
                            p.public_ip,
                            "self",
                            "permanent",
                        )
                    )
                )
                why.append(f"fdb {name}")
            r = vroutes.get(p.subnet)
            if r is None or r.get("gateway") != gw or "onlink" not in (r.get("flags") or []):
                lines.append(sh(("ip", "route", "replace", p.subnet, "via", gw, "dev", VXLAN_DEV, "onlink")))
                why.append(f"route {p.subnet} ({name})")
        for dst in sorted(set(vroutes) - set(want_routes)):
            lines.append(sh(("ip", "route", "del", dst, "dev", VXLAN_DEV)))
            why.append(f"remove route {dst}")
        for dst in sorted(set(neigh) - set(want_neigh)):
            if dst and _in(net.pod_cidr, dst):
                lines.append(sh(("ip", "neigh", "del", dst, "dev", VXLAN_DEV)))
                why.append(f"remove neigh {dst}")
        for mac, dst in sorted(fdb - want_fdb):
            lines.append(sh(("bridge", "fdb", "del", mac, "dev", VXLAN_DEV, "dst", dst, "self")))
            why.append(f"remove fdb {mac}")
    else:
        dev = f.uplink_dev or ""
        have = _by_dst(
            r for r in routes if r.get("dev") == dev and r.get("gateway") and _in(net.pod_cidr, r.get("dst", ""))
        )
        want = {p.subnet: p.public_ip for p in peers.values()}
        for name in sorted(peers):
            p = peers[name]
            r = have.get(p.subnet)
            if r is None or r.get("gateway") != p.public_ip:
                lines.append(sh(("ip", "route", "replace", p.subnet, "via", p.public_ip, "dev", dev)))
                why.append(f"route {p.subnet} via {p.public_ip} ({name})")
        for dst in sorted(set(have) - set(want)):
            lines.append(sh(("ip", "route", "del", dst, "dev", dev)))
            why.append(f"remove route {dst}")
    if not lines:
        return Step(host, "peers", f"{len(peers)} peer(s) programmed")
    return Step(host, "peers", ", ".join(why), tuple(lines))


def overlay_payloads(net: ClusterNetwork, lease: NodeLease) -> tuple[str, str]:
    """(filter, nat) iptables-restore payloads for kcli's chains: flannel's FORWARD and masq rules.
    The networks are re-printed from their parsed form, so only a network can reach the payload."""
    pod, sub, svc = (str(ipaddress.ip_network(n, strict=False)) for n in (net.pod_cidr, lease.subnet, net.service_cidr))
    fc = '-m comment --comment "kcli forward"'
    mc = '-m comment --comment "kcli masq"'
    gc = '-m comment --comment "kcli: no service has this address"'
    filt = "\n".join(
        [
            "*filter",
            f":{FWD_CHAIN} - [0:0]",
            f":{GUARD_CHAIN} - [0:0]",
            f"-A {FWD_CHAIN} -s {pod} {fc} -j ACCEPT",
            f"-A {FWD_CHAIN} -d {pod} {fc} -j ACCEPT",
            f"-A {GUARD_CHAIN} -d {svc} {gc} -j REJECT --reject-with icmp-net-unreachable",
            "COMMIT",
            "",
        ]
    )
    nat = "\n".join(
        [
            "*nat",
            f":{MASQ_CHAIN} - [0:0]",
            f"-A {MASQ_CHAIN} -m mark --mark 0x4000/0x4000 {mc} -j RETURN",
            f"-A {MASQ_CHAIN} -s {sub} -d {pod} {mc} -j RETURN",
            f"-A {MASQ_CHAIN} -s {pod} -d {sub} {mc} -j RETURN",
            f"-A {MASQ_CHAIN} ! -s {pod} -d {sub} {mc} -j RETURN",
            f"-A {MASQ_CHAIN} -s {pod} ! -d 224.0.0.0/4 {mc} -j MASQUERADE --random-fully",
            f"-A {MASQ_CHAIN} ! -s {pod} -d {pod} {mc} -j MASQUERADE --random-fully",
            "COMMIT",
            "",
        ]
    )
    return filt, nat


def append_jump_line(jump: tuple[str, str, tuple[str, ...]], verb: str = "-A") -> str:
    """Ensure a jump exactly once, appended (flannel appends its jumps; kube-proxy prepends: -I)."""
    table, chain, args = jump
    base = ("iptables", "-w", "-t", table)
    return f"{sh((*base, '-C', chain, *args))} 2>/dev/null || {sh((*base, verb, chain, *args))}"


def plan_iptables(host: str, f: HostFacts, net: ClusterNetwork, lease: NodeLease) -> Step:
    filt, nat = overlay_payloads(net, lease)
    desired = expected_rules([filt, nat], OVERLAY_JUMPS + GUARD_JUMPS, KCLI_PREFIXES)
    observed = parse_iptables_save(f.iptables_save, KCLI_PREFIXES)
    drift = diff_rules(desired, observed)
    if not drift:
        return Step(host, "iptables", f"{FWD_CHAIN}, {MASQ_CHAIN} up to date")
    lines = [
        feed(filt + nat, ("iptables-restore", "-w", "5", "--noflush")),
        *(append_jump_line(j) for j in OVERLAY_JUMPS),
        *(append_jump_line(j, "-I") for j in GUARD_JUMPS),
    ]
    return Step(
        host, "iptables", "; ".join(drift[:3]) + (f" (+{len(drift) - 3} more)" if len(drift) > 3 else ""), tuple(lines)
    )


def plan_subnet_env(host: str, f: HostFacts, net: ClusterNetwork, lease: NodeLease, mtu: int) -> Step:
    want = subnet_env(net, lease, mtu)
    path = MANAGED_FILES["subnet_env"]
    cur = f.files.get("subnet_env")
    if cur is not None and cur.strip() == want.strip():
        return Step(host, "subnet-env", f"{path} up to date")
    return Step(host, "subnet-env", f"write {path}", (write_file(path, want),))


def plan_overlay(
    host: str, f: HostFacts, net: ClusterNetwork, lease: NodeLease, peers: Mapping[str, NodeLease]
) -> list[Step]:
    mtu = overlay_mtu(net, f.uplink_mtu or 1500)
    dev_step, fresh = plan_vxlan_device(host, f, net, lease, mtu)
    return [
        plan_pod_network(host, f, lease, mtu),
        dev_step,
        plan_peers(host, f, net, lease, peers, fresh),
        plan_iptables(host, f, net, lease),
        plan_subnet_env(host, f, net, lease, mtu),
    ]
