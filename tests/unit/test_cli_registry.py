"""kcli.cli.app: a command line registers only the module of its command; the table of modules
names exactly the commands each registers."""

from __future__ import annotations

import importlib

import pytest
import typer

from kcli.cli.app import MODULES, modules_for


def _registered(mod: str) -> tuple[str, ...]:
    app = typer.Typer()
    importlib.import_module(f"kcli.cli.{mod}").register(app)
    names = [c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands]
    names += [g.name or g.typer_instance.info.name for g in app.registered_groups]
    return tuple(names)


@pytest.mark.parametrize("mod", sorted(MODULES))
def test_the_table_names_what_each_module_registers(mod):
    assert _registered(mod) == MODULES[mod]


def test_no_command_is_in_two_modules():
    names = [n for ns in MODULES.values() for n in ns]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("args", "want"),
    [
        (["apply", "-f", "x"], ["apply_cmds"]),
        (["delete", "pod", "x"], ["apply_cmds"]),
        (["get", "nodes"], ["get_cmds"]),
        (["rollout", "status", "deploy/web"], ["rollout_cmds"]),
        (["--help"], list(MODULES)),
        (["-q", "apply"], list(MODULES)),  # a global option first: all (typer finds the command)
        (["no-such-command"], list(MODULES)),  # typer's "No such command" and its help
        ([], list(MODULES)),
    ],
)
def test_modules_for(args, want, monkeypatch):
    monkeypatch.delenv("_KCLI_COMPLETE", raising=False)
    assert modules_for(args) == want


def test_completion_sees_every_command(monkeypatch):
    monkeypatch.setenv("_KCLI_COMPLETE", "complete_bash")
    assert modules_for(["apply"]) == list(MODULES)
