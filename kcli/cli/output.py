"""Render data for people (kubectl-style plain columns) or scripts (json, yaml, name)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from kcli.cli import console
from kcli.errors import UsageError

FORMATS = ("table", "wide", "json", "yaml", "name")
TEMPLATED = ("jsonpath=", "custom-columns=")  # kubectl's -o jsonpath=TEMPLATE, -o custom-columns=SPEC


def check_format(fmt: str | None) -> str:
    fmt = fmt or "table"
    if fmt not in FORMATS and not fmt.startswith(TEMPLATED):
        raise UsageError(
            f"unknown output format {fmt!r} (use one of: wide, json, yaml, name, jsonpath=..., custom-columns=...)"
        )
    return fmt


def is_object_format(fmt: str) -> bool:
    """Formats printed from the API objects (not the table rows)."""
    return fmt in ("json", "yaml", "name") or fmt.startswith(TEMPLATED)


def format_table(rows: Sequence[dict[str, str]], columns: Sequence[str] | None = None) -> str:
    """kubectl's tabwriter layout: upper-case headers, columns padded by 3 spaces."""
    if not rows:
        return ""
    cols = list(columns or rows[0].keys())
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    lines = []
    for r in [dict(zip(cols, cols, strict=False)), *rows]:
        cells = [str(r.get(c, "")).ljust(widths[c]) for c in cols]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines)


def print_table(
    rows: Sequence[dict[str, str]], columns: Sequence[str] | None = None, empty: str = "No resources found."
) -> None:
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
    doc: dict = (
        objs[0]
        if single and len(objs) == 1
        else {"apiVersion": "v1", "kind": "List", "items": list(objs), "metadata": {}}
    )
    if fmt.startswith(TEMPLATED):
        print_templated(doc, objs, fmt)
    elif fmt == "json":
        console.out.print(json.dumps(doc, indent=4, sort_keys=True))
    else:
        import yaml  # not at import: `kcli --help` stays fast

        console.out.print(yaml.safe_dump(doc, sort_keys=True).rstrip())


def print_templated(doc: dict, objs: Sequence[dict], fmt: str) -> None:
    """-o jsonpath=TEMPLATE (kubectl's JSONPath over the object or the List, printed as is) or
    -o custom-columns=HEADER:EXPR,... (one row per object; ``<none>`` where nothing matches)."""
    import sys

    from kcli.core.jsonpath import JsonPathError, column_value, render

    kind, _, spec = fmt.partition("=")
    try:
        if kind == "jsonpath":
            sys.stdout.write(render(spec.strip("'"), doc))
            sys.stdout.flush()
            return
        columns = []
        for part in spec.split(","):
            header, sep, expr = part.partition(":")
            if not sep or not header or not expr:
                raise UsageError(f'custom-columns: "{part}" is not HEADER:EXPRESSION (e.g. NAME:.metadata.name)')
            columns.append((header, expr))
        rows = [{h: column_value(e, o) for h, e in columns} for o in objs]
        console.out.print(format_table(rows, [h for h, _ in columns]) if rows else "   ".join(h for h, _ in columns))
    except JsonPathError as exc:
        raise UsageError(f"error parsing jsonpath {spec}: {exc}") from None


def print_profile(stats: Mapping) -> None:
    """--profile: round trips (commands run), bytes and time per host, and the docker API exchanges
    made beside them on the same connection (kcli.shell.dockerapi) (stderr)."""
    rows = [
        {
            "HOST": n,
            "ROUND-TRIPS": str(s.round_trips),
            "SENT": str(s.bytes_sent),
            "RECEIVED": str(s.bytes_received),
            "CONNECT": f"{s.connect_seconds:.3f}s",
            "COMMANDS": f"{s.seconds:.3f}s",
            "DOCKER-API": str(s.api_exchanges),
        }
        for n, s in sorted(stats.items())
    ]
    console.err.print(format_table(rows))
