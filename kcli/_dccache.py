"""Start-up time: the methods that ``@dataclass`` generates are compiled once, not per command.

``dataclasses`` builds each generated method (``__init__``, ``__eq__``, ``__hash__``,
``__setattr__``, ...) as source text and compiles it with ``exec`` while the class is defined:
for kcli's ~130 dataclasses that is ~60 ms of a command's imports. The compiled code depends only
on that text, so it is kept (marshal, like a ``.pyc``) in ``kcli/__pycache__/dataclasses.TAG/``,
one file per module read when that module defines its first dataclass (``kcli --help`` reads
none of the planner's), and ``exec`` in ``dataclasses`` runs the kept code. A module whose
file misses a text (it was edited) gets its file rewritten with what this process built for it,
so old versions do not pile up. A missing, stale, foreign or unwritable cache only costs the
compile; the classes are the same.
"""

import atexit
import builtins
import dataclasses
import marshal
import os
import sys
from importlib.util import MAGIC_NUMBER
from types import CodeType

PATH = os.path.join(os.path.dirname(__file__), "__pycache__", f"dataclasses.{sys.implementation.cache_tag}")

_dir = PATH
_codes: dict[str, dict[str, CodeType]] = {}  # module -> source text -> code (its file, once read)
_used: dict[str, set[str]] = {}  # module -> the texts this process built classes from
_changed: set[str] = set()  # modules that compiled something new in this process
_new = False


def _file(module: str) -> str:
    return os.path.join(_dir, f"{module}.marshal")


def _load(module: str) -> dict[str, CodeType]:
    codes: dict[str, CodeType] = {}
    try:
        with open(_file(module), "rb") as f:
            data = f.read()
        if data.startswith(MAGIC_NUMBER):
            kept = marshal.loads(data[len(MAGIC_NUMBER) :])
            if isinstance(kept, dict):
                codes = {k: v for k, v in kept.items() if isinstance(k, str) and isinstance(v, CodeType)}
    except (OSError, ValueError, EOFError, TypeError):
        pass
    return codes


def cached_exec(source, globals=None, locals=None, /):  # noqa: A002 - exec's own signature
    """``exec`` as dataclasses calls it, with the compiled code of a source text kept."""
    global _new
    module = globals.get("__name__") if isinstance(globals, dict) else None
    if isinstance(source, str) and isinstance(module, str) and module:
        codes = _codes.get(module)
        if codes is None:
            codes = _codes[module] = _load(module)
        code = codes.get(source)
        if code is None:
            # the flags dataclasses' own exec would compile with: none inherited from here
            code = codes[source] = compile(source, "<string>", "exec", dont_inherit=True)
            _changed.add(module)
            _new = True
        _used.setdefault(module, set()).add(source)
        source = code
    return builtins.exec(source, globals, locals)


def save() -> None:
    """Rewrite the file of each module that compiled something new, with the code this process
    used for it (atomically; errors ignored)."""
    if not _new:
        return
    try:
        os.makedirs(_dir, exist_ok=True)
    except OSError:
        return
    for module in _changed:
        keep = {k: v for k, v in _codes[module].items() if k in _used.get(module, ())}
        path = _file(module)
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(MAGIC_NUMBER + marshal.dumps(keep))
            os.replace(tmp, path)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def install(path: str = PATH) -> None:
    """Route dataclasses' ``exec`` through the cache kept in the directory ``path`` (once per process)."""
    global _dir
    if getattr(dataclasses, "exec", None) is cached_exec:
        return
    _dir = path
    dataclasses.exec = cached_exec  # type: ignore[attr-defined]  # module global shadows the builtin
    atexit.register(save)
