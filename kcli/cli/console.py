"""Two consoles: stdout for data, stderr for progress and diagnostics (no markup from user data).

Colour: none when ``NO_COLOR`` is set and not empty (https://no-color.org), and none when the stream
is not a terminal (a pipe, a CI log). ``--quiet`` (``-q``): errors and warnings only; informational
lines (``info`` on stderr, ``say`` on stdout) and progress are dropped. Data (tables, -o json) is
printed either way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from rich.console import Console


def make_console(*, stderr: bool = False, environ: Mapping[str, str] | None = None, **options: Any) -> Console:
    """A console as kcli uses them: no markup, highlighting or emoji from the text printed, and no
    colour under NO_COLOR (rich adds: none on a stream that is not a terminal)."""
    env = os.environ if environ is None else environ
    return Console(
        stderr=stderr,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=True,
        no_color=bool(env.get("NO_COLOR")),
        **options,
    )


out = make_console()
err = make_console(stderr=True)
_quiet = False


def set_quiet(value: bool = True) -> None:
    global _quiet
    _quiet = value


def is_quiet() -> bool:
    return _quiet


def progress_mode(console: Console | None = None) -> str:
    """How progress is shown on ``console`` (stderr): "off" under --quiet, "live" (redrawn bars) on
    a terminal, "lines" (a plain line when something ends or changes) elsewhere."""
    c = err if console is None else console
    if _quiet:
        return "off"
    return "live" if c.is_terminal and not c.is_dumb_terminal else "lines"


def info(msg: str) -> None:
    """An informational line on stderr (dropped under --quiet)."""
    if not _quiet:
        err.print(msg)


def say(msg: str) -> None:
    """A confirmation on stdout, kubectl's ``deployment.apps/web created`` (dropped under --quiet)."""
    if not _quiet:
        out.print(msg)


def warn(msg: str) -> None:
    err.print(f"warning: {msg}", style="yellow")


def error(msg: str) -> None:
    err.print(f"error: {msg}", style="red")
