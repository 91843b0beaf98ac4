"""Render data for people (kubectl-style plain columns) or scripts (json, yaml, name)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from kcli.cli import console
from kcli.errors import UsageError

FORMATS = ("table", "wide", "json", "yaml", "name")


def check_format(fmt: str | None) -> str:
    fmt = fmt or "table"
    if fmt not in FORMATS:
        raise UsageError(f"unknown output format {fmt!r} (use one of: wide, json, yaml, name)")
    return fmt


def format_table(rows: Sequence[dict[str, str]], columns: Sequence[str] | None = None) -> str:
    """kubectl's tabwriter layout: upper-case headers, columns padded by 3 spaces."""
    if not rows:
        return ""
    cols = list(columns or rows[0].keys())
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    lines = []
    for r in [dict(zip(cols, cols)), *rows]:
        cells = [str(r.get(c, "")).ljust(widths[c]) for c in cols]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines)


def print_table(rows: Sequence[dict[str, str]], columns: Sequence[str] | None = None, empty: str = "No resources found.") -> None:
    if not rows:
        console.info(empty)
        return
    console.out.print(format_table(rows, columns))


def print_objects(objs: Sequence[dict], fmt: str, *, kind_plural: str = "", single: bool = False) -> None:
    """json/yaml: one object, or a v1 List of several (as kubectl does); name: kind/name lines."""
    if fmt == "name":
        for o in objs:
            console.out.print(f"{(kind_plural or o.get('kind', '')).lower()}/{o['metadata']['name']}")
        return
    doc: dict = objs[0] if single and len(objs) == 1 else {"apiVersion": "v1", "kind": "List", "items": list(objs), "metadata": {}}
    if fmt == "json":
        console.out.print(json.dumps(doc, indent=4, sort_keys=True))
    else:
        import yaml  # not at import: `kcli --help` stays fast

        console.out.print(yaml.safe_dump(doc, sort_keys=True).rstrip())


def print_profile(stats: Mapping) -> None:
    """--profile: round trips, bytes and time per host (stderr)."""
    rows = [
        {"HOST": n, "ROUND-TRIPS": str(s.round_trips), "SENT": str(s.bytes_sent), "RECEIVED": str(s.bytes_received),
         "CONNECT": f"{s.connect_seconds:.3f}s", "COMMANDS": f"{s.seconds:.3f}s"}
        for n, s in sorted(stats.items())
    ]
    console.err.print(format_table(rows))
