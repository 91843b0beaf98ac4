"""Progress of long work, as events: the shell reports them through a callback, the CLI draws them
(rich bars on a terminal, plain lines in a log, nothing with --quiet), tests collect them.

An event names its task (a node, a workload, or "" for the command's own line), the phase it is in,
and optionally how far it is (``done`` of ``total`` bytes or pods). A task's last event has
``finished`` set. Events carry no time: a renderer that shows a rate keeps its own clock.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kcli.core.objects import ObjectKey

BYTES = "B"
PODS = "pods"


@dataclass(frozen=True)
class ProgressEvent:
    task: str  # "node1", "deployment/web", or "" for the command's own line (the apply's waves)
    phase: str  # what it does now: "sending images", "wave 2: 3 pod change(s) on 2 node(s)", "rolled out"
    done: float | None = None  # bytes sent, pods ready
    total: float | None = None
    unit: str = ""  # BYTES, PODS, or "" (a phase only)
    finished: bool = False  # the task's last event
    ok: bool = True  # with finished: it ended well


Progress = Callable[[ProgressEvent], None]


def no_progress(_event: ProgressEvent) -> None:
    """The default: nobody is watching."""


def human_bytes(n: float) -> str:
    """1536 → "1.5 kB" (decimal units, as rich's DownloadColumn and docker show sizes)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover - the loop always returns


def event_line(event: ProgressEvent, seconds: float | None = None) -> str:
    """The event as one plain line (a log, CI): ``deployment/web: rolled out (3/3 pods ready)``,
    ``node1: loaded kcli.local/busybox:1 (1.2 MB in 0.4 s, 3.0 MB/s)`` (``seconds``: how long the
    bytes took); the command's own task prints its phase alone (``wave 2: 3 pod change(s) on 2
    node(s)``)."""
    text = f"{event.task}: {event.phase}" if event.task else event.phase
    if event.unit == PODS and event.total is not None:
        text += f" ({event.done or 0:.0f}/{event.total:.0f} pods ready)"
    elif event.unit == BYTES and event.total is not None:
        if seconds and event.done:
            text += f" ({human_bytes(event.done)} in {seconds:.1f} s, {human_bytes(event.done / seconds)}/s)"
        else:
            text += f" ({human_bytes(event.total)})"
    return text


class Lines:
    """Plain lines for a log or CI, without noise: the command's own lines (waves, waits) and the
    workloads' pod counts when they change, and how each task ended (a task's intermediate phases
    and byte counts are for terminals). ``now``: the caller's clock, for transfer rates."""

    def __init__(self) -> None:
        self._printed: dict[str, str] = {}
        self._open: dict[str, ProgressEvent] = {}
        self._started: dict[str, float] = {}
        self._sent: dict[str, float] = {}  # when the last byte went (the rate leaves the remote load out)

    def __call__(self, event: ProgressEvent, now: float = 0.0) -> str | None:
        if event.unit == BYTES:
            self._started.setdefault(event.task, now)
            if event.total is not None and (event.done or 0) >= event.total:
                self._sent.setdefault(event.task, now)
        if not event.finished and event.task and event.unit != PODS:
            self._open[event.task] = event
            return None
        self._open.pop(event.task, None)
        return self._line(event, now)

    def close(self, now: float = 0.0) -> list[str]:
        """The last line of every task that never said it finished."""
        events, self._open = list(self._open.values()), {}
        return [line for e in events if (line := self._line(e, now)) is not None]

    def _line(self, event: ProgressEvent, now: float) -> str | None:
        seconds = None
        if event.unit == BYTES and event.task in self._started:
            seconds = self._sent.pop(event.task, now) - self._started.pop(event.task)
        line = event_line(event, seconds)
        if self._printed.get(event.task) == line:
            return None
        self._printed[event.task] = line
        return line


def _counts(status: Any) -> tuple[int, int] | None:
    """(ready, desired) pods of a workload's status; None for kinds without replicas (Jobs)."""
    desired = getattr(status, "replicas", None)
    if desired is None:
        desired = getattr(status, "desired", None)  # DaemonSet: the eligible nodes
    if desired is None or not hasattr(status, "ready"):
        return None
    ready = int(status.ready)
    new_rs = getattr(status, "new_replica_set", "")
    if new_rs:  # a Deployment: the pods of its current ReplicaSet that are ready
        ready = next((int(rs.ready) for rs in status.replica_sets if rs.name == new_rs), 0)
    return ready, int(desired)


def _phase(line: str) -> str:
    """kubectl's rollout line without its preamble: 'Waiting for deployment "web" rollout to finish:
    1 of 3 updated replicas are available...' → '1 of 3 updated replicas are available'."""
    head, sep, rest = line.partition(": ")
    return (rest if sep and head.startswith("Waiting for") else line).rstrip(".").strip() or line


def workload_events(
    statuses: Mapping[ObjectKey, Any], rollouts: Mapping[ObjectKey, str], keys: Collection[ObjectKey]
) -> list[ProgressEvent]:
    """One event per workload of ``keys`` (those of the command, and those rolling out): its
    rollout's phase (``rollouts``: kubectl's unfinished lines) or "rolled out", pods ready/desired."""
    out = []
    for key in sorted(keys, key=str):
        status = statuses.get(key)
        counts = _counts(status) if status is not None else None
        if counts is None:
            continue
        line = rollouts.get(key, "")
        out.append(
            ProgressEvent(
                f"{key.kind.lower()}/{key.name}"
                + (f" ({key.namespace})" if key.namespace not in ("", "default") else ""),
                _phase(line) if line else "rolled out",
                counts[0],
                counts[1],
                PODS,
            )
        )
    return out
