"""`kcli diff`: what apply/bootstrap would change, including drift found on the hosts.
Exit codes follow kubectl diff: 0 no differences, 1 differences, >1 error."""

from __future__ import annotations

import typer

from kcli.cli import console, options
from kcli.cli.output import format_table


def node_differences(cluster) -> list[dict[str, str]]:
    """Host setup and overlay drift per node, from one observation round trip (bootstrap --dry-run)."""
    if not cluster.has_state():
        return [{"OBJECT": "cluster", "CHANGE": "not bootstrapped", "DETAIL": "run kcli bootstrap"}]
    report = cluster.bootstrap(dry_run=True)
    rows = [{"OBJECT": f"node/{c.host}", "CHANGE": f"preflight {c.name}", "DETAIL": c.message} for c in report.blockers]
    for host, steps in report.steps.items():
        rows += [{"OBJECT": f"node/{host}", "CHANGE": s.name, "DETAIL": s.detail} for s in steps if s.changed]
    return rows


def register(app: typer.Typer) -> None:
    @app.command()
    def diff(
        filename: list[str] = typer.Option(None, "--filename", "-f", help="Manifests to compare with the hosts."),
        recursive: bool = typer.Option(False, "-R", "--recursive"),
        values: list[str] = typer.Option([], "--values", help="YAML values for *.j2 templates."),
        set_: list[str] = typer.Option([], "--set", help="key=value for *.j2 templates."),
        inventory: str = options.Inventory,
        state: str = typer.Option(None, "--state"),
    ) -> None:
        """Show what differs between the wanted state and the hosts (exit 1 when anything does)."""
        from kcli.errors import KcliError

        try:
            _diff(filename, recursive, values, set_, inventory, state)
        except KcliError as exc:
            if exc.exit_code == 1:  # kubectl diff: >1 means error, 1 means differences
                exc.exit_code = 2
            raise

    def _diff(filename, recursive, values, set_, inventory, state) -> None:
        from kcli.shell.facade import Cluster

        with Cluster.load(inventory, state) as cluster:
            rows = node_differences(cluster)
            if filename:
                from kcli.cli import workload_diff  # provided with the workloads (manifests) pipeline

                rows += workload_diff.differences(cluster, filename, recursive=recursive, values=values, sets=set_)
        if rows:
            console.out.print(format_table(rows))
            raise typer.Exit(1)
        console.info("no differences")
