"""Service allocations as the hosts hold them: ClusterIPs and NodePorts read back from the
kube-proxy rules in ``iptables-save`` output (nat for Services with endpoints, filter's REJECT
rules for those without), per Service (``namespace/name``).

The state file says what this state directory allocated; the hosts say what is programmed,
whoever programmed it. Allocation treats both as taken, so two state directories for one
cluster can never hand one address to two Services.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kcli.core.iptables import split_rule

_SVC_RULE = "-A KUBE-SERVICES "
_NP_RULES = ("-A KUBE-NODEPORTS ", "-A KUBE-EXTERNAL-SERVICES ")  # nat with endpoints, filter without


@dataclass
class Held:
    """What the hosts hold for one Service."""

    cluster_ips: set[str] = field(default_factory=set)
    node_ports: set[int] = field(default_factory=set)


def _words(line: str) -> list[str]:
    try:
        return split_rule(line)
    except ValueError:
        return line.split()


def _arg(words: list[str], flag: str) -> str | None:
    for i, w in enumerate(words[:-1]):
        if w == flag:
            return words[i + 1]
    return None


def _service_of(comment: str | None) -> str | None:
    """``ns/name:port cluster IP`` or ``ns/name:port`` → ``ns/name``."""
    if not comment:
        return None
    spn = comment.split(" ", 1)[0]
    key = spn.split(":", 1)[0]
    return key if key.count("/") == 1 else None


def held_allocations(iptables_saves: Iterable[str]) -> dict[str, Held]:
    """Service key → the ClusterIPs and NodePorts programmed for it on any of the given hosts."""
    out: dict[str, Held] = {}
    for text in iptables_saves:
        for line in text.splitlines():
            if line.startswith(_SVC_RULE) and ("cluster IP" in line or "has no endpoints" in line):
                w = _words(line)
                key, dest = _service_of(_arg(w, "--comment")), _arg(w, "-d")
                if key and dest:
                    out.setdefault(key, Held()).cluster_ips.add(dest.split("/")[0])
            elif line.startswith(_NP_RULES):
                w = _words(line)
                key, port = _service_of(_arg(w, "--comment")), _arg(w, "--dport")
                if key and port and port.isdigit():
                    out.setdefault(key, Held()).node_ports.add(int(port))
    return out


def taken_by_others(held: Mapping[str, Held], key: str) -> tuple[set[str], set[int]]:
    """Addresses the hosts hold for Services other than ``key``."""
    ips: set[str] = set()
    ports: set[int] = set()
    for k, h in held.items():
        if k != key:
            ips |= h.cluster_ips
            ports |= h.node_ports
    return ips, ports
