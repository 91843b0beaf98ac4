"""Two consoles: stdout for data, stderr for progress and diagnostics (no markup from user data)."""

from __future__ import annotations

from rich.console import Console

out = Console(highlight=False, markup=False, emoji=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, markup=False, emoji=False, soft_wrap=True)


def info(msg: str) -> None:
    err.print(msg)


def warn(msg: str) -> None:
    err.print(f"warning: {msg}", style="yellow")


def error(msg: str) -> None:
    err.print(f"error: {msg}", style="red")
