"""`kcli logs`, `kcli exec`: find the pod's container on its node, then talk to docker there."""

from __future__ import annotations


import typer

from kcli.cli import console, options


def find_containers(inv, namespace: str, pod: str | None, container: str | None, selector: str | None):
    """[(host, container id, pod name)] for one pod (or every pod matching a selector)."""
    from kcli.core.selectors import matches, parse_selector
    from kcli.errors import KcliError, UsageError
    from kcli.shell.clusterview import observe_cluster
    from kcli.shell.transport import SshPool

    with SshPool(inv) as pool:
        view, _ = observe_cluster(pool, inv)
    sel = parse_selector(selector) if selector else None
    pods = [p for p in view.all_pods() if p.namespace == namespace and (p.name == pod if pod else matches(sel, p.labels))]
    if not pods:
        err = KcliError(f'pods "{pod}" not found' if pod else "no pods match the selector")
        err.exit_code = 1
        raise err
    out = []
    for p in pods:
        apps = [c for c in p.containers if c.kind in ("container", "init")]
        if container:
            chosen = [c for c in apps if c.name == container]
            if not chosen:
                raise UsageError(f"container {container} is not valid for pod {p.name}: choose one of [{' '.join(c.name for c in apps)}]")
        else:
            main = [c for c in apps if c.kind == "container"]
            if len(main) > 1 and pod:
                console.info(f'Defaulted container "{main[0].name}" out of: {", ".join(c.name for c in main)}')
            chosen = main[:1] or apps[:1]
        out += [(inv.host(p.node), chosen[0].id, p.name)]
    return out


def register(app: typer.Typer) -> None:
    @app.command()
    def logs(
        pod: str = typer.Argument(None),
        container: str = typer.Option(None, "-c", "--container"),
        follow: bool = typer.Option(False, "-f", "--follow"),
        tail: int = typer.Option(-1, "--tail", help="Lines from the end (-1: all)."),
        selector: str = typer.Option(None, "-l", "--selector"),
        namespace: str = typer.Option("default", "-n", "--namespace"),
        inventory: str = options.Inventory,
    ) -> None:
        """Print a container's logs (docker logs on its node)."""
        from kcli.errors import UsageError
        from kcli.shell.config import load_inventory
        from kcli.shell.transport import SshPool, run_interactive

        if not pod and not selector:
            raise UsageError("a pod name or -l SELECTOR is required")
        inv = load_inventory(inventory)
        targets = find_containers(inv, namespace, pod, container, selector)
        if selector and tail == -1:
            tail = 10  # kubectl's default with a selector
        with SshPool(inv) as pool:
            for host, cid, name in targets:
                argv = ["docker", "logs", *(["--tail", str(tail)] if tail >= 0 else []), *(["-f"] if follow else []), cid]
                if follow:
                    raise typer.Exit(run_interactive(pool.get(host), argv, tty=False, stdin=False))
                res = pool.get(host).run(argv, timeout=120)
                text = res.stdout + res.stderr
                if len(targets) > 1:
                    text = "".join(f"[pod/{name}] {ln}\n" for ln in text.splitlines())
                console.out.file.write(text)
                console.out.file.flush()

    @app.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def exec_(
        ctx: typer.Context,
        pod: str = typer.Argument(...),
        container: str = typer.Option(None, "-c", "--container"),
        stdin: bool = typer.Option(False, "-i", "--stdin"),
        tty: bool = typer.Option(False, "-t", "--tty"),
        namespace: str = typer.Option("default", "-n", "--namespace"),
        inventory: str = options.InventoryLong,
    ) -> None:
        """Run a command in a container: kcli exec [-it] POD [-c C] -- CMD [ARGS...]."""
        from kcli.errors import UsageError
        from kcli.shell.config import load_inventory
        from kcli.shell.transport import SshPool, run_interactive

        cmd = list(ctx.args)
        if cmd and cmd[0] == "--":
            cmd = cmd[1:]
        if not cmd:
            raise UsageError("you must specify at least one command for the container: kcli exec POD -- CMD")
        inv = load_inventory(inventory)
        host, cid, _ = find_containers(inv, namespace, pod, container, None)[0]
        flags = (["-i"] if stdin else []) + (["-t"] if tty else [])
        with SshPool(inv) as pool:
            code = run_interactive(pool.get(host), ["docker", "exec", *flags, cid, *cmd], tty=tty, stdin=stdin)
        raise typer.Exit(code)
