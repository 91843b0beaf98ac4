"""`kcli history`, `kcli lock status`, `kcli unlock --force`."""

from __future__ import annotations

import typer

from kcli.cli import console, options
from kcli.cli.output import print_table

lock = typer.Typer(help="The cluster lock (held on the first control-plane node).", no_args_is_help=True)


@lock.command("status")
def lock_status(inventory: str = options.Inventory) -> None:
    """Who holds the cluster lock, since when, and when it expires."""
    from kcli.core.lock import lock_host, parse_lock, status_script
    from kcli.shell.config import load_inventory
    from kcli.shell.transport import SshPool

    inv = load_inventory(inventory)
    with SshPool(inv) as pool:
        host = lock_host(inv)
        info = parse_lock(pool.get(host).run(["sh", "-c", status_script()], check=True).stdout)
    console.out.print(f"{host.name}: {info.describe()}")


def register(app: typer.Typer) -> None:
    app.add_typer(lock, name="lock")

    @app.command()
    def unlock(force: bool = typer.Option(False, "--force", help="Required: removes the lock whoever holds it."),
               inventory: str = options.Inventory) -> None:
        """Remove the cluster lock (when its holder is known to be gone)."""
        from kcli.core.lock import force_unlock_script, lock_host
        from kcli.errors import UsageError
        from kcli.shell.config import load_inventory
        from kcli.shell.transport import SshPool

        if not force:
            raise UsageError("unlock removes another run's lock: pass --force if you are sure it is gone")
        inv = load_inventory(inventory)
        with SshPool(inv) as pool:
            pool.get(lock_host(inv)).run(["sh", "-c", force_unlock_script()], check=True)
        console.info("lock removed")

    @app.command()
    def history(inventory: str = options.Inventory, state: str = typer.Option(None, "--state"),
                limit: int = typer.Option(20, "--limit")) -> None:
        """The state repository's commits: one per apply/bootstrap/reset that changed something."""
        from kcli.shell.config import load_inventory
        from kcli.shell.statestore import StateStore, state_dir_for

        inv = load_inventory(inventory)
        rows = [{"COMMIT": r["commit"], "DATE": r["date"], "CHANGE": r["subject"]}
                for r in StateStore(state_dir_for(inv, state), inv.cluster).log(limit)]
        print_table(rows, empty="No history yet.")
