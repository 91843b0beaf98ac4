"""Which image IDs a node holds: one section per image reference (pure snippets + parser)."""

from __future__ import annotations

import shlex

from kcli.core.facts.sections import Section


def image_snippets(refs: list[str]) -> dict[str, str]:
    return {f"image:{i}": f"docker image inspect --format '{{{{.Id}}}}' {shlex.quote(r)}" for i, r in enumerate(refs)}


def parse_image_ids(refs: list[str], sections: dict[str, Section]) -> dict[str, str | None]:
    """ref → image ID on the node, or None when the node does not have it."""
    out: dict[str, str | None] = {}
    for i, ref in enumerate(refs):
        s = sections.get(f"image:{i}")
        text = s.text.strip() if s else ""
        out[ref] = text.splitlines()[-1] if s and s.rc == 0 and text.startswith("sha256:") else None
    return out


def missing_images(local_ids: dict[str, str], node_ids: dict[str, str | None]) -> list[str]:
    """Refs whose ID on the node differs from (or is absent compared with) the local one."""
    return [ref for ref, lid in local_ids.items() if node_ids.get(ref) != lid]
