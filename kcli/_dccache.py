"""Start-up time: the methods that ``@dataclass`` generates are compiled once, not per command.

``dataclasses`` builds each generated method (``__init__``, ``__eq__``, ``__hash__``,
``__setattr__``, ...) as source text and compiles it with ``exec`` while the class is defined:
for kcli's ~110 dataclasses that is ~60 ms of every command's ~240 ms of imports. The compiled
code depends only on that text, so it is kept (marshal, like a ``.pyc``) in
``kcli/__pycache__/`` keyed by the text, and ``exec`` in ``dataclasses`` runs the kept code. A
missing, stale, foreign or unwritable cache only costs the compile; the classes are the same.
"""

import atexit
import builtins
import dataclasses
import marshal
import os
import sys
from importlib.util import MAGIC_NUMBER
from types import CodeType

PATH = os.path.join(os.path.dirname(__file__), "__pycache__", f"dataclasses.{sys.implementation.cache_tag}.marshal")
LIMIT = 4000  # entries; past it the file keeps only what the writing process used

_codes: dict[str, CodeType] = {}
_used: set[str] = set()
_new = False


def _load(path: str) -> None:
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data.startswith(MAGIC_NUMBER):
            codes = marshal.loads(data[len(MAGIC_NUMBER) :])
            if isinstance(codes, dict):
                _codes.update((k, v) for k, v in codes.items() if isinstance(k, str) and isinstance(v, CodeType))
    except (OSError, ValueError, EOFError, TypeError):
        pass


def cached_exec(source, globals=None, locals=None, /):  # noqa: A002 - exec's own signature
    """``exec`` as dataclasses calls it, with the compiled code of a source text kept."""
    global _new
    if isinstance(source, str):
        code = _codes.get(source)
        if code is None:
            # the flags dataclasses' own exec would compile with: none inherited from here
            code = _codes[source] = compile(source, "<string>", "exec", dont_inherit=True)
            _new = True
        _used.add(source)
        source = code
    return builtins.exec(source, globals, locals)


def save(path: str = PATH) -> None:
    """Write the kept code when this process compiled something new (atomically; errors ignored)."""
    if not _new:
        return
    keep = _codes if len(_codes) <= LIMIT else {k: v for k, v in _codes.items() if k in _used}
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(MAGIC_NUMBER + marshal.dumps(keep))
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def install(path: str = PATH) -> None:
    """Route dataclasses' ``exec`` through the cache (once per process)."""
    if getattr(dataclasses, "exec", None) is cached_exec:
        return
    _load(path)
    dataclasses.exec = cached_exec  # type: ignore[attr-defined]  # module global shadows the builtin
    atexit.register(save, path)
