"""Extra per-node observations contributed by bootstrap state (overlay checks); none before bootstrap."""

from __future__ import annotations


def node_extras(inv, hosts):
    """Return (per-host extra snippets, finish(host, sections) → (joined_at, extra conditions))."""

    def finish(host, sections):
        return None, ()

    return {}, finish
