"""When this machine last saw each node answer: the evidence for "unreachable since" that
taint-based eviction (kcli.core.eviction) counts from. Kept in ``$KCLI_HOME/cache/`` (not in
the git state: it changes on every run), one small JSON file per cluster."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

from kcli.shell.config import kcli_home


def _path(cluster: str) -> Path:
    return kcli_home() / "cache" / f"seen-{re.sub(r'[^A-Za-z0-9_.-]', '_', cluster)}.json"


def load_seen(cluster: str) -> dict[str, float]:
    """Node → unix time it last answered (empty when unknown or unreadable)."""
    try:
        data = json.loads(_path(cluster).read_text())
        return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}
    except (OSError, ValueError, TypeError):
        return {}


def mark_seen(
    cluster: str, nodes: Iterable[str], when: float | None = None, unreachable: Iterable[str] = ()
) -> dict[str, float]:
    """Record that ``nodes`` answered at ``when`` (default: now; atomic replace; errors ignored). An
    ``unreachable`` node this machine never saw counts from now (a new CI runner, a lost cache):
    eviction then waits its full toleration from the first time it was noticed. Returns the map."""
    when = time.time() if when is None else when
    seen = load_seen(cluster)
    before = dict(seen)
    seen.update({n: when for n in nodes})
    seen.update({n: when for n in unreachable if n not in seen})
    if seen == before:
        return seen
    path = _path(cluster)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(seen, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        pass
    return seen
