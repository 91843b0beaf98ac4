"""Two consoles: stdout for data, stderr for progress and diagnostics (no markup from user data).

Colour: none when ``NO_COLOR`` is set and not empty (https://no-color.org), and none when the stream
is not a terminal (a pipe, a CI log). ``--quiet`` (``-q``): errors and warnings only; informational
lines (``info`` on stderr, ``say`` on stdout) and progress are dropped. Data (tables, -o json) is
printed either way.

rich is imported only when it has something to do: text printed to a stream that is not a
terminal (a pipe, a file, a CI log) is written as rich would write it (control characters
dropped, tabs expanded, no styles) by ``Stream``, which saves a short command ~50 ms of imports.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

# What rich drops from printed text (bell, backspace, vertical tab, form feed, carriage return).
_CONTROL = dict.fromkeys((7, 8, 11, 12, 13))
# Environment variables that make rich treat a stream that is not a terminal as one.
_FORCE = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def plain_text(text: str) -> str:
    """``text`` as a rich console prints it to a file without styles: control characters dropped,
    tabs expanded to 8 columns."""
    return text.translate(_CONTROL).expandtabs(8)


class Stream:
    """stdout or stderr as kcli prints to it: strings are written directly when the stream is not a
    terminal, anything else goes through a rich Console made on first need (``rich``)."""

    def __init__(self, *, stderr: bool = False, environ: Mapping[str, str] | None = None) -> None:
        self._stderr = stderr
        self._environ = environ
        self._rich: Console | None = None

    @property
    def rich(self) -> Console:
        if self._rich is None:
            self._rich = make_console(stderr=self._stderr, environ=self._environ)
        return self._rich

    @property
    def file(self) -> IO[str]:
        return sys.stderr if self._stderr else sys.stdout

    def plain(self) -> bool:
        """Whether rich would print no terminal formatting here (the stream is not a terminal)."""
        env = os.environ if self._environ is None else self._environ
        if any(env.get(k) for k in _FORCE):
            return False
        try:
            return not self.file.isatty()
        except (AttributeError, ValueError, OSError):
            return True

    @property
    def is_terminal(self) -> bool:
        return False if self.plain() else self.rich.is_terminal

    @property
    def is_dumb_terminal(self) -> bool:
        return False if self.plain() else self.rich.is_dumb_terminal

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", **options: Any) -> None:
        """rich's ``Console.print``; strings to a stream that is not a terminal go straight to it
        (``style`` and ``soft_wrap`` change nothing there)."""
        options.pop("soft_wrap", None)  # kcli's consoles soft-wrap anyway
        if set(options) <= {"style"} and all(isinstance(o, str) for o in objects) and self.plain():
            f = self.file
            f.write(plain_text(sep.join(objects)) + end)
            f.flush()
            return
        self.rich.print(*objects, sep=sep, end=end, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rich, name)


def make_console(*, stderr: bool = False, environ: Mapping[str, str] | None = None, **options: Any) -> Console:
    """A console as kcli uses them: no markup, highlighting or emoji from the text printed, and no
    colour under NO_COLOR (rich adds: none on a stream that is not a terminal)."""
    from rich.console import Console

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


out: Stream | Console = Stream()
err: Stream | Console = Stream(stderr=True)
_quiet = False


def set_quiet(value: bool = True) -> None:
    global _quiet
    _quiet = value


def is_quiet() -> bool:
    return _quiet


def progress_mode(console: Stream | Console | None = None) -> str:
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
