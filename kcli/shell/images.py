"""`kcli image load`: docker save locally once, stream into `docker load` on the nodes in parallel."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from kcli.core.facts.images import image_snippets, missing_images, parse_image_ids
from kcli.core.facts.sections import parse_sections, render_script
from kcli.core.inventory import Host
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


def load_images(pool: SshPool, hosts: Sequence[Host], refs: Sequence[str]) -> HostResults[LoadResult]:
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
        res = conn.run(["sh", "-c", render_script(image_snippets(refs))], timeout=60)
        need = tuple(missing_images(local, parse_image_ids(refs, parse_sections(res.stdout))))
        if not need:
            return LoadResult((), tuple(refs), 0)
        with _save_lock:
            path = cache.get(need) or cache.setdefault(need, saved(need))
        before = conn.stats.bytes_sent
        with open(path, "rb") as fh:
            conn.run(["docker", "load", "-q"], stdin=fh, timeout=1800, check=True)
        return LoadResult(need, tuple(r for r in refs if r not in need), conn.stats.bytes_sent - before)

    try:
        return run_on_hosts(one, hosts)
    finally:
        for p in tar_path:
            os.unlink(p)
