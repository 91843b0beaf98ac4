"""ClusterLock: take the lock on the lock node (waiting if asked), renew it while held, release it."""

from __future__ import annotations

import getpass
import os
import socket
import threading
import time
import uuid

from kcli.core.fence import Fence
from kcli.core.lock import acquire_script, lock_host, parse_lock, release_script, renew_script
from kcli.errors import LockError, LockLostError, StateBehindError
from kcli.shell.statestore import StateStore
from kcli.shell.transport import SshPool


def lock_ttl() -> int:
    return int(os.environ.get("KCLI_LOCK_TTL", "60"))


def lock_owner(command: str) -> str:
    return f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()} ({command})"


class ClusterLock:
    def __init__(self, pool: SshPool, command: str, wait: float = 0.0, ttl: int | None = None, enabled: bool = True,
                 store: StateStore | None = None) -> None:
        self.pool = pool
        self.host = lock_host(pool.inventory)
        self.token = uuid.uuid4().hex
        self.owner = lock_owner(command)
        self.wait = wait
        self.ttl = ttl or lock_ttl()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False
        self.renewed_at = 0.0  # monotonic time the lock node last confirmed our hold (acquire, renew)
        self.epoch = 0
        self.enabled = enabled  # False: a read-only run (dry run) that takes no lock
        self.store = store  # the local state: refused when behind the cluster's; kept there on release
        self.cluster_generation = 0

    def _run(self, script: str):
        return parse_lock(self.pool.get(self.host).run(["sh", "-c", script], timeout=30, check=True).stdout)

    def __enter__(self) -> ClusterLock:
        if not self.enabled:
            return self
        deadline = time.monotonic() + self.wait
        settle = time.monotonic() + 2.0  # a holder that just made the lock writes its details next
        while True:
            asked = time.monotonic()
            info = self._run(acquire_script(self.token, self.owner, self.ttl))
            if info.state == "acquired":
                self.epoch = info.epoch
                self.renewed_at = asked
                self.cluster_generation = info.generation
                break
            if not info.acquired and time.monotonic() < settle:  # name the holder: look again shortly
                time.sleep(0.2)
                continue
            if time.monotonic() >= deadline:
                raise LockError(
                    f"cluster {self.pool.inventory.cluster} is locked on {self.host.name}: {info.describe()}; "
                    "wait (--lock-wait SECONDS) or, if the holder is gone, `kcli unlock --force`"
                )
            time.sleep(1.0)
        local = self._local_generation()
        if local is not None and self.cluster_generation > local:
            self._release(0)
            raise StateBehindError(
                f"the state in {self.store.dir} is behind the cluster (generation {local} < {self.cluster_generation}): "  # type: ignore[union-attr]
                "another runner committed since; nothing was changed. Catch up with `git pull` in the state "
                "directory (or `kcli state rebuild`), then run the command again")
        self._thread = threading.Thread(target=self._renew, daemon=True)
        self._thread.start()
        return self

    def _local_generation(self) -> int | None:
        return None if self.store is None or not self.store.exists() else self.store.generation()

    def _release(self, generation: int) -> None:
        """Release; with a newer ``generation``, the local state file goes with it (kept on the lock node)."""
        try:
            stdin = self.store.path.read_bytes() if generation and self.store is not None else None
            self.pool.get(self.host).run(["sh", "-c", release_script(self.token, generation if stdin else 0)],
                                         stdin=stdin, timeout=30, check=True)
        except Exception:  # noqa: BLE001 - an unreleased lock expires by itself; the next commit keeps the state
            pass

    def _renew(self) -> None:
        while not self._stop.wait(max(1.0, self.ttl / 3)):
            try:
                asked = time.monotonic()
                if self._run(renew_script(self.token, self.ttl)).state == "lost":
                    self.lost = True
                    return
                self.renewed_at = asked
            except Exception:  # noqa: BLE001 - the next renewal retries; expiry is the safety net
                continue

    @property
    def fence_or_none(self) -> Fence | None:
        return Fence(self.epoch, self.token) if self.epoch else None

    @property
    def fence(self) -> Fence:
        """What every write of this run carries (kcli.core.fence)."""
        if not self.epoch:
            raise LockError("internal: the lock is not held")
        return Fence(self.epoch, self.token)

    def ensure_held(self) -> None:
        """Raise LockLostError unless this run still holds the lock (before a commit). The lock
        node confirmed the hold at ``renewed_at`` with the expiry ``ttl`` later; well within that
        (half the TTL) nobody can have taken it by expiry and no round trip is needed. (A forced
        unlock is the exception either way: the nodes' fences refused this run's writes after it.)"""
        if not self.enabled:
            return
        if not self.lost and time.monotonic() - self.renewed_at < self.ttl / 2:
            return
        if not self.lost:
            try:
                self.lost = self._run(renew_script(self.token, self.ttl)).state == "lost"
            except Exception as exc:  # noqa: BLE001 - cannot tell: do not commit
                raise LockLostError(f"cannot confirm the cluster lock on {self.host.name}: {exc}; nothing was committed") from exc
        if self.lost:
            raise LockLostError(
                f"this run's lock on {self.host.name} expired and another run took it; stopped without committing "
                "(its writes were refused by the nodes). Run the command again.")

    def __exit__(self, *exc: object) -> None:
        if not self.enabled or not self.epoch:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        local = self._local_generation() or 0
        self._release(local if local > self.cluster_generation and not self.lost else 0)
