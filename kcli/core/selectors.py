"""Label selectors in kubectl's string syntax: a=b, a!=b, a in (x,y), a notin (x), a, !a."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from kcli.errors import UsageError


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()


def _split(expr: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in expr:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def parse_selector(expr: str) -> tuple[Requirement, ...]:
    reqs = []
    for part in _split(expr):
        m = re.match(r"^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$", part)
        if m:
            vals = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append(Requirement(m.group(1), m.group(2), vals))
            continue
        m = re.match(r"^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$", part)
        if m:
            op = "!=" if m.group(2) == "!=" else "="
            reqs.append(Requirement(m.group(1), op, (m.group(3),)))
            continue
        m = re.match(r"^(!?)([\w./-]+)$", part)
        if m:
            reqs.append(Requirement(m.group(2), "!exists" if m.group(1) else "exists"))
            continue
        raise UsageError(f"invalid label selector {expr!r} near {part!r}")
    return tuple(reqs)


def matches(selector: tuple[Requirement, ...], labels: Mapping[str, str]) -> bool:
    for r in selector:
        v = labels.get(r.key)
        if r.op == "=" and v != r.values[0]:
            return False
        if r.op == "!=" and v == r.values[0]:
            return False
        if r.op == "in" and v not in r.values:
            return False
        if r.op == "notin" and v in r.values:
            return False
        if r.op == "exists" and r.key not in labels:
            return False
        if r.op == "!exists" and r.key in labels:
            return False
    return True
