"""`kcli sandbox`: a local cluster of node containers to try kcli on (like kind)."""

from __future__ import annotations

import os

import typer

from kcli.cli import console
from kcli.cli.output import print_table

sandbox = typer.Typer(
    help="A local multi-node cluster in docker containers (sshd + docker per node).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
Name = typer.Option("kcli", "--name", help="Sandbox name (also the context name).")


@sandbox.command()
def up(
    nodes: int = typer.Option(3, "--nodes", "-n", help="Number of nodes."),
    name: str = Name,
    init: str = typer.Option("systemd", "--init", help="Node init: systemd (PID 1) or none (plain entrypoint)."),
) -> None:
    """Create (or reuse) the sandbox and make its inventory the current context."""
    from kcli.shell.sandbox import cluster

    sb, t = cluster.up(name, nodes, init, log=console.info)
    console.info(
        f"sandbox {name}: {len(sb.nodes)} nodes ready in {t['total']}s "
        f"(image {t['image_source']} {t['image']}s, nodes {t['nodes_ready']}s)"
    )
    console.info(f"inventory: {sb.inventory_path} (context {name!r} is now current)")


@sandbox.command()
def down(name: str = Name) -> None:
    """Remove exactly what `up` created: containers, volumes, network, context."""
    from kcli.shell.sandbox import cluster

    n = cluster.down(name, log=console.info)
    console.info(f"sandbox {name}: removed {n} docker objects")


@sandbox.command()
def status(name: str = Name) -> None:
    """Show the sandbox's node containers."""
    from kcli.shell.sandbox import cluster

    rows = [
        {"NODE": r["name"], "CONTAINER": r["container"], "ADDRESS": r["address"], "STATE": r["state"]}
        for r in cluster.status(name)
    ]
    print_table(rows)


@sandbox.command("stop-node")
def stop_node(node: str, name: str = Name) -> None:
    """Stop one node container (a crash / power-off)."""
    from kcli.shell.sandbox import cluster

    cluster.stop_node(name, node)
    console.info(f"{node} stopped")


@sandbox.command("start-node")
def start_node(node: str, name: str = Name) -> None:
    """Start a stopped node and wait until ssh and docker answer (its network state is gone, like after a reboot)."""
    from kcli.shell.sandbox import cluster

    cluster.start_node(name, node)
    console.info(f"{node} started")


@sandbox.command("ssh", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def ssh(ctx: typer.Context, node: str, name: str = Name) -> None:
    """Open a shell on NODE (or run the extra arguments there), with strict host-key checking."""
    from kcli.shell.sandbox import cluster

    argv = cluster.ssh_argv(name, node, list(ctx.args))
    os.execvp(argv[0], argv)


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox, name="sandbox")
