"""Nodes in `kcli get` / `kcli describe` (the Node kind of kcli.cli.kinds): conditions read live,
one round trip per node, through the cluster facade."""

from __future__ import annotations

from kcli.cli import console
from kcli.cli.output import format_table, print_objects, print_profile, print_table


def observe_nodes(inv, names: list[str] | None = None):
    """One round trip per node → (NodeStatus per host, unreachable hosts included (NotReady), stats)."""
    from kcli.shell.facade import Cluster

    with Cluster(inv) as cluster:
        return cluster.nodes(names), cluster.stats()


def _selected(statuses, selector_s: str | None):
    if not selector_s:
        return statuses
    from kcli.core.selectors import matches, parse_selector

    sel = parse_selector(selector_s)
    return [s for s in statuses if matches(sel, s.to_dict()["metadata"]["labels"])]


def get_nodes(cluster, kind, name: str | None, fmt: str, selector: str | None, profile: bool) -> None:
    """`kcli get nodes`: only the node round trip (no pods, no state objects)."""
    statuses = _selected(cluster.nodes([name] if name else None), selector)
    if fmt in ("json", "yaml", "name"):
        print_objects([s.to_dict() for s in statuses], fmt, kind_plural=kind.singular, single=bool(name))
    else:
        print_table([kind.visible(s.row(wide=True), fmt == "wide") for s in statuses])
    if profile:
        print_profile(cluster.stats())


def node_rows(snap, kind, name, namespace, all_ns, selector) -> list[dict]:
    """Nodes among other kinds (`kcli get nodes,pods`): from the snapshot's node statuses."""
    from kcli.core.selectors import matches

    return [
        s.row(wide=True)
        for s in snap.nodes or ()
        if (not name or s.host.name == name)
        and (selector is None or matches(selector, s.to_dict()["metadata"]["labels"]))
    ]


def node_objects(snap, kind, name, namespace, all_ns, selector) -> list[dict]:
    from kcli.core.selectors import matches

    return [
        d
        for d in (s.to_dict() for s in snap.nodes or ())
        if (not name or d["metadata"]["name"] == name)
        and (selector is None or matches(selector, d["metadata"]["labels"]))
    ]


def describe_node(cluster, kind, name: str, namespace: str = "") -> None:
    s = cluster.nodes([name])[0]
    d = s.to_dict()
    lines = [
        f"Name:               {s.host.name}",
        f"Roles:              {', '.join(s.host.roles) or '<none>'}",
        "Labels:             "
        + "\n                    ".join(f"{k}={v}" for k, v in sorted(d["metadata"]["labels"].items())),
        "Taints:             "
        + ("\n                    ".join(f"{t.key}={t.value}:{t.effect}" for t in s.host.taints) or "<none>"),
        f"Addresses:\n  InternalIP:  {s.host.address}\n  SSH:         {s.host.user}@{s.host.address}:{s.host.port}",
        "Conditions:",
    ]
    rows = [{"TYPE": c.type, "STATUS": c.status, "REASON": c.reason, "MESSAGE": c.message} for c in s.conditions]
    lines += ["  " + ln for ln in format_table(rows).splitlines()]
    if s.facts:
        f = s.facts
        lines += [
            "Capacity:",
            f"  cpu:     {f.cpus}",
            f"  memory:  {f.memory_kib}Ki",
            "  pods:    110",
            "System Info:",
            f"  Hostname:                   {f.hostname}",
            f"  Kernel Version:             {f.kernel}",
            f"  OS Image:                   {f.os_image}",
            f"  Architecture:               {f.arch}",
            f"  Container Runtime Version:  {f.container_runtime}",
            f"  Init System:                {f.init}",
        ]
    for key, val in d["status"].items():
        if key in ("addresses", "conditions", "capacity", "nodeInfo"):
            continue
        lines.append(f"{key[0].upper()}{key[1:]}:  {val}")
    console.out.print("\n".join(lines))
