"""When this machine last saw each node answer: the evidence for "unreachable since" that
taint-based eviction (kcli.core.eviction) counts from. Kept in ``$KCLI_HOME/cache/`` (not in
the git state: it changes on every run), one small JSON file per cluster."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable

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


def mark_seen(cluster: str, nodes: Iterable[str], when: float) -> dict[str, float]:
    """Record that ``nodes`` answered at ``when`` (atomic replace; errors ignored). Returns the map."""
    seen = load_seen(cluster)
    seen.update({n: when for n in nodes})
    path = _path(cluster)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(seen, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        pass
    return seen
