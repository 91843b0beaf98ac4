"""`kcli config`: contexts (like kubeconfig); `sandbox up` adds and selects one."""

from __future__ import annotations

import typer

from kcli.cli import console
from kcli.cli.output import print_table

config = typer.Typer(help="Contexts: which inventory later commands use.", no_args_is_help=True, rich_markup_mode=None)


@config.command("get-contexts")
def get_contexts() -> None:
    """List contexts; the current one is marked with *."""
    from kcli.shell.config import read_config

    cfg = read_config()
    rows = [
        {"CURRENT": "*" if name == cfg.get("current-context") else "", "NAME": name, "INVENTORY": c["inventory"]}
        for name, c in sorted(cfg["contexts"].items())
    ]
    print_table(rows, empty="No contexts; `kcli sandbox up` creates one.")


@config.command("current-context")
def current_context() -> None:
    """Print the current context."""
    from kcli.errors import UsageError
    from kcli.shell.config import read_config

    cur = read_config().get("current-context")
    if not cur:
        raise UsageError("current-context is not set")
    console.out.print(cur)


@config.command("use-context")
def use_context(name: str) -> None:
    """Make NAME the current context."""
    from kcli.shell.config import use_context as _use

    _use(name)
    console.info(f'Switched to context "{name}".')


@config.command("set-context")
def set_context(name: str, inventory: str = typer.Option(..., "--inventory", "-i")) -> None:
    """Create or update a context pointing at an inventory file."""
    from pathlib import Path

    from kcli.shell.config import set_context as _set

    _set(name, str(Path(inventory).resolve()), use=False)
    console.info(f'Context "{name}" set.')


def register(app: typer.Typer) -> None:
    app.add_typer(config, name="config")
