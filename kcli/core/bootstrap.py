"""Bootstrap planning (pure): preflight + host setup + overlay steps per host, and verification."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from kcli.core.commands.shell import Step
from kcli.core.facts.host import HostFacts
from kcli.core.hostsetup import docker_missing, plan_docker, plan_docker_config, plan_modules, plan_sysctls
from kcli.core.network import ClusterNetwork, NodeLease, vtep_address
from kcli.core.overlay import plan_overlay

NETWORK_STEPS = ("pod-network", "vxlan-device", "peers", "iptables", "subnet-env")


def plan_host(
    host: str, f: HostFacts, net: ClusterNetwork, lease: NodeLease, peers: Mapping[str, NodeLease]
) -> list[Step]:
    """All bootstrap steps for one host, in execution order."""
    docker = plan_docker(host, f)
    return [
        docker,
        plan_modules(host, f),
        plan_sysctls(host, f),
        plan_docker_config(host, f, docker_will_be_installed=docker_missing(f)),
        *plan_overlay(host, f, net, lease, peers),
    ]


def overlay_drift(
    host: str, f: HostFacts, net: ClusterNetwork, lease: NodeLease, peers: Mapping[str, NodeLease]
) -> list[Step]:
    """Network steps that would change something: non-empty means the node's overlay drifted."""
    return [s for s in plan_overlay(host, f, net, lease, peers) if s.changed]


def ping_target(net: ClusterNetwork, peer: NodeLease) -> str:
    """What proves the data path to a peer: its flannel.1 address over the tunnel (vxlan); for
    host-gw the peer itself (its pod bridge has no address while no pod runs there)."""
    return vtep_address(peer.subnet) if net.backend == "vxlan" else peer.public_ip


def ping_snippet(net: ClusterNetwork, peers: Mapping[str, NodeLease]) -> str:
    """Ping every peer in parallel (1 s timeout each), print name=ok|fail."""
    if not peers:
        return "true"
    parts = []
    for name in sorted(peers):
        t = shlex.quote(ping_target(net, peers[name]))
        parts.append(
            f"( if ping -c 1 -W 1 {t} >/dev/null 2>&1; then echo {shlex.quote(name)}=ok; else echo {shlex.quote(name)}=fail; fi ) &"
        )
    return " ".join(parts) + " wait"
