"""Progress events (kcli.core.progress) drawn on stderr: redrawn rich bars on a terminal (a line per
node or workload: phase, bar, bytes and rate or pods ready/desired), plain lines in a log or CI
(how each task ended, the waves; no redrawing), nothing under --quiet. rich.progress is imported
only when a terminal shows it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kcli.cli import console as _console
from kcli.core.progress import BYTES, PODS, Lines, Progress, ProgressEvent, no_progress

if TYPE_CHECKING:
    from rich.console import Console

    from kcli.cli.console import Stream

COMMAND = "converge"  # the name shown for the command's own task (event.task ""): the converge loop's waves


@contextmanager
def shown(console: Stream | Console | None = None) -> Iterator[Progress]:
    """A progress callback for the work done inside the block, drawn as ``progress_mode`` says."""
    c = _console.err if console is None else console
    mode = _console.progress_mode(c)
    if mode == "off":
        yield no_progress
    elif mode == "lines":
        plain = _Plain(c)
        yield plain
        plain.close()
    else:
        bars = _Bars(c.rich if isinstance(c, _console.Stream) else c)
        ok = False
        try:
            yield bars
            ok = True
        finally:
            bars.stop(ok)


class _Plain:
    def __init__(self, console: Stream | Console) -> None:
        self._console = console
        self._lines = Lines()
        self._lock = threading.Lock()

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            line = self._lines(event, time.monotonic())
            if line is not None:
                self._console.print(line)

    def close(self) -> None:
        with self._lock:
            for line in self._lines.close(time.monotonic()):
                self._console.print(line)


class _Bars:
    """One rich Progress, started at the first event (a command with nothing to report draws
    nothing), a task per event task; the columns show what the task's unit calls for."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _start(self) -> Any:
        from rich.progress import Progress as RichProgress
        from rich.progress import TextColumn

        columns = _columns(self._console)
        self._progress = RichProgress(
            columns["mark"],
            TextColumn("{task.fields[name]}", style="bold"),
            TextColumn("{task.description}"),
            columns["bar"],
            columns["amount"],
            columns["rate"],
            console=self._console,
            transient=False,
            refresh_per_second=8,
        )
        self._progress.start()
        return self._progress

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            progress = self._progress or self._start()
            end = ("ok" if event.ok else "failed") if event.finished else None
            fields = {"name": event.task or COMMAND, "unit": event.unit, "end": end}
            task = self._tasks.get(event.task)
            if task is None:
                self._tasks[event.task] = progress.add_task(
                    event.phase, total=event.total, completed=event.done or 0, **fields
                )
                return
            update: dict[str, Any] = {"description": event.phase, **fields}
            if event.total is not None:
                update["total"] = event.total
            if event.done is not None:
                update["completed"] = event.done
            progress.update(task, **update)

    def stop(self, ok: bool) -> None:
        """The last drawing: tasks that never said they ended did so with the command (well, or
        interrupted by its error)."""
        with self._lock:
            if self._progress is None:
                return
            for task in self._progress.tasks:
                if task.fields.get("end") is None:
                    self._progress.update(task.id, end="ok" if ok else "stopped")
            self._progress.stop()


def _columns(console: Console) -> dict[str, Any]:
    """The columns that depend on a task's unit and end (classes made here: rich.progress is imported
    only when bars are drawn)."""
    from rich.progress import BarColumn, DownloadColumn, ProgressColumn, Task, TransferSpeedColumn
    from rich.spinner import Spinner
    from rich.text import Text

    utf = (console.encoding or "").lower().startswith("utf")
    ok, failed = ("✓", "✗") if utf else ("ok", "x")

    class Mark(ProgressColumn):
        """A spinner while the task runs, then ✓ or ✗."""

        def __init__(self) -> None:
            super().__init__()
            self._spinner = Spinner("dots" if utf else "line", style="progress.spinner")

        def render(self, task: Task) -> Any:
            end = task.fields.get("end")
            if end == "ok":
                return Text(ok, style="green")
            if end == "failed":
                return Text(failed, style="red")
            if end == "stopped":
                return Text("-", style="dim")
            return self._spinner.render(task.get_time())

    class Bar(BarColumn):
        def render(self, task: Task) -> Any:
            return super().render(task) if task.fields.get("unit") and task.total else Text("")

    class Amount(ProgressColumn):
        """Bytes sent of the total (rich's DownloadColumn), or pods ready/desired."""

        def __init__(self) -> None:
            super().__init__()
            self._bytes = DownloadColumn()

        def render(self, task: Task) -> Any:
            unit = task.fields.get("unit")
            if unit == BYTES:
                return self._bytes.render(task)
            if unit == PODS and task.total is not None:
                return Text(f"{task.completed:.0f}/{task.total:.0f} ready", style="progress.download")
            return Text("")

    class Rate(ProgressColumn):
        def __init__(self) -> None:
            super().__init__()
            self._speed = TransferSpeedColumn()

        def render(self, task: Task) -> Any:
            return self._speed.render(task) if task.fields.get("unit") == BYTES else Text("")

    return {"mark": Mark(), "bar": Bar(bar_width=30), "amount": Amount(), "rate": Rate()}
