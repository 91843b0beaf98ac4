"""`kcli get`, `kcli describe`: every kind through the registry (kcli.cli.kinds), read through the
cluster facade (kcli.shell.facade)."""

from __future__ import annotations

import typer

from kcli.cli import console, options
from kcli.cli.output import check_format, format_table, is_object_format, print_objects, print_profile


def parse_field_selector(text: str) -> list[tuple[str, str, str]]:
    """kubectl's --field-selector: ``path=value``, ``path==value``, ``path!=value``, comma-separated."""
    from kcli.errors import UsageError

    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        for op in ("!=", "==", "="):
            if op in part:
                path, _, value = part.partition(op)
                out.append((path.strip(), "!=" if op == "!=" else "=", value.strip()))
                break
        else:
            raise UsageError(f'--field-selector: "{part}" is not FIELD=VALUE or FIELD!=VALUE')
    return out


def _field(obj: dict, path: str) -> str:
    cur: object = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur)


def _key(o: dict, namespace: str) -> tuple[str, str]:
    meta = o.get("metadata") or {}
    return (meta.get("namespace", namespace) or "", meta.get("name", ""))


def _refine(objs: list[dict], fields: list[tuple[str, str, str]], sort_by: str | None) -> list[dict]:
    """--field-selector and --sort-by over the API objects."""
    objs = [o for o in objs if all((_field(o, p) == v) == (op == "=") for p, op, v in fields)]
    if sort_by:
        from kcli.core.jsonpath import JsonPathError, evaluate
        from kcli.errors import UsageError

        expr = sort_by if sort_by.startswith("{") else "{" + sort_by + "}"

        def key(o: dict) -> tuple:
            try:
                vals = evaluate(expr, o)
            except JsonPathError as exc:
                raise UsageError(f"--sort-by {sort_by}: {exc}") from None
            v = vals[0] if vals else None
            return (
                v is None,
                (0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, str(v)),
            )

        objs = sorted(objs, key=key)
    return objs


def get_resources(
    cluster,
    kinds,
    name,
    fmt: str,
    namespace: str,
    all_ns: bool,
    selector_s: str | None,
    profile: bool,
    *,
    field_selector: str | None = None,
    sort_by: str | None = None,
    show_labels: bool = False,
    label_columns: tuple[str, ...] = (),
) -> bool:
    """Print the requested kinds (one table per kind, or one list of objects); whether any was found."""
    from kcli.cli.workload_get import snapshot
    from kcli.core.selectors import parse_selector

    selector = parse_selector(selector_s) if selector_s else None
    fields = parse_field_selector(field_selector) if field_selector else []
    refine = bool(fields or sort_by or show_labels or label_columns)
    snap = snapshot(
        cluster, need_pods=any(k.needs_pods for k in kinds), need_nodes=any(k.kind == "Node" for k in kinds)
    )
    found = False
    if is_object_format(fmt):
        objs = [
            (k, o)
            for k in kinds
            for o in _refine(k.handler("objects")(snap, k, name, namespace, all_ns, selector), fields, sort_by)
        ]
        if fmt == "name":
            for k, o in objs:
                console.out.print(f"{k.resource}/{o['metadata']['name']}")
        elif objs or not name:
            print_objects([o for _, o in objs], fmt, single=bool(name) and len(objs) == 1)
        found = bool(objs)
    else:
        blocks = []
        for k in kinds:
            rows = [k.visible(r, fmt == "wide") for r in k.handler("rows")(snap, k, name, namespace, all_ns, selector)]
            if refine:
                rows = _refined_rows(
                    rows,
                    _refine(k.handler("objects")(snap, k, name, namespace, all_ns, selector), fields, sort_by),
                    namespace,
                    show_labels,
                    label_columns,
                )
            if len(kinds) > 1:
                for r in rows:
                    r["NAME"] = f"{k.resource}/{r['NAME']}"
            if rows:
                blocks.append(format_table(rows))
        found = bool(blocks)
        if blocks:
            console.out.print("\n\n".join(blocks))
    if not found:
        where = "" if all_ns else f" in {namespace} namespace"
        if name:
            from kcli.errors import KcliError

            err = KcliError(f'{kinds[0].plural} "{name}" not found')
            err.exit_code = 1
            raise err
        console.info(f"No resources found{where}.")
    if profile:
        print_profile(snap.stats)
    return found


