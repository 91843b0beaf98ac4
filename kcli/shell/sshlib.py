"""paramiko, imported lean: without invoke and without importlib.metadata (75 ms of imports
that kcli's SSH does not need, on every command that talks to a node)."""

from __future__ import annotations

import os
import sys
import types
from typing import TYPE_CHECKING, Any

# paramiko.config imports invoke (and with it asyncio and unittest.mock: 45 ms per command) only for
# ssh_config's "Match exec", which kcli never uses; kcli does not use invoke itself.
if "invoke" not in sys.modules:
    sys.modules["invoke"] = None  # type: ignore[assignment]  # `import invoke` raises ImportError


def _dist_version(package: str) -> str | None:
    """The version in the name of ``package``'s ``NAME-VERSION.dist-info`` beside it, without
    importlib.metadata; None when there is not exactly one."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        return None
    site = os.path.dirname(os.path.dirname(spec.origin))
    try:
        found = [n for n in os.listdir(site) if n.startswith(f"{package}-") and n.endswith(".dist-info")]
    except OSError:
        return None
    return found[0][len(package) + 1 : -len(".dist-info")] if len(found) == 1 else None


def _import_paramiko() -> types.ModuleType:
    """``import paramiko``, whose ``__init__`` reads its own version with importlib.metadata (30 ms
    of imports: email, zipfile, csv, ...): while it imports, ``importlib.metadata`` is a stand-in
    that answers ``version("paramiko")`` from the dist-info directory's name (anything else loads
    the real module). The SSH banner keeps paramiko's true version."""
    version = None
    if "paramiko" not in sys.modules and "importlib.metadata" not in sys.modules:
        version = _dist_version("paramiko")
    if version is None:  # imported already, or no single dist-info: the plain import
        import paramiko

        return paramiko

    import importlib

    own: str = version

    class StandIn(types.ModuleType):
        def version(self, name: str) -> str:
            return own if name == "paramiko" else str(self._real().version(name))

        def _real(self) -> types.ModuleType:
            sys.modules.pop("importlib.metadata", None)
            if getattr(importlib, "metadata", None) is self:
                del importlib.metadata
            return importlib.import_module("importlib.metadata")

        def __getattr__(self, name: str) -> Any:
            return getattr(self._real(), name)

    stand_in = StandIn("importlib.metadata")
    sys.modules["importlib.metadata"] = stand_in
    importlib.metadata = stand_in  # `from importlib import metadata` finds it there
    try:
        import paramiko
    finally:
        if sys.modules.get("importlib.metadata") is stand_in:
            del sys.modules["importlib.metadata"]
        if getattr(importlib, "metadata", None) is stand_in:
            del importlib.metadata
    return paramiko


if TYPE_CHECKING:
    import paramiko
else:
    paramiko = _import_paramiko()


def _quiet_paramiko_log() -> None:
    """paramiko logs what kcli reports itself (a refused channel, a failed handshake) and, with no
    handler configured, Python would print those records on stderr: kcli's errors say it instead."""
    import logging

    logging.getLogger("paramiko").addHandler(logging.NullHandler())


_quiet_paramiko_log()
