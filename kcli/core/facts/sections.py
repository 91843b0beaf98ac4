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


def render_script(snippets: Mapping[str, str], *, parallel: bool = True) -> str:
    """Sections in a stable order; each snippet's stderr is folded into its own section.

    With ``parallel`` (and 2 or more snippets) the snippets run at the same time, each into its own
    file of a private temporary directory, and are printed in order once all have ended: a round
    trip then costs its slowest probe (``docker inspect``, ``docker version``), not their sum.
    Snippets are read-only probes, so their order never mattered."""
    one_by_one = "\n".join(
        f"echo '{MARK}{name}'; ( {snippet} ) 2>&1; echo \"{RC_MARK}$?\"" for name, snippet in snippets.items()
    )
    if not parallel or len(snippets) < 2:
        return one_by_one + "\n"
    d = '"$kcli_look"'
    # no temporary directory (a full or read-only /tmp): one by one, as before
    parts = ['if kcli_look=$(mktemp -d "${TMPDIR:-/tmp}/kcli-look.XXXXXX" 2>/dev/null); then']
    for i, snippet in enumerate(snippets.values()):
        parts.append(f"{{ ( {snippet} ) >{d}/{i} 2>&1 </dev/null; echo $? >{d}/{i}.rc; }} &")
    parts.append("wait")
    for i, name in enumerate(snippets):
        parts.append(f"echo '{MARK}{name}'; cat {d}/{i}; echo \"{RC_MARK}$(cat {d}/{i}.rc)\"")
    parts += [f"rm -rf {d}", "else", one_by_one, "fi"]
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
