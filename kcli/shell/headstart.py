"""A head start for the commands that begin by reading the nodes: their first round trip starts
while the CLI is still importing.

``kcli`` spends ~0.3 s importing (typer, rich, yaml, paramiko, the planner) before a command's
code runs, and only then connects to the nodes; for ``apply``, ``get`` and ``delete`` the wait
for the nodes is most of the rest. ``begin(argv)``, called first thing by the entry point, guesses
from the command line which inventory and state the command will use and what it reads first,
and starts it: load the inventory, then open the SSH connections and run the command's first
read-only round trip in background threads (``SshConnection.start_call``). The command then gets that
cluster from ``Cluster.load`` when it asks for the same inventory and state (``take``); a result
started early is only used by a run of exactly the same command (anything else drops it), so a
wrong guess costs the background work and nothing else. Nothing here writes to a node.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kcli.shell.facade import Cluster

# `get` kinds read from the state alone (no look at the pods): no head start for them (the kinds
# registry's needs_pods=False; tests/unit/test_headstart.py keeps the two in step).
_STATE_ONLY = frozenset(
    "services service svc configmaps configmap cm secrets secret serviceaccounts serviceaccount sa "
    "namespaces namespace ns persistentvolumeclaims persistentvolumeclaim pvc persistentvolumes "
    "persistentvolume pv events event ev".split()
)
_NODES = frozenset(("node", "nodes", "no"))
# The reading of one command line: (what to start, --inventory, --state).
_INVENTORY_FLAGS = ("-i", "--inventory")
_COMMANDS = ("apply", "get", "delete", "describe")


@dataclass(frozen=True)
class HeadStart:
    """What a command line will read first: ``what`` is "apply" (apply's look before the lock),
    "view" (get's look at the pods), "nodes" (get nodes' probe) or "connect" (connections only)."""

    what: str
    inventory: str | None
    state: str | None


def head_start(argv: Sequence[str]) -> HeadStart | None:
    """The head start for ``kcli ARGV`` (without the program name), or None. Pure; a guess that
    may be wrong (then the head start is not used), never a parse the command relies on."""
    if not argv or argv[0] not in _COMMANDS:
        return None
    cmd, rest = argv[0], list(argv[1:])
    if any(a in ("-h", "--help", "--version") for a in rest):
        return None
    inventory = _value(rest, _INVENTORY_FLAGS)
    state = _value(rest, ("--state",))
    positional = _positional(rest)
    if cmd == "apply":
        if any(a in ("--dry-run=client",) for a in rest) or _value(rest, ("--dry-run",)) == "client":
            return None
        return HeadStart("apply", inventory, state)
    if cmd == "get":
        kind = positional[0].lower() if positional else ""
        if not kind or any(a in ("-w", "--watch") for a in rest):
            return None
        if kind in _NODES:
            return HeadStart("nodes", inventory, None)
        if all(k in _STATE_ONLY for k in kind.split(",")):
            return None
        return HeadStart("view", inventory, None)
    if cmd == "delete":  # its first look is apply's (delete runs through the same converge)
        return HeadStart("apply", inventory, state)
    return HeadStart("connect", inventory, None)


def _value(args: list[str], flags: Sequence[str]) -> str | None:
    """The last value given to one of ``flags`` (``-i X``, ``-iX``, ``--inventory X``, ``--inventory=X``)."""
    found = None
    for i, a in enumerate(args):
        for f in flags:
            if a == f and i + 1 < len(args):
                found = args[i + 1]
            elif f.startswith("--") and a.startswith(f + "="):
                found = a[len(f) + 1 :]
            elif not f.startswith("--") and a.startswith(f) and len(a) > len(f) and not a.startswith("--"):
                found = a[len(f) :]
    return found


# options of apply / get / delete / describe that take a value (so their value is not a positional)
_TAKES_VALUE = frozenset(
    "-f --filename --values --set -o --output --lock-wait --timeout -i --inventory --state -n --namespace "
    "-l --selector --field-selector --sort-by -L --label-columns --cascade --dry-run".split()
)


def _positional(args: list[str]) -> list[str]:
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a.startswith("-"):
            skip = a in _TAKES_VALUE
        else:
            out.append(a)
    return out


def _open(start: HeadStart) -> Cluster | None:
    """The cluster of ``start`` with its connections and first round trip under way (threads),
    or None when it cannot be opened (the command reports its own errors). The TCP connections
    open first (kcli.shell.presock), then the SSH handshakes start, then the rest is imported."""
    try:
        from kcli.shell import presock
        from kcli.shell.config import load_inventory

        inv = load_inventory(start.inventory)
        presock.start(inv)
        from kcli.shell.transport import SshPool

        pool = SshPool(inv)
        pool.start_connect()
        from kcli.shell.facade import Cluster

        cluster = Cluster(inv, start.state, pool=pool)
        if start.what == "nodes":
            cluster.start_nodes()
        elif start.what != "connect":
            cluster.start_look(start.what)
        return cluster
    except Exception:  # noqa: BLE001 - only a head start
        return None


_early: tuple[HeadStart, Cluster] | None = None


def begin(argv: Sequence[str]) -> None:
    """Start the head start for this command line, if it has one. The little it computes (the
    inventory, the imports SSH needs: ~0.1 s) runs here, before the CLI's own imports, which then
    overlap the connections and the round trip (threads of their own)."""
    global _early
    if os.environ.get("KCLI_HEAD_START") == "0" or _early is not None:  # off: to compare, or rule it out
        return
    start = head_start(argv)
    cluster = _open(start) if start is not None else None
    if start is not None and cluster is not None:
        _early = (start, cluster)


def take(inventory: str | None, state: str | None) -> Cluster | None:
    """The cluster started early, when the command asks for the same inventory and state (first
    ask only); else None, and the early connections are closed."""
    global _early
    early, _early = _early, None
    if early is None:
        return None
    start, cluster = early
    if (start.inventory, start.state) != (inventory, state):
        cluster.close()
        return None
    return cluster
