"""`kcli logs`, `kcli exec`: find the pod's container on its node, then talk to docker there
(both through the cluster facade)."""

from __future__ import annotations

import typer

from kcli.cli import console, options


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
        from kcli.shell.facade import Cluster

        if not pod and not selector:
            raise UsageError("a pod name or -l SELECTOR is required")
        with Cluster.load(inventory) as cluster:
            targets = cluster.containers(namespace, pod, container, selector, log=console.info)
            if selector and tail == -1:
                tail = 10  # kubectl's default with a selector
            for ref in targets:
                if follow:
                    raise typer.Exit(cluster.follow_logs(ref, tail=tail))
                text = cluster.logs(ref, tail=tail)
                if len(targets) > 1:
                    text = "".join(f"[pod/{ref.pod}] {ln}\n" for ln in text.splitlines())
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
        from kcli.shell.facade import Cluster

        cmd = list(ctx.args)
        if cmd and cmd[0] == "--":
            cmd = cmd[1:]
        if not cmd:
            raise UsageError("you must specify at least one command for the container: kcli exec POD -- CMD")
        with Cluster.load(inventory) as cluster:
            ref = cluster.containers(namespace, pod, container, None, log=console.info)[0]
            code = cluster.exec(ref, cmd, stdin=stdin, tty=tty)
        raise typer.Exit(code)
