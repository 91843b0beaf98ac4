"""The git-tracked cluster state: a plain dict, canonical text, and pure updates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kcli.core.facts.host import HostFacts
from kcli.core.network import ClusterNetwork, NodeLease

API_VERSION = "kcli.io/v1alpha1"


def _yaml() -> tuple[Any, Any, Any]:
    """PyYAML and its libyaml loader and dumper when it has them (10x faster on a 40 KB state;
    same text), else its pure-Python ones; imported on first use (a state parsed before comes
    from kcli.shell.parsedcache without it)."""
    import yaml

    return yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader), getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def empty_state(cluster: str) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "ClusterState", "cluster": cluster, "nodes": {}}


def render_state(state: Mapping[str, Any]) -> str:
    """Canonical text: sorted keys, block style, so git diffs show real changes only."""
    yaml, _, dumper = _yaml()
    return str(yaml.dump(dict(state), Dumper=dumper, sort_keys=True, default_flow_style=False, allow_unicode=True))


def parse_state(text: str, cluster: str) -> dict[str, Any]:
    yaml, loader, _ = _yaml()
    data = yaml.load(text, Loader=loader) if text.strip() else None  # noqa: S506 - a safe loader
    if not isinstance(data, dict):
        return empty_state(cluster)
    data.setdefault("nodes", {})
    return data


def network_of(state: Mapping[str, Any]) -> ClusterNetwork | None:
    n = state.get("network")
    if not n:
        return None
    return ClusterNetwork(
        pod_cidr=n["podCIDR"], service_cidr=n["serviceCIDR"], backend=n["backend"], subnet_len=n.get("subnetLen", 24)
    )


def leases_of(state: Mapping[str, Any]) -> dict[str, NodeLease]:
    return {
        name: NodeLease(name, n["subnet"], n["publicIP"], n["vtepMAC"])
        for name, n in (state.get("nodes") or {}).items()
        if n.get("subnet")
    }


def with_network(state: Mapping[str, Any], net: ClusterNetwork) -> dict[str, Any]:
    out = dict(state)
    out["network"] = {
        "podCIDR": net.pod_cidr,
        "serviceCIDR": net.service_cidr,
        "backend": net.backend,
        "subnetLen": net.subnet_len,
        "vxlan": {"vni": 1, "port": 8472},
    }
    return out


def node_facts_record(f: HostFacts) -> dict[str, Any]:
    return {
        "osImage": f.node.os_image,
        "kernelVersion": f.node.kernel,
        "containerRuntime": f.node.container_runtime,
        "cpus": f.node.cpus,
        "memoryKiB": f.node.memory_kib,
        "uplink": f.uplink_dev,
        "uplinkMTU": f.uplink_mtu,
        "init": f.node.init,
    }


def with_node(state: Mapping[str, Any], lease: NodeLease, facts: HostFacts | None, joined_at: str) -> dict[str, Any]:
    out = dict(state)
    nodes = dict(out.get("nodes") or {})
    old = nodes.get(lease.name) or {}
    rec = {
        "subnet": lease.subnet,
        "publicIP": lease.public_ip,
        "vtepMAC": lease.vtep_mac,
        "joinedAt": old.get("joinedAt") or joined_at,
        "facts": node_facts_record(facts) if facts is not None else old.get("facts", {}),
        **({"unschedulable": True} if old.get("unschedulable") else {}),
    }
    nodes[lease.name] = rec
    out["nodes"] = nodes
    return out


def cordoned_of(state: Mapping[str, Any]) -> frozenset[str]:
    """Nodes cordoned by `kcli cordon` (spec.unschedulable), recorded in the state."""
    return frozenset(n for n, rec in (state.get("nodes") or {}).items() if (rec or {}).get("unschedulable"))


def with_cordon(state: Mapping[str, Any], name: str, unschedulable: bool) -> dict[str, Any]:
    """The state with ``name`` cordoned (True) or uncordoned (False)."""
    out = dict(state)
    nodes = dict(out.get("nodes") or {})
    rec = {k: v for k, v in (nodes.get(name) or {}).items() if k != "unschedulable"}
    nodes[name] = {**rec, "unschedulable": True} if unschedulable else rec
    out["nodes"] = nodes
    return out


def without_nodes(state: Mapping[str, Any], names: set[str]) -> dict[str, Any]:
    out = dict(state)
    out["nodes"] = {k: v for k, v in (state.get("nodes") or {}).items() if k not in names}
    return out
