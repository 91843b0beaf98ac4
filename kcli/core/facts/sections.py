"""One observation round trip: a POSIX sh script printing named sections, and its parser.

Each section is ``==kcli:NAME`` followed by the output of a fixed snippet (and the snippet's exit
code as ``==kcli-rc:N``), so a failing probe never hides the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MARK = "==kcli:"
RC_MARK = "==kcli-rc:"


@dataclass(frozen=True)
class Section:
    text: str
    rc: int


def render_script(snippets: Mapping[str, str]) -> str:
    """Sections in a stable order; each snippet's stderr is folded into its own section."""
    parts = []
    for name, snippet in snippets.items():
        parts.append(f"echo '{MARK}{name}'; ( {snippet} ) 2>&1; echo \"{RC_MARK}$?\"")
    return "\n".join(parts) + "\n"


def parse_sections(stdout: str) -> dict[str, Section]:
    out: dict[str, Section] = {}
    name: str | None = None
    buf: list[str] = []
    for line in stdout.splitlines():
        if line.startswith(MARK):
            name, buf = line[len(MARK) :].strip(), []
        elif line.startswith(RC_MARK) and name is not None:
            try:
                rc = int(line[len(RC_MARK) :].strip())
            except ValueError:
                rc = 1
            out[name] = Section("\n".join(buf), rc)
            name = None
        elif name is not None:
            buf.append(line)
    return out
