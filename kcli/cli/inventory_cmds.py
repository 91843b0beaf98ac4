"""`kcli inventory`: write inventories for hosts made by other tools (Vagrant)."""

from __future__ import annotations

from pathlib import Path

import typer

from kcli.cli import console
from kcli.cli.output import print_table

inventory = typer.Typer(
    help="Write an inventory (and its known_hosts) for hosts made by other tools.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@inventory.command("from-vagrant")
def from_vagrant(
    directory: Path = typer.Option(Path("vagrant"), "--dir", "-d", help="The directory of the Vagrantfile."),
    output: Path = typer.Option(Path("inventory/vagrant.yaml"), "--output", "-o", help="The inventory to write."),
    known_hosts: Path | None = typer.Option(
        None, "--known-hosts", help="The known_hosts to write (default: beside the inventory, NAME.known_hosts)."
    ),
    network: str = typer.Option(
        "192.168.56.0/24", "--network", help="The private network of the VMs: each node's address is taken there."
    ),
    cluster: str = typer.Option("vagrant", "--cluster", help="The cluster name in the inventory."),
    context: str | None = typer.Option(None, "--context", help="Also set this context and make it current."),
    from_file: Path | None = typer.Option(
        None, "--from-file", help="Recorded `vagrant ssh-config` output instead of running vagrant (needs --probes)."
    ),
    probes: Path | None = typer.Option(
        None, "--probes", help="With --from-file: a directory of NAME.txt, what each VM printed for kcli's probe."
    ),
    force: bool = typer.Option(False, "--force", help="Replace files that this command did not write."),
) -> None:
    """Read the running machines of a Vagrant environment (`vagrant ssh-config`, and each VM's host
    keys and private address through `vagrant ssh`) and write an inventory and its known_hosts."""
    from kcli.shell.vagrant import from_vagrant as _from_vagrant

    res = _from_vagrant(
        directory,
        output,
        known_hosts=known_hosts,
        from_file=from_file,
        probes_dir=probes,
        network=network,
        cluster=cluster,
        force=force,
        log=console.info,
    )
    print_table(
        [
            {
                "NODE": n.name,
                "ADDRESS": n.address,
                "USER": n.user,
                "ROLES": ",".join(n.roles),
                "HOST KEY": f"{n.keys[0].type} {n.keys[0].fingerprint}",
            }
            for n in res.generated.nodes
        ]
    )
    for w in res.warnings:
        console.warn(w)
    keys = sum(len(n.keys) for n in res.generated.nodes)
    console.info(f"inventory: {res.inventory}")
    console.info(f"known_hosts: {res.known_hosts} ({keys} host keys)")
    if context:
        from kcli.shell.config import set_context

        set_context(context, str(res.inventory.resolve()))
        console.info(f'context "{context}" set and current')


def register(app: typer.Typer) -> None:
    app.add_typer(inventory, name="inventory")
