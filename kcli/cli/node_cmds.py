"""`kcli get` / `kcli describe`: a resource-type registry; nodes live here, workloads add theirs."""

from __future__ import annotations

from collections.abc import Callable

import typer

from kcli.cli import console, options
from kcli.cli.output import check_format, format_table, print_objects, print_table

# Resource type aliases → canonical plural; handlers registered by type.
ALIASES = {"node": "nodes", "nodes": "nodes", "no": "nodes"}
GETTERS: dict[str, Callable[..., None]] = {}
DESCRIBERS: dict[str, Callable[..., None]] = {}


def canonical(kind: str) -> str:
    k = kind.lower().split(".")[0]
    if k not in ALIASES:
        from kcli.errors import UsageError

        raise UsageError(f'the server doesn\'t have a resource type "{kind}"')
    return ALIASES[k]


def observe_nodes(inv, names: list[str] | None = None):
    """One round trip per node → NodeStatus per host, unreachable hosts included (NotReady)."""
    from kcli.core.facts.node import NODE_SNIPPETS, parse_node_facts
    from kcli.core.nodes import node_status
    from kcli.shell.observe import observe
    from kcli.shell.state_hooks import node_extras
    from kcli.shell.transport import SshPool

    hosts = [inv.host(n) for n in names] if names else list(inv.hosts)
    extra_snippets, finish = node_extras(inv, hosts)
    with SshPool(inv) as pool:
        results = observe(pool, hosts, NODE_SNIPPETS, per_host=extra_snippets)
        stats = pool.stats()
    statuses = []
    for h in hosts:
        sections = results.values.get(h.name)
        err = results.errors.get(h.name)
        facts = parse_node_facts(sections) if sections is not None else None
        joined_at, conds = finish(h, sections)
        statuses.append(node_status(h, facts, err, joined_at=joined_at, extra_conditions=conds))
    return statuses, stats


def get_nodes(inv, name: str | None, fmt: str, profile: bool) -> None:
    statuses, stats = observe_nodes(inv, [name] if name else None)
    if fmt in ("json", "yaml", "name"):
        print_objects([s.to_dict() for s in statuses], fmt, kind_plural="node", single=bool(name))
    else:
        print_table([s.row(wide=fmt == "wide") for s in statuses])
    if profile:
        print_profile(stats)


def describe_node(inv, name: str) -> None:
    statuses, _ = observe_nodes(inv, [name])
    s = statuses[0]
    d = s.to_dict()
    lines = [
        f"Name:               {s.host.name}",
        f"Roles:              {', '.join(s.host.roles) or '<none>'}",
        "Labels:             " + "\n                    ".join(f"{k}={v}" for k, v in sorted(d["metadata"]["labels"].items())),
        "Taints:             " + ("\n                    ".join(f"{t.key}={t.value}:{t.effect}" for t in s.host.taints) or "<none>"),
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


def print_profile(stats) -> None:
    rows = [
        {"HOST": n, "ROUND-TRIPS": str(s.round_trips), "SENT": str(s.bytes_sent), "RECEIVED": str(s.bytes_received),
         "CONNECT": f"{s.connect_seconds:.3f}s", "COMMANDS": f"{s.seconds:.3f}s"}
        for n, s in sorted(stats.items())
    ]
    console.err.print(format_table(rows))


EXTRA_ROWS: dict = {}  # kinds added by other modules (services)
GETTERS["nodes"] = get_nodes
DESCRIBERS["nodes"] = describe_node


def register(app: typer.Typer) -> None:
    @app.command()
    def get(
        kind: str = typer.Argument(..., help="Resource type: nodes, pods, deployments, rs, ds, jobs, cm, secrets, ns, svc, all"),
        name: str = typer.Argument(None),
        output: str = options.Output,
        namespace: str = typer.Option("default", "-n", "--namespace"),
        all_namespaces: bool = typer.Option(False, "-A", "--all-namespaces"),
        selector: str = typer.Option(None, "-l", "--selector", help="Label selector, e.g. app=web"),
        inventory: str = options.Inventory,
        profile: bool = options.Profile,
    ) -> None:
        """Display resources, read live from the hosts (kubectl columns)."""
        from kcli.cli.resources import canonical_kind
        from kcli.shell.config import load_inventory

        fmt = check_format(output)
        kinds = (["Pod", "Service", "Deployment", "ReplicaSet", "DaemonSet", "Job"] if kind == "all"
                 else [canonical_kind(k) for k in kind.split(",")])
        inv = load_inventory(inventory)
        if kinds == ["Node"]:
            GETTERS["nodes"](inv, name, fmt, profile)
            return
        from kcli.cli.workload_get import ROWS, get_workloads

        kinds = [k for k in kinds if k in ROWS or k in EXTRA_ROWS]
        get_workloads(inv, kinds, name, fmt, namespace, all_namespaces, selector, profile)

    @app.command()
    def describe(
        kind: str = typer.Argument(...),
        name: str = typer.Argument(...),
        namespace: str = typer.Option("default", "-n", "--namespace"),
        inventory: str = options.Inventory,
    ) -> None:
        """Show details of a resource, with conditions and the reasons behind them."""
        from kcli.cli.resources import canonical_kind
        from kcli.shell.config import load_inventory

        inv = load_inventory(inventory)
        k = canonical_kind(kind)
        if k == "Node":
            DESCRIBERS["nodes"](inv, name)
            return
        from kcli.cli.workload_get import describe_workload

        describe_workload(inv, k, name, namespace)
