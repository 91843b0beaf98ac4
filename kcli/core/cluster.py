"""What runs on the cluster as one value: node facts, kcli's pods, rules and DNS per node, read by
one round trip per node (VIEW_SNIPPETS), plus the pure helpers that build and combine views."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kcli.core.facts.node import NodeFacts, parse_node_facts
from kcli.core.facts.pods import (
    PodView,
    container_running,
    inspected,
    parse_pods,
    pod_network_ips,
    unknown_pods,
)
from kcli.core.facts.sections import Section
from kcli.core.facts.view_script import DNS_CONTAINER
from kcli.core.inventory import Inventory
from kcli.core.scheduler import Node, Taint


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

    def node_time(self) -> float:
        """The nodes' clock (the latest a node reported), unix seconds; 0 when none answered."""
        return max((f.now for f in self.facts.values()), default=0)


def view_from_sections(per_node: Mapping[str, Mapping[str, Section]]) -> ClusterView:
    """A ClusterView from the VIEW_SNIPPETS sections each node printed."""
    view = ClusterView()
    for name, sections in per_node.items():
        view.facts[name] = _with_docker(parse_node_facts(sections), sections.get("pods"))
        items = inspected(sections.get("pods"))
        secret = sections.get("secret_dirs")
        view.pods[name] = parse_pods(name, items, set(secret.text.split()) if secret is not None else None)
        view.used_ips[name] = pod_network_ips(items)
        ipt = sections.get("iptables")
        view.iptables[name] = ipt.text if ipt is not None and ipt.rc == 0 else ""
        dns = sections.get("dns_file")
        view.dns_file[name] = dns.text + "\n" if dns is not None and dns.rc == 0 else None
        view.dns_running[name] = container_running(items, DNS_CONTAINER)
    return view


def _with_docker(facts: NodeFacts, pods: Section | None) -> NodeFacts:
    """Whether docker answers, from the pods section when ``docker version`` was not asked (a
    view asks docker only what it needs: ``docker ps`` fails when the daemon does not answer)."""
    if facts.docker_version is not None or pods is None:
        return facts
    if pods.rc != 0:
        return replace(facts, docker_error=(pods.text.strip().splitlines() or ["docker not answering"])[-1])
    return replace(facts, docker_error=None)


def merged(base: ClusterView, newer: ClusterView) -> ClusterView:
    """``base`` with the nodes that ``newer`` read replaced by their newer reading."""
    out = ClusterView()
    for f in ("facts", "pods", "used_ips", "iptables", "dns_file", "dns_running"):
        setattr(out, f, {**getattr(base, f), **getattr(newer, f)})
    out.errors = {n: e for n, e in base.errors.items() if n not in newer.facts}
    return out


def scheduler_nodes(
    inv: Inventory, view: ClusterView, joined: Collection[str], cordoned: Collection[str] = ()
) -> list[Node]:
    """Allocatable from node facts; labels and taints from the inventory; ``cordoned`` (the state's,
    `kcli cordon`) or labelled kcli.io/cordoned=true are unschedulable. Only reachable nodes that
    joined the overlay (have a lease in ``joined``) can take pods."""
    out = []
    for h in inv.hosts:
        f = view.facts.get(h.name)
        if f is None or f.docker_error is not None or h.name not in joined:
            continue
        labels = {
            **dict(h.labels),
            "kubernetes.io/hostname": h.name,
            "kubernetes.io/os": "linux",
            **{f"node-role.kubernetes.io/{r}": "" for r in h.roles},
        }
        out.append(
            Node(
                name=h.name,
                cpu_milli=f.cpus * 1000,
                memory=f.memory_kib * 1024,
                labels=labels,
                taints=tuple(Taint(t.key, t.value, t.effect) for t in h.taints),
                unschedulable=h.name in cordoned or h.labels.get("kcli.io/cordoned") == "true",
            )
        )
    return out


def add_unknown_pods(view: ClusterView, records: Mapping[str, Any]) -> None:
    """Pods the state records on nodes that could not be read, as kubectl's Unknown."""
    for node in view.errors:
        view.pods[node] = unknown_pods(node, dict(records))
