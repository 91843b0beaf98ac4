"""`kcli completion bash|zsh|fish`: the shell's completion script. Completing runs kcli itself
(``_KCLI_COMPLETE=complete_bash``, handled in kcli.cli.app.main): commands and options, resource
types for get/describe/delete, object names from the state, nodes from the inventory."""

from __future__ import annotations

import typer

from kcli.cli import console

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_KCLI_COMPLETE"


def enable() -> None:
    """Register typer's completion classes (kcli turns typer's own --install-completion off)."""
    from typer._completion_classes import completion_init

    completion_init()


def resource_types(incomplete: str) -> list[str]:
    """What kubectl users type for a resource type: plural, singular and short names."""
    from kcli.cli.kinds import KINDS

    names = sorted({n for k in KINDS for n in k.names} | {"all"})
    return [n for n in names if n.startswith(incomplete)]


def object_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """Names of the objects of the type already typed, from the state (nodes: the inventory)."""
    try:
        from kcli.cli.kinds import resolve
        from kcli.shell.facade import Cluster

        kind = resolve(str(ctx.params.get("kind") or ""))
        with Cluster.load(ctx.params.get("inventory")) as cluster:  # reads files only: no connection is opened
            if kind.kind == "Node":
                names = [h.name for h in cluster.inv.hosts]
            else:
                state = cluster.state()
                if kind.kind == "Pod":
                    names = [k.split("/", 1)[1] for k in (state.get("pods") or {})]
                else:
                    names = [
                        str(((r.get("lastApplied") or {}).get("metadata") or {}).get("name", ""))
                        for r in (state.get("objects") or {}).values()
                        if (r.get("lastApplied") or {}).get("kind") == kind.kind
                    ]
    except Exception:  # noqa: BLE001 - completion never fails loudly
        return []
    return sorted(n for n in set(names) if n.startswith(incomplete))


def register(app: typer.Typer) -> None:
    @app.command()
    def completion(shell: str = typer.Argument(..., help="bash, zsh or fish")) -> None:
        """Print the shell completion script: `source <(kcli completion bash)`."""
        from kcli.errors import UsageError

        if shell not in SHELLS:
            raise UsageError(f'unsupported shell "{shell}": use one of {", ".join(SHELLS)}')
        enable()
        from typer._completion_shared import get_completion_script

        console.out.print(
            get_completion_script(prog_name="kcli", complete_var=COMPLETE_VAR, shell=shell),
            markup=False,
            highlight=False,
        )
