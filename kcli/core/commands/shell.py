"""Shell combinators: argv tuples joined and quoted in one place; batched step scripts."""

from __future__ import annotations

import base64
import posixpath
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

Argv = tuple[str, ...]
STEP_MARK = "==kcli-step:"


def sh(argv: Sequence[str]) -> str:
    """One command line from argv: every word quoted."""
    return shlex.join(argv)


def write_file(path: str, content: str, mode: str = "0644") -> str:
    """Atomically write content (base64 on the wire, so nothing in it reaches the shell)."""
    data = base64.b64encode(content.encode()).decode()
    tmp = f"{path}.kcli-tmp"
    return " && ".join([
        sh(("mkdir", "-p", posixpath.dirname(path))),
        f"printf %s {shlex.quote(data)} | base64 -d > {shlex.quote(tmp)}",
        sh(("chmod", mode, tmp)),
        sh(("mv", "-f", tmp, path)),
    ])


def feed(content: str, argv: Sequence[str]) -> str:
    """Run argv with content on its stdin (base64 on the wire, decoded on the host)."""
    data = base64.b64encode(content.encode()).decode()
    return f"printf %s {shlex.quote(data)} | base64 -d | {sh(argv)}"


@dataclass(frozen=True)
class Step:
    """One idempotent unit of host work: ``lines`` is empty when the host already matches."""

    host: str
    name: str
    detail: str
    lines: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.lines)

    def describe(self) -> str:
        return f"{self.host}: {self.name}: {self.detail}"


def render_steps(steps: Sequence[Step]) -> str:
    """One batched POSIX sh script for a host: each changed step in a subshell with ``set -e``;
    the first failing step stops the script (later steps build on earlier ones)."""
    out = ["set -u"]
    for st in steps:
        if not st.changed:
            continue
        body = "\n".join(st.lines)
        name = shlex.quote(st.name)
        out.append(
            f"( set -e\n{body}\n) && echo {shlex.quote(STEP_MARK)}{name}:ok || "
            f"{{ rc=$?; echo {shlex.quote(STEP_MARK)}{name}:failed:$rc; exit $rc; }}"
        )
    return "\n".join(out) + "\n"


def parse_step_results(stdout: str) -> dict[str, str]:
    """step name → ok | failed:RC, from the markers a step script prints."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith(STEP_MARK):
            name, _, status = line[len(STEP_MARK):].partition(":")
            out[name] = status
    return out
