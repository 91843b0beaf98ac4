"""kcli command line: parse → one shell call → render → exit code (mapped once, in main)."""

from __future__ import annotations

import os
import sys

import typer

try:  # typer >= 0.20 vendors click; older typer depends on it
    from typer import _click as click
except ImportError:  # pragma: no cover - depends on the installed typer
    import click  # type: ignore[no-redef]  # the click that typer._click vendors

from kcli import __version__
from kcli.cli import console, options
from kcli.errors import KcliError

app = typer.Typer(
    name="kcli",
    help="Kubernetes semantics without a control plane: manifests → docker hosts over SSH.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain click help: rich help imports rich.markdown (+0.1 s per call)
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command()
def version() -> None:
    """Print kcli's version."""
    console.out.print(f"kcli v{__version__}")


def _print_version(value: bool) -> None:
    if value:
        version()
        raise typer.Exit(0)


@app.callback()
def _global(
    quiet: bool = options.Quiet,
    show_version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Print kcli's version and exit."
    ),
) -> None:
    """Options for every command (also accepted after the command where it lists them: `kcli apply -q`)."""


# The command modules, in the order `kcli --help` lists them, with the top-level commands each
# registers (tests/unit/test_cli_registry.py checks the names against what they register).
MODULES: dict[str, tuple[str, ...]] = {
    "sandbox_cmds": ("sandbox",),
    "config_cmds": ("config",),
    "inventory_cmds": ("inventory",),
    "image_cmds": ("image",),
    "bootstrap_cmds": ("bootstrap", "reset"),
    "apply_cmds": ("apply", "delete"),
    "rollout_cmds": ("scale", "rollout", "set"),
    "reconcile_cmds": ("reconcile",),
    "cordon_cmds": ("cordon", "uncordon", "drain"),
    "get_cmds": ("get", "events", "wait", "describe"),
    "diff_cmds": ("diff",),
    "pod_cmds": ("logs", "exec"),
    "state_cmds": ("unlock", "history", "lock", "state"),
    "service_cmds": ("verify",),
    "completion_cmds": ("completion",),
}


def modules_for(args: list[str]) -> list[str]:
    """The command modules a command line needs: the one that defines its command, or all of them
    (help, completion, an unknown command, global options first). Building the other ~50 commands
    (typer reads every signature) and importing their modules costs ~50 ms per command."""
    if args and not args[0].startswith("-") and not os.environ.get("_KCLI_COMPLETE"):
        for mod, names in MODULES.items():
            if args[0] in names:
                return [mod]
    return list(MODULES)


def _register(modules: list[str]) -> None:
    """Register the command modules (their top-level imports are light: typer; the work is
    imported inside each command)."""
    import importlib

    for mod in modules:
        importlib.import_module(f"kcli.cli.{mod}").register(app)


_registered = False


def _ensure_registered(args: list[str]) -> None:
    global _registered
    if not _registered:
        _registered = True
        _register(modules_for(args))


def _argv() -> list[str]:
    """kubectl accepts a bare `--dry-run` on apply/delete (the server-side dry run) and `--wait=false`."""
    args = sys.argv[1:]
    if args and args[0] in ("apply", "delete", "scale"):
        args = ["--dry-run=server" if a == "--dry-run" else a for a in args]
    if args and args[0] == "apply":  # kubectl's --wait=false / --wait=true
        flags = {
            "--wait=false": "--no-wait",
            "--wait=true": "--wait",
            "--wait=False": "--no-wait",
            "--wait=True": "--wait",
        }
        args = [flags.get(a, a) for a in args]
    return args


def main() -> None:
    """Entry point: user errors print one line (plus details) and exit with their code."""
    debug = os.environ.get("KCLI_DEBUG") == "1"
    if os.environ.get("_KCLI_COMPLETE"):  # a shell asks for completions (kcli completion SHELL)
        from kcli.cli.completion_cmds import enable

        _ensure_registered([])
        enable()
        app(prog_name="kcli")
        return
    args = _argv()
    _ensure_registered(args)
    try:
        rv = app(args=args, standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except KcliError as exc:  # kubectl's own errors (bare) print as kubectl prints them
        console.error(exc.message if getattr(exc, "bare", False) else f"{exc.message} ({type(exc).__name__})")
        for line in exc.details:
            console.err.print(f"  {line}")
        code = exc.exit_code
    except typer.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except (KeyboardInterrupt, typer.Abort):
        console.error("interrupted")
        code = 130
    except Exception as exc:  # noqa: BLE001 - the one place internal errors are caught
        if debug:
            raise
        console.error(f"internal error: {type(exc).__name__}: {exc} (run with KCLI_DEBUG=1 for the traceback)")
        code = 1
    sys.stdout.flush()
    sys.exit(code)
