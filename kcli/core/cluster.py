"""What runs on the cluster as one value: node facts, kcli's pods, rules and DNS per node, read by
one round trip per node (VIEW_SNIPPETS), plus the pure helpers that build and combine views."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from kcli.core.facts.node import NodeFacts, parse_node_facts
from kcli.core.facts.pods import PODS_SNIPPET, PodView, parse_pods
from kcli.core.facts.sections import Section
from kcli.core.inventory import Inventory
from kcli.core.scheduler import Node, Taint

VIEW_SNIPPETS = {
    "cpus": "nproc",
    "meminfo": "grep -E '^(MemTotal|MemAvailable):' /proc/meminfo",
    "now": "date +%s",
    "docker": "docker version --format '{{json .Server}}'",
    "pods": PODS_SNIPPET,
    # every address taken on the pod network, kcli's or not (pod IPs are allocated around them)
    "podnet_ips": "docker network inspect kcli-pods --format '{{range .Containers}}{{.IPv4Address}} {{end}}'",
    "iptables": "iptables-save -t nat && iptables-save -t filter",
    "dns_file": "cat /var/lib/kcli/dns/cluster.hosts",
    "dns_running": "docker inspect -f '{{.State.Running}}' kcli-dns",
}


@dataclass
class ClusterView:
    facts: dict[str, NodeFacts] = field(default_factory=dict)
    pods: dict[str, list[PodView]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    used_ips: dict[str, set[str]] = field(default_factory=dict)
    iptables: dict[str, str] = field(default_factory=dict)
    dns_file: dict[str, str | None] = field(default_factory=dict)
    dns_running: dict[str, bool] = field(default_factory=dict)

    def all_pods(self) -> list[PodView]:
        return [p for pods in self.pods.values() for p in pods]

    def now(self) -> float:
        return max((f.now for f in self.facts.values()), default=0)


def view_from_sections(per_node: Mapping[str, Mapping[str, Section]]) -> ClusterView:
    """A ClusterView from the VIEW_SNIPPETS sections each node printed."""
    view = ClusterView()
    for name, sections in per_node.items():
        view.facts[name] = parse_node_facts(sections)
        view.pods[name] = parse_pods(name, sections.get("pods"))
        ips = sections.get("podnet_ips")
        view.used_ips[name] = {a.split("/")[0] for a in ips.text.split()} if ips is not None and ips.rc == 0 else set()
        ipt = sections.get("iptables")
        view.iptables[name] = ipt.text if ipt is not None and ipt.rc == 0 else ""
        dns = sections.get("dns_file")
        view.dns_file[name] = dns.text + "\n" if dns is not None and dns.rc == 0 else None
        run = sections.get("dns_running")
        view.dns_running[name] = run is not None and run.rc == 0 and run.text.strip() == "true"
    return view


def merged(base: ClusterView, newer: ClusterView) -> ClusterView:
    """``base`` with the nodes that ``newer`` read replaced by their newer reading."""
    out = ClusterView()
    for f in ("facts", "pods", "used_ips", "iptables", "dns_file", "dns_running"):
        setattr(out, f, {**getattr(base, f), **getattr(newer, f)})
    out.errors = {n: e for n, e in base.errors.items() if n not in newer.facts}
    return out


def scheduler_nodes(inv: Inventory, view: ClusterView, joined: Collection[str]) -> list[Node]:
    """Allocatable from node facts; labels and taints from the inventory. Only reachable nodes that
    joined the overlay (have a lease in ``joined``) can take pods."""
    out = []
    for h in inv.hosts:
        f = view.facts.get(h.name)
        if f is None or f.docker_version is None or h.name not in joined:
            continue
        labels = {
            **dict(h.labels), "kubernetes.io/hostname": h.name, "kubernetes.io/os": "linux",
            **{f"node-role.kubernetes.io/{r}": "" for r in h.roles},
        }
        out.append(Node(
            name=h.name, cpu_milli=f.cpus * 1000, memory=f.memory_kib * 1024, labels=labels,
            taints=tuple(Taint(t.key, t.value, t.effect) for t in h.taints),
            unschedulable=h.labels.get("kcli.io/cordoned") == "true",
        ))
    return out