def _refined_rows(
    rows: list[dict], objs: list[dict], namespace: str, show_labels: bool, label_columns: tuple[str, ...]
) -> list[dict]:
    """The table rows of ``objs`` (filtered and ordered), with -L columns and --show-labels."""
    by_key = {(r.get("NAMESPACE", namespace), r.get("NAME", "")): r for r in rows}
    out = []
    for o in objs:
        k = _key(o, namespace)
        r = by_key.get(k) or by_key.get((namespace, k[1])) or by_key.get(("", k[1]))
        if r is None:
            continue
        r = dict(r)
        labels = (o.get("metadata") or {}).get("labels") or {}
        for col in label_columns:
            r[col.rsplit("/", 1)[-1].upper()] = labels.get(col, "")
        if show_labels:
            r["LABELS"] = ",".join(f"{a}={b}" for a, b in sorted(labels.items())) or "<none>"
        out.append(r)
    return out


def complete_types(incomplete: str) -> list[str]:
    from kcli.cli.completion_cmds import resource_types

    return resource_types(incomplete)


def complete_names(ctx: typer.Context, incomplete: str) -> list[str]:
    from kcli.cli.completion_cmds import object_names

    return object_names(ctx, incomplete)


def watch_resources(
    cluster, kinds, name, fmt: str, namespace: str, all_ns: bool, selector_s: str | None, timeout: str | None
) -> None:
    """kubectl get -w: the table, then each row again whenever it changes (or appears), reading the
    hosts every 2 s, until Ctrl-C or ``timeout``."""
    import time

    from kcli.cli.output import format_table
    from kcli.cli.workload_get import snapshot
    from kcli.core.humanize import parse_duration
    from kcli.core.selectors import parse_selector
    from kcli.errors import UsageError

    if is_object_format(fmt):
        raise UsageError("--watch prints table rows: use -o wide or no -o")
    try:
        deadline = time.monotonic() + parse_duration(timeout) if timeout else float("inf")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    selector = parse_selector(selector_s) if selector_s else None
    seen: dict[tuple, dict] = {}
    columns: list[str] = []
    while True:
        snap = snapshot(
            cluster, need_pods=any(k.needs_pods for k in kinds), need_nodes=any(k.kind == "Node" for k in kinds)
        )
        rows = [
            (k, k.visible(r, fmt == "wide"))
            for k in kinds
            for r in k.handler("rows")(snap, k, name, namespace, all_ns, selector)
        ]
        changed = []
        for k, r in rows:
            key = (k.kind, r.get("NAMESPACE", ""), r.get("NAME", ""))
            stable = {c: v for c, v in r.items() if c != "AGE"}
            if seen.get(key) != stable:
                seen[key] = stable
                changed.append(r)
        if changed:
            if not columns:
                columns = list(changed[0])
                console.out.print(format_table(changed, columns))
            else:  # later rows: padded on their own, as kubectl's tabwriter pads each flush
                console.out.print("\n".join(format_table([r], columns).splitlines()[1] for r in changed))
        if time.monotonic() + 2.0 > deadline:
            return
        time.sleep(2.0)


