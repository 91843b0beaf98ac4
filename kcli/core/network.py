"""Cluster network, flannel-compatible: per-node /24 leases, VTEP MACs and the wanted overlay.

Reference: docs/k8s-reference.md §2 (flannel vxlan / host-gw), §9 (docker). Pure: addresses, names and
MACs are derived from the inputs; nothing here touches a host.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kcli.errors import PlanError

POD_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/12"
VXLAN_VNI = 1
VXLAN_PORT = 8472
VXLAN_OVERHEAD = 50
VXLAN_DEV = f"flannel.{VXLAN_VNI}"
POD_BRIDGE = "cni0"
POD_NETWORK = "kcli-pods"
BACKENDS = ("vxlan", "host-gw")


@dataclass(frozen=True)
class ClusterNetwork:
    pod_cidr: str = POD_CIDR
    service_cidr: str = SERVICE_CIDR
    backend: str = "vxlan"
    subnet_len: int = 24

    def to_dict(self) -> dict[str, Any]:
        """flannel's net-conf.json shape."""
        d: dict[str, Any] = {"Network": self.pod_cidr, "SubnetLen": self.subnet_len, "Backend": {"Type": self.backend}}
        if self.backend == "vxlan":
            d["Backend"].update({"VNI": VXLAN_VNI, "Port": VXLAN_PORT})
        d["ServiceCIDR"] = self.service_cidr
        return d


@dataclass(frozen=True)
class NodeLease:
    """What flannel keeps per node: subnet, public IP and VTEP MAC (here: in the state file)."""

    name: str
    subnet: str
    public_ip: str
    vtep_mac: str


NETWORK_FLAGS = {"pod_cidr": "--pod-network-cidr", "service_cidr": "--service-cidr", "backend": "--backend"}


def validate_network(net: ClusterNetwork, names: Mapping[str, str] = NETWORK_FLAGS) -> list[str]:
    """Problems with the network settings, each naming the setting as ``names`` spells it: the
    bootstrap flags (``--pod-network-cidr 10.96.0.0/16: ...``) or, e.g., inventory fields
    (``network.pod_cidr: 10.96.0.0/16: ...``)."""

    def named(key: str, value: str) -> str:
        name = names[key]
        return f"{name} {value}" if name.startswith("-") else f"{name}: {value}"

    def cidr(key: str, value: str) -> ipaddress.IPv4Network | None:
        try:
            n = ipaddress.ip_network(value)
        except ValueError as exc:
            errs.append(f"{names[key]}: {exc}")
            return None
        if n.version != 4:
            errs.append(f"{named(key, value)}: only IPv4 is supported")
            return None
        return n

    errs: list[str] = []
    pod = cidr("pod_cidr", net.pod_cidr)
    if pod is not None and pod.prefixlen > net.subnet_len - 2:
        errs.append(f"{named('pod_cidr', net.pod_cidr)}: must hold at least 4 /{net.subnet_len} node subnets")
    svc = cidr("service_cidr", net.service_cidr)
    if pod is not None and svc is not None and svc.overlaps(pod):
        errs.append(f"{named('service_cidr', net.service_cidr)} overlaps {names['pod_cidr']} {net.pod_cidr}")
    if net.backend not in BACKENDS:
        errs.append(f"{named('backend', net.backend)}: must be one of {', '.join(BACKENDS)}")
    return errs


def vtep_mac(cluster: str, node: str) -> str:
    """Stable, locally administered unicast MAC (flannel: mac[0] = (mac[0] & 0xfe) | 0x02)."""
    b = bytearray(hashlib.sha256(f"{cluster}/{node}".encode()).digest()[:6])
    b[0] = (b[0] & 0xFE) | 0x02
    return ":".join(f"{x:02x}" for x in b)


def allocate_leases(
    net: ClusterNetwork,
    cluster: str,
    nodes: Mapping[str, str],
    existing: Mapping[str, NodeLease],
) -> dict[str, NodeLease]:
    """Leases for ``nodes`` (name → public IP). Existing leases are kept; new nodes get the lowest
    free subnet from SubnetMin (the network's second subnet, as flannel) upwards."""
    pod = ipaddress.ip_network(net.pod_cidr)
    subnets = list(pod.subnets(new_prefix=net.subnet_len))[1:]
    taken = {lease.subnet for lease in existing.values()}
    out: dict[str, NodeLease] = {}
    for name, lease in existing.items():
        out[name] = NodeLease(name, lease.subnet, nodes.get(name, lease.public_ip), lease.vtep_mac)
    free = (str(s) for s in subnets if str(s) not in taken)
    for name in sorted(nodes):
        if name in out:
            continue
        subnet = next(free, None)
        if subnet is None:
            raise PlanError(f"pod network {net.pod_cidr} has no free /{net.subnet_len} left for node {name}")
        out[name] = NodeLease(name, subnet, nodes[name], vtep_mac(cluster, name))
    return out


def gateway(subnet: str) -> str:
    """First usable IP of a node subnet: the pod bridge's address (FLANNEL_SUBNET)."""
    return str(ipaddress.ip_network(subnet).network_address + 1)


def vtep_address(subnet: str) -> str:
    """flannel.1 carries the subnet's network address as a /32."""
    return str(ipaddress.ip_network(subnet).network_address)


def overlay_mtu(net: ClusterNetwork, uplink_mtu: int) -> int:
    return uplink_mtu - VXLAN_OVERHEAD if net.backend == "vxlan" else uplink_mtu


def subnet_env(net: ClusterNetwork, lease: NodeLease, mtu: int) -> str:
    """/run/flannel/subnet.env, as flanneld writes it."""
    prefix = ipaddress.ip_network(lease.subnet).prefixlen
    return (
        f"FLANNEL_NETWORK={net.pod_cidr}\n"
        f"FLANNEL_SUBNET={gateway(lease.subnet)}/{prefix}\n"
        f"FLANNEL_MTU={mtu}\n"
        "FLANNEL_IPMASQ=true\n"
    )


def pod_ip_range(subnet: str) -> tuple[str, str]:
    """Addresses pods may get: gateway + 1 .. broadcast - 1."""
    n = ipaddress.ip_network(subnet)
    return str(n.network_address + 2), str(n.broadcast_address - 1)
