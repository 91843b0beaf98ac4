"""Services and Endpoints in `kcli get` / `describe` (kinds of kcli.cli.kinds), and `kcli verify`
(every ClusterIP from every node, every NodePort from here)."""

from __future__ import annotations

import typer

from kcli.cli import console, options
from kcli.cli.output import format_table


def _live(snap):
    """(specs, endpoints) computed live from the applied Services and the observed pods."""
    from kcli.core.servicesync import current_services
    from kcli.core.state import network_of

    net = network_of(snap.state)
    cidr = net.service_cidr if net else "10.96.0.0/12"
    return current_services(snap.objects, snap.state.get("services") or {}, cidr, snap.view.all_pods())


def _ports(spec) -> str:
    return (
        ",".join(f"{p.port}{':' + str(p.node_port) if p.node_port else ''}/{p.protocol}" for p in spec.ports)
        or "<none>"
    )


def service_rows(snap, kind, name, namespace, all_ns, selector):
    from kcli.cli.workload_get import _age, _ns_ok
    from kcli.core.objects import ObjectKey
    from kcli.core.selectors import matches

    specs, _ = _live(snap)
    labels = {(o.namespace, o.name): dict(o.meta.labels) for o in snap.objects if o.kind == "Service"}
    rows = []
    for s in specs:
        if not _ns_ok(s.namespace, namespace, all_ns) or (name and s.name != name):
            continue
        if selector is not None and not matches(selector, labels.get((s.namespace, s.name), {})):
            continue
        r = {"NAMESPACE": s.namespace} if all_ns else {}
        r.update(
            {
                "NAME": s.name,
                "TYPE": s.type,
                "CLUSTER-IP": s.cluster_ip or "<none>",
                "EXTERNAL-IP": "<none>",
                "PORT(S)": _ports(s),
                "AGE": _age(snap, ObjectKey("Service", s.namespace, s.name)),
                "SELECTOR": ",".join(f"{k}={v}" for k, v in s.selector) or "<none>",
            }
        )
        rows.append(r)
    return rows


def endpoint_rows(snap, kind, name, namespace, all_ns, selector):
    from kcli.cli.workload_get import _age, _ns_ok
    from kcli.core.objects import ObjectKey

    specs, eps = _live(snap)
    rows = []
    for s in specs:
        if not _ns_ok(s.namespace, namespace, all_ns) or (name and s.name != name):
            continue
        addrs = sorted({e.address for e in eps.get(s.key, ()) if e.ready})
        shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
        r = {"NAMESPACE": s.namespace} if all_ns else {}
        r.update(
            {
                "NAME": s.name,
                "ENDPOINTS": shown or "<none>",
                "AGE": _age(snap, ObjectKey("Service", s.namespace, s.name)),
            }
        )
        rows.append(r)
    return rows


def describe_service(cluster, kind, name: str, namespace: str) -> None:
    from kcli.cli.workload_get import snapshot
    from kcli.errors import KcliError

    snap = snapshot(cluster)
    specs, eps = _live(snap)
    s = next((x for x in specs if x.name == name and x.namespace == namespace), None)
    if s is None:
        err = KcliError(f'{kind.plural} "{name}" not found')
        err.exit_code = 1
        raise err
    obj = next(o for o in snap.objects if o.kind == "Service" and o.name == name and o.namespace == namespace)
    lines = [
        f"Name:              {s.name}",
        f"Namespace:         {s.namespace}",
        "Labels:            " + (", ".join(f"{k}={v}" for k, v in sorted(obj.meta.labels.items())) or "<none>"),
        "Selector:          " + (",".join(f"{k}={v}" for k, v in s.selector) or "<none>"),
        f"Type:              {s.type}",
        f"IP:                {s.cluster_ip}",
    ]
    for p in s.ports:
        lines.append(f"Port:              {p.name or '<unset>'}  {p.port}/{p.protocol}")
        lines.append(f"TargetPort:        {p.target_port}/{p.protocol}")
        if p.node_port:
            lines.append(f"NodePort:          {p.name or '<unset>'}  {p.node_port}/{p.protocol}")
        addrs = sorted({e.address for e in eps.get(s.key, ()) if e.ready and e.port_name == p.name})
        lines.append(f"Endpoints:         {','.join(addrs) or '<none>'}")
    lines.append(f"Session Affinity:  {s.session_affinity}")
    console.out.print("\n".join(lines))


def register(app: typer.Typer) -> None:
    @app.command()
    def verify(
        inventory: str = options.Inventory,
        timeout: float = typer.Option(3.0, "--timeout", help="Seconds per probe."),
    ) -> None:
        """Probe every ClusterIP service from a pod on every node, and every NodePort from here."""
        from kcli.errors import ExecutionError
        from kcli.shell.facade import Cluster

        with Cluster.load(inventory) as cluster:
            results = cluster.verify(timeout)
        if not results.rows:
            console.info("no services to verify")
            return
        console.out.print(format_table(results.rows))
        if results.failures:
            raise ExecutionError(f"{results.failures} probe(s) failed", details=results.failed)