def register(app: typer.Typer) -> None:
    @app.command()
    def get(
        kind: str = typer.Argument(
            ...,
            help="Resource type: nodes, pods, deployments, rs, ds, jobs, cm, secrets, ns, svc, all",
            autocompletion=complete_types,
        ),
        name: str = typer.Argument(None, autocompletion=complete_names),
        output: str = options.Output,
        namespace: str = typer.Option("default", "-n", "--namespace"),
        all_namespaces: bool = typer.Option(False, "-A", "--all-namespaces"),
        selector: str = typer.Option(None, "-l", "--selector", help="Label selector, e.g. app=web"),
        field_selector: str = typer.Option(
            None, "--field-selector", help="e.g. spec.nodeName=node1,status.phase=Running (=, ==, !=)"
        ),
        sort_by: str = typer.Option(None, "--sort-by", help="JSONPath to sort by, e.g. .metadata.name"),
        show_labels: bool = typer.Option(False, "--show-labels", help="A LABELS column."),
        label_columns: list[str] = typer.Option([], "-L", "--label-columns", help="A column with this label's value."),
        watch: bool = typer.Option(
            False, "-w", "--watch", help="After the list, print rows as they change (polls every 2 s)."
        ),
        timeout: str = typer.Option(None, "--timeout", help="With --watch: stop after this long (30s, 5m)."),
        inventory: str = options.Inventory,
        profile: bool = options.Profile,
    ) -> None:
        """Display resources, read live from the hosts (kubectl columns)."""
        from kcli.cli.kinds import resolve_list
        from kcli.shell.facade import Cluster

        fmt = check_format(output)
        kinds = resolve_list(kind)
        with Cluster.load(inventory) as cluster:
            if watch:
                watch_resources(cluster, kinds, name, fmt, namespace, all_namespaces, selector, timeout)
                return
            extra = bool(field_selector or sort_by or show_labels or label_columns)
            if any(k.needs_pods for k in kinds):  # the look begins now and overlaps the imports still to come
                cluster.start_look("view")
            if (
                [k.kind for k in kinds] == ["Node"]
                and not fmt.startswith(("jsonpath=", "custom-columns="))
                and not extra
            ):
                from kcli.cli.node_cmds import get_nodes

                get_nodes(cluster, kinds[0], name, fmt, selector, profile)
                return
            get_resources(
                cluster,
                kinds,
                name,
                fmt,
                namespace,
                all_namespaces,
                selector,
                profile,
                field_selector=field_selector,
                sort_by=sort_by,
                show_labels=show_labels,
                label_columns=tuple(c for arg in label_columns for c in arg.split(",") if c),
            )

    @app.command()
    def events(
        output: str = options.Output,
        namespace: str = typer.Option("default", "-n", "--namespace"),
        all_namespaces: bool = typer.Option(False, "-A", "--all-namespaces"),
        inventory: str = options.Inventory,
    ) -> None:
        """The events kcli recorded with each change (kubectl events)."""
        from kcli.cli.kinds import BY_KIND
        from kcli.shell.facade import Cluster

        fmt = check_format(output)
        with Cluster.load(inventory) as cluster:
            get_resources(cluster, [BY_KIND["Event"]], None, fmt, namespace, all_namespaces, None, False)

    @app.command()
    def wait(
        resource: list[str] = typer.Argument(..., help="TYPE/NAME (or TYPE NAME): pod/web, deployment/web, job/pi"),
        for_: str = typer.Option(..., "--for", help="condition=Ready|Available|Complete|…, or delete"),
        timeout: str = typer.Option("30s", "--timeout", help="How long to wait (30s, 2m)."),
        namespace: str = typer.Option("default", "-n", "--namespace"),
        inventory: str = options.Inventory,
    ) -> None:
        """Wait until an object has a condition (or is gone), reading the hosts every 2 s (kubectl wait)."""
        import time

        from kcli.cli.kinds import resolve
        from kcli.core.humanize import parse_duration
        from kcli.errors import KcliError, UsageError
        from kcli.shell.facade import Cluster

        if len(resource) == 1 and "/" in resource[0]:
            type_, _, name = resource[0].partition("/")
        elif len(resource) == 2:
            type_, name = resource
        else:
            raise UsageError("name one object: TYPE/NAME or TYPE NAME")
        kind = resolve(type_)
        want, _, cond = for_.partition("=")
        if not (for_ == "delete" or (want == "condition" and cond)):
            raise UsageError(f'--for: "{for_}" is not condition=NAME or delete')
        try:
            seconds = parse_duration(timeout)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        cond, _, value = cond.partition("=")
        deadline = time.monotonic() + seconds
        from kcli.cli.workload_get import snapshot

        with Cluster.load(inventory) as cluster:
            while True:
                snap = snapshot(cluster, need_pods=True)
                objs = kind.handler("objects")(snap, kind, name, namespace, False, None)
                if for_ == "delete" and not objs:
                    console.out.print(f"{kind.resource}/{name} deleted")
                    return
                conditions = [c for o in objs for c in (o.get("status") or {}).get("conditions") or []]
                if objs and any(
                    c.get("type", "").lower() == cond.lower()
                    and str(c.get("status", "")).lower() == (value or "true").lower()
                    for c in conditions
                ):
                    console.out.print(f"{kind.resource}/{name} condition met")
                    return
                if time.monotonic() >= deadline:
                    err = KcliError(f"timed out waiting for the condition on {kind.plural}/{name}")
                    err.exit_code = 1
                    raise err
                time.sleep(min(2.0, max(0.0, deadline - time.monotonic())))

    @app.command()
    def describe(
        kind: str = typer.Argument(...),
        name: str = typer.Argument(...),
        namespace: str = typer.Option("default", "-n", "--namespace"),
        inventory: str = options.Inventory,
    ) -> None:
        """Show details of a resource, with conditions and the reasons behind them."""
        from kcli.cli.kinds import resolve
        from kcli.shell.facade import Cluster

        k = resolve(kind)
        with Cluster.load(inventory) as cluster:
            k.handler("describe")(cluster, k, name, namespace)
