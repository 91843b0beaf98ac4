"""Choosing hosts by name list or label selector."""

from __future__ import annotations

from kcli.core.inventory import Host, Inventory
from kcli.core.selectors import matches, parse_selector
from kcli.errors import UsageError


def select_hosts(inv: Inventory, names: str | None, selector: str | None) -> list[Host]:
    hosts = list(inv.hosts)
    if names:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        hosts = [inv.host(n) for n in wanted]
    if selector:
        sel = parse_selector(selector)
        hosts = [h for h in hosts if matches(sel, {**h.labels, "kubernetes.io/hostname": h.name})]
    if not hosts:
        raise UsageError("no node matches")
    return hosts
