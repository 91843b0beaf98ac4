"""Preflight: checks per host (kubeadm-style), evaluated from HostFacts before any change."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kcli.core.facts.host import HostFacts
from kcli.core.hostsetup import docker_missing
from kcli.core.network import POD_BRIDGE, VXLAN_DEV, VXLAN_PORT, ClusterNetwork

PASS, WARN, FAIL = "pass", "warn", "fail"
CHECKS = (
    "Root",
    "KernelVersion",
    "KernelModules",
    "IptablesMatches",
    "IptablesBackend",
    "Docker",
    "DiskSpace",
    "ClockSkew",
    "Uplink",
    "OverlayPort",
    "PodCIDR",
    "ServiceCIDR",
)


@dataclass(frozen=True)
class Check:
    host: str
    name: str
    status: str
    message: str


def _kernel_ok(release: str) -> bool:
    m = re.match(r"(\d+)\.(\d+)", release)
    return m is not None and (int(m.group(1)), int(m.group(2))) >= (3, 10)


def _overlaps(cidr: str, addrs: Iterable[tuple[str, str]]) -> list[str]:
    net = ipaddress.ip_network(cidr)
    out = []
    for ifname, a in addrs:
        if ifname in (VXLAN_DEV, POD_BRIDGE):
            continue
        iface = ipaddress.ip_interface(a)
        if iface.network.overlaps(net):
            out.append(f"{ifname} {a}")
    return out


def _input_blocks_vxlan(iptables_save: str) -> bool:
    """INPUT policy DROP/REJECT with no rule mentioning the vxlan port."""
    policy_drop = re.search(r"^:INPUT (DROP|REJECT)", iptables_save, re.M)
    mentions = re.search(rf"^-A INPUT .*\b{VXLAN_PORT}\b", iptables_save, re.M)
    return bool(policy_drop) and not mentions


def run_checks(
    host: str,
    address: str,
    f: HostFacts | None,
    error: BaseException | None,
    net: ClusterNetwork,
    peer_addresses: Sequence[str],
    local_clock: float,
    sudo: bool,
) -> list[Check]:
    """Every check for one host; an unreachable host fails a single 'Reachable' check."""
    if f is None:
        return [Check(host, "Reachable", FAIL, f"cannot observe: {error}")]
    c: list[Check] = []

    def add(name: str, status: str, msg: str) -> None:
        c.append(Check(host, name, status, msg))

    add(
        "Root",
        PASS if f.uid == 0 else (PASS if sudo else FAIL),
        "root" if f.uid == 0 else ("via sudo" if sudo else f"uid {f.uid}: needs root or sudo: true in the inventory"),
    )
    add("KernelVersion", PASS if _kernel_ok(f.node.kernel) else FAIL, f.node.kernel or "unknown")
    missing = [m for m, v in f.kmods.items() if v != "yes"]
    needed = [m for m in missing if m == "vxlan" and net.backend == "vxlan"]
    add(
        "KernelModules",
        FAIL if needed else (WARN if missing else PASS),
        f"missing: {', '.join(missing)}" if missing else "overlay, br_netfilter, vxlan available",
    )
    xt_missing = [m for m, v in f.xt.items() if v != "ok"]
    add(
        "IptablesMatches",
        FAIL if xt_missing or not f.xt else PASS,
        f"missing kernel matches: {', '.join(xt_missing)}"
        if xt_missing
        else ("iptables not found" if not f.xt else "comment statistic recent conntrack addrtype mark"),
    )
    if not f.iptables_backend:
        add("IptablesBackend", FAIL, "iptables not installed")
    elif f.iptables_backend == "nft" and f.legacy_rule_count > 0:
        add(
            "IptablesBackend",
            FAIL,
            f"iptables is nft but {f.legacy_rule_count} rules live in iptables-legacy (docker's?): use one backend",
        )
    else:
        add("IptablesBackend", PASS, f.iptables_backend)
    if f.node.docker_version:
        add("Docker", PASS, f.node.docker_version)
    elif docker_missing(f):
        add(
            "Docker",
            WARN if f.package_manager else FAIL,
            f"not installed; will install with {f.package_manager}"
            if f.package_manager
            else "not installed and no apt-get/dnf",
        )
    else:
        add("Docker", WARN, f"not answering ({f.node.docker_error}); will start it")
    if f.disk_free_kib is None:
        add("DiskSpace", WARN, "unknown")
    else:
        gib = f.disk_free_kib / 1024 / 1024
        add("DiskSpace", FAIL if gib < 1 else (WARN if gib < 5 else PASS), f"{gib:.1f} GiB free for /var/lib/docker")
    if f.clock is None:
        add("ClockSkew", WARN, "unknown")
    else:
        skew = f.clock - local_clock
        add("ClockSkew", FAIL if abs(skew) > 300 else (WARN if abs(skew) > 5 else PASS), f"{skew:+.1f}s")
    if f.uplink_dev:
        add("Uplink", PASS, f"{f.uplink_dev} {f.uplink_cidr} mtu {f.uplink_mtu}")
    else:
        add("Uplink", FAIL, f"no interface holds {address}")
    if net.backend == "vxlan":
        if _input_blocks_vxlan(f.iptables_save):
            add("OverlayPort", WARN, f"INPUT policy drops and no rule accepts udp/{VXLAN_PORT}")
        else:
            add("OverlayPort", PASS, f"udp/{VXLAN_PORT} not filtered (verified by ping after setup)")
    else:
        off = []
        if f.uplink_cidr:
            local_net = ipaddress.ip_interface(f.uplink_cidr).network
            off = [p for p in peer_addresses if ipaddress.ip_address(p) not in local_net]
        add(
            "OverlayPort",
            FAIL if off or not f.uplink_cidr else PASS,
            f"host-gw needs one L2 segment; not in {f.uplink_cidr}: {', '.join(off)}"
            if off
            else f"peers on {f.uplink_cidr}",
        )
    addrs = list(f.addrs) + [("inventory", f"{a}/32") for a in [address, *peer_addresses]]
    for name, cidr, flag in (
        ("PodCIDR", net.pod_cidr, "--pod-network-cidr"),
        ("ServiceCIDR", net.service_cidr, "--service-cidr"),
    ):
        hits = _overlaps(cidr, addrs)
        add(name, FAIL if hits else PASS, f"{flag} {cidr} overlaps {', '.join(hits)}" if hits else f"{cidr} free")
    return c


def blocking(checks: Iterable[Check], ignored: Iterable[str]) -> list[Check]:
    """Failures not ignored by --ignore-preflight-errors (names, case-insensitive, or 'all')."""
    ign = {i.strip().lower() for i in ignored if i.strip()}
    return [c for c in checks if c.status == FAIL and "all" not in ign and c.name.lower() not in ign]


def by_host(checks: Iterable[Check]) -> Mapping[str, list[Check]]:
    out: dict[str, list[Check]] = {}
    for ch in checks:
        out.setdefault(ch.host, []).append(ch)
    return out
