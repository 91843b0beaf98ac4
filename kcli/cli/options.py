"""Options shared by several commands."""

from __future__ import annotations

import typer

Inventory = typer.Option(
    None, "--inventory", "-i", help="Inventory file (default: $KCLI_INVENTORY, then the current context).", envvar=None
)
Output = typer.Option(None, "--output", "-o", help="Output format: wide, json, yaml or name.")
Parallel = typer.Option(32, "--parallel", help="Hosts handled at once.")
Profile = typer.Option(False, "--profile", help="Print per-host round trips, bytes and time.")
InventoryLong = typer.Option(None, "--inventory", help="Inventory file (-i means --stdin here, as in kubectl).")


def _quiet(value: bool) -> bool:
    if value:
        from kcli.cli import console

        console.set_quiet(True)
    return value


Quiet = typer.Option(
    False, "--quiet", "-q", help="Errors and warnings only: no progress, no informational lines.", callback=_quiet
)
