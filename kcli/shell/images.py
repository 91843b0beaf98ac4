"""`kcli image load`: docker save locally once, stream into `docker load` on the nodes in parallel."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, cast

from kcli.core.facts.images import image_snippets, missing_images, parse_image_ids
from kcli.core.facts.sections import parse_sections, render_script
from kcli.core.inventory import Host
from kcli.core.progress import BYTES, Progress, ProgressEvent, no_progress
from kcli.core.results import HostResults
from kcli.errors import UsageError
from kcli.shell.fanout import run_on_hosts
from kcli.shell.local import run_local
from kcli.shell.transport import SshPool

_save_lock = threading.Lock()


@dataclass(frozen=True)
class LoadResult:
    loaded: tuple[str, ...]
    skipped: tuple[str, ...]
    bytes_sent: int


def local_image_ids(refs: Sequence[str]) -> dict[str, str]:
    ids = {}
    for ref in refs:
        res = run_local(["docker", "image", "inspect", "--format", "{{.Id}}", ref], check=False, error=UsageError)
        if res.returncode != 0:
            raise UsageError(f"image {ref!r} is not present in the local docker (build or pull it first)")
        ids[ref] = res.stdout.strip()
    return ids


class _Counted:
    """A file read by the SSH pump, telling ``progress`` how many bytes went out (at most every
    ``every`` seconds, and once at the end)."""

    def __init__(self, fh: BinaryIO, task: str, total: int, progress: Progress, every: float = 0.1) -> None:
        self._fh, self._task, self._total, self._progress, self._every = fh, task, total, progress, every
        self.sent = 0
        self._last = 0.0

    def read(self, n: int = -1) -> bytes:
        chunk = self._fh.read(n)
        self.sent += len(chunk)
        now = time.monotonic()
        if not chunk or now - self._last >= self._every:
            self._last = now
            phase = "sending images" if chunk else "docker load"  # all sent: the node loads them
            self._progress(ProgressEvent(self._task, phase, self.sent, self._total, BYTES))
        return chunk


def load_images(
    pool: SshPool, hosts: Sequence[Host], refs: Sequence[str], *, progress: Progress = no_progress
) -> HostResults[LoadResult]:
    """Per host: which images it lacks (by image ID), then `docker save` of those (once per set,
    here) streamed into `docker load` there. ``progress`` hears each host's phase and the bytes
    sent."""
    refs = list(dict.fromkeys(refs))
    local = local_image_ids(refs)
    tar_path: list[str] = []  # saved lazily, once, only if some node needs something

    def saved(wanted: tuple[str, ...]) -> str:
        fd, path = tempfile.mkstemp(prefix="kcli-images-", suffix=".tar")
        os.close(fd)
        run_local(["docker", "save", "-o", path, *wanted], error=UsageError, timeout=1800)
        tar_path.append(path)
        return path

    cache: dict[tuple[str, ...], str] = {}

    def one(h: Host) -> LoadResult:
        conn = pool.get(h)
        progress(ProgressEvent(h.name, "checking images"))
        res = conn.run(["sh", "-c", render_script(image_snippets(refs))], timeout=60)
        need = tuple(missing_images(local, parse_image_ids(refs, parse_sections(res.stdout))))
        if not need:
            progress(ProgressEvent(h.name, "images up to date"))
            return LoadResult((), tuple(refs), 0)
        progress(ProgressEvent(h.name, "saving images"))
        with _save_lock:
            path = cache.get(need) or cache.setdefault(need, saved(need))
        before = conn.stats.bytes_sent
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            counted = _Counted(fh, h.name, size, progress)
            progress(ProgressEvent(h.name, "sending images", 0, size, BYTES))
            # the transport only calls read(n) on it
            conn.run(["docker", "load", "-q"], stdin=cast(BinaryIO, counted), timeout=1800, check=True)
        progress(ProgressEvent(h.name, f"loaded {', '.join(need)}", size, size, BYTES))
        return LoadResult(need, tuple(r for r in refs if r not in need), conn.stats.bytes_sent - before)

    def reported(h: Host) -> LoadResult:
        try:
            return one(h)
        except Exception as exc:
            progress(ProgressEvent(h.name, f"failed: {exc}", finished=True, ok=False))
            raise

    try:
        return run_on_hosts(reported, hosts)
    finally:
        for p in tar_path:
            os.unlink(p)
