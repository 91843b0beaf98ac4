"""`kcli history`, `kcli lock status`, `kcli unlock --force`."""

from __future__ import annotations

import typer

from kcli.cli import console, options
from kcli.cli.output import print_table

lock = typer.Typer(help="The cluster lock (a majority of the lock nodes).", no_args_is_help=True, rich_markup_mode=None)


@lock.command("status")
def lock_status(inventory: str = options.Inventory) -> None:
    """Who holds the cluster lock, since when, and when it expires."""
    from kcli.shell.facade import Cluster

    with Cluster.load(inventory) as cluster:
        status = cluster.lock_status()
    for node in sorted([*status.answers, *status.unreachable]):
        line = (
            status.answers[node].describe() if node in status.answers else f"unreachable ({status.unreachable[node]})"
        )
        console.out.print(f"{node}: {line}")


state_app = typer.Typer(
    help="The git-tracked state: rebuild it from the cluster.", no_args_is_help=True, rich_markup_mode=None
)


@state_app.command("rebuild")
def state_rebuild(
    inventory: str = options.Inventory,
    state: str = typer.Option(None, "--state", help="State directory."),
    force: bool = typer.Option(False, "--force", help="Also when the local state is as new as the cluster's."),
) -> None:
    """Rebuild the local state from the one the cluster keeps (a new CI runner, a lost or stale state directory)."""
    from kcli.shell.facade import Cluster

    with Cluster.load(inventory, state) as cluster:
        host, generation, commit = cluster.rebuild_state(force=force)
    if commit is None and generation:
        console.info(f"state is current (generation {generation}); nothing to do (--force rewrites it)")
    else:
        console.info(
            f"state rebuilt from {host} (generation {generation}); "
            + (f"committed {commit}" if commit else "unchanged")
        )


def register(app: typer.Typer) -> None:
    app.add_typer(lock, name="lock")
    app.add_typer(state_app, name="state")

    @app.command()
    def unlock(
        force: bool = typer.Option(False, "--force", help="Required: removes the lock whoever holds it."),
        inventory: str = options.Inventory,
    ) -> None:
        """Remove the cluster lock (when its holder is known to be gone)."""
        from kcli.errors import UsageError
        from kcli.shell.facade import Cluster

        if not force:
            raise UsageError("unlock removes another run's lock: pass --force if you are sure it is gone")
        with Cluster.load(inventory) as cluster:
            nodes = cluster.force_unlock()
        console.info(f"lock removed on {', '.join(nodes)}")

    @app.command()
    def history(
        inventory: str = options.Inventory,
        state: str = typer.Option(None, "--state"),
        limit: int = typer.Option(20, "--limit"),
    ) -> None:
        """The state repository's commits: one per apply/bootstrap/reset that changed something."""
        from kcli.shell.facade import Cluster

        rows = [
            {"COMMIT": r["commit"], "DATE": r["date"], "CHANGE": r["subject"]}
            for r in Cluster.load(inventory, state).history(limit)
        ]
        print_table(rows, empty="No history yet.")
