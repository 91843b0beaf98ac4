"""Parsed YAML kept between commands: kcli's own files (its config, the inventory, the state) are
parsed once per content, not once per command.

Parsing the ~30 KB state file with PyYAML takes ~20 ms, and importing PyYAML ~25 ms more, on
every command; both sit before the first connection when the command needs the inventory and the
state to know what to ask the nodes. ``load(path, text, parse)`` keeps ``parse(text)``'s result
(marshal, like a ``.pyc``) in ``$KCLI_HOME/cache/parsed/``, one file per source path, under the
SHA-256 of the text: a changed file is parsed again, whatever its time stamps say. Only data
marshal can write back exactly (dicts, lists, strings, numbers, booleans, None) is kept, and
nothing a manifest holds (they may carry Secret values; kcli's own files never do). A missing,
stale, foreign or unwritable cache costs the parse, never a different result.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

T = TypeVar("T")
FORMAT = b"kcli-parsed-1\n"


def cache_dir() -> Path:
    from kcli.shell.config import kcli_home

    return kcli_home() / "cache" / "parsed"


def _entry(path: Path) -> Path:
    name = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    return cache_dir() / f"{name}.marshal"


def _plain(value: Any) -> bool:
    """Whether marshal gives ``value`` back equal and of the same types (no datetime, set, bytes)."""
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def load(path: str | Path, text: str, parse: Callable[[str], T], *, tag: str = "") -> T:
    """``parse(text)``, from the cache when ``text`` (read from ``path``) was parsed before by the
    parser called ``tag``. ``parse``'s errors propagate and nothing is kept for them."""
    key = (tag + "\0" + hashlib.sha256(text.encode()).hexdigest()).encode()
    entry = _entry(Path(path))
    try:
        data = entry.read_bytes()
        if data.startswith(FORMAT):
            kept_key, value = marshal.loads(data[len(FORMAT) :])
            if kept_key == key:
                return cast(T, value)
    except (OSError, ValueError, EOFError, TypeError):
        pass
    value = parse(text)
    if _plain(value):
        _keep(entry, key, value)
    return value


def _keep(entry: Path, key: bytes, value: Any) -> None:
    tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(FORMAT + marshal.dumps((key, value)))
        os.replace(tmp, entry)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
