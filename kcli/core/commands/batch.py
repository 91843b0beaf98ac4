"""The one script format kcli sends to a host, and its one marker protocol.

A batch is a list of units (a bootstrap step, a pod create or delete, a rules sync …) rendered as
one POSIX sh script, optionally behind a fence (see kcli.core.fence) and optionally followed by
observation snippets, so the next observation rides on the same round trip. Everything a batch
prints is in the section format of kcli.core.facts.sections (``==kcli:NAME`` … ``==kcli-rc:N``):
a unit is the section ``unit:NAME`` whose text is its error output (only on failure) and whose
rc is its exit status; ``fence`` is the fence's verdict; observations keep their own names.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kcli.core.commands.shell import Step
from kcli.core.facts.sections import MARK, RC_MARK, Section, parse_sections, render_script
from kcli.core.fence import FENCED_RC, Fence, fence_preamble

UNIT_PREFIX = "unit:"
UNIT_LOG = "/run/kcli/unit.$$.log"
ERROR_TAIL = 20


@dataclass(frozen=True)
class Unit:
    """One idempotent piece of host work. ``undo`` runs when it fails (a half-created pod is
    removed again). With ``stop`` a failure ends the batch: later units build on this one.
    ``prelude``: lines the batch runs once, before its units, however many units ask for them
    (e.g. one ``docker image inspect`` per image, remembered in a shell variable the units read).
    ``labels``: the results this unit stands for (several pods deleted by one ``docker rm``);
    its name when empty."""

    name: str
    lines: tuple[str, ...]
    undo: tuple[str, ...] = ()
    stop: bool = False
    prelude: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    @property
    def results(self) -> tuple[str, ...]:
        return self.labels or (self.name,)


@dataclass(frozen=True)
class UnitResult:
    name: str
    rc: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.rc == 0


@dataclass(frozen=True)
class BatchResult:
    """What one host reported: per unit, the fence's verdict and the folded-in observation."""

    units: dict[str, UnitResult] = field(default_factory=dict)
    sections: dict[str, Section] = field(default_factory=dict)
    fenced: str = ""  # why the host refused the whole batch, "" when it did not

    def failed(self) -> list[UnitResult]:
        return [u for u in self.units.values() if not u.ok]

    def not_run(self, units: Sequence[Unit]) -> list[str]:
        return [u.name for u in units if u.name not in self.units]


def _echo(word: str) -> str:
    return f"printf '%s\\n' {shlex.quote(word)}"


def render_batch(
    units: Sequence[Unit],
    *,
    fence: Fence | None = None,
    lock_node: bool = False,
    observe: Mapping[str, str] | None = None,
) -> str:
    """One script: fence check (refuses everything when another holder took the lock), each unit
    in its own ``set -e`` subshell (status read on its own line: POSIX shells ignore ``set -e``
    inside AND-OR lists) without the fence's mutex fd (a daemon a unit starts must not hold it),
    then the observation snippets."""
    out = ["set -u", "mkdir -p /run/kcli"]
    if fence is not None:
        out.append(fence_preamble(fence, lock_node=lock_node))
    out += dict.fromkeys(line for u in units for line in u.prelude)  # once each, in order; after the fence
    for u in units:
        if "\n" in u.name:
            raise ValueError(f"unit name with a newline: {u.name!r}")
        body = "\n".join(u.lines) or "true"
        undo = "\n".join(u.undo)
        on_fail = [f"tail -n {ERROR_TAIL} {UNIT_LOG} | sed 's/^/    /'"]  # indented: never a marker
        if undo:
            on_fail.append(f"( {undo}\n) >/dev/null 2>&1")
        out.append(
            f"{_echo(MARK + UNIT_PREFIX + u.name)}\n"
            "[ -d /run/kcli ] || mkdir -p /run/kcli  # an earlier unit (reset) may have removed it\n"
            f"( set -e\n{body}\n) >{UNIT_LOG} 2>&1 </dev/null 9>&-\n"
            f"rc=$?\n"
            f"if [ $rc -ne 0 ]; then {'; '.join(on_fail)}; fi\n"
            f"rm -f {UNIT_LOG}\n"
            f'echo "{RC_MARK}$rc"' + ("\nif [ $rc -ne 0 ]; then exit $rc; fi" if u.stop else "")
        )
    if observe:
        out.append(render_script(observe))
    return "\n".join(out) + "\n"


def parse_batch(stdout: str) -> BatchResult:
    sections = parse_sections(stdout)
    units = {
        name[len(UNIT_PREFIX) :]: UnitResult(name[len(UNIT_PREFIX) :], s.rc, _dedent(s.text) if s.rc else "")
        for name, s in sections.items()
        if name.startswith(UNIT_PREFIX)
    }
    fence = sections.get("fence")
    fenced = fence.text.strip() if fence is not None and fence.rc == FENCED_RC else ""
    rest = {n: s for n, s in sections.items() if not n.startswith(UNIT_PREFIX) and n != "fence"}
    return BatchResult(units, rest, fenced)


def _dedent(text: str) -> str:
    return "\n".join(line[4:] if line.startswith("    ") else line for line in text.splitlines()).strip()


def steps_units(steps: Sequence[Step]) -> list[Unit]:
    """Bootstrap/reset steps as units: only changed ones, each stopping the batch when it fails."""
    return [Unit(st.name, st.lines, stop=True) for st in steps if st.changed]
