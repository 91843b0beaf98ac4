"""ClusterLock: take the majority lock over the lock nodes (waiting if asked), renew it while held,
release it (kcli.core.lock has the scripts and the argument)."""

from __future__ import annotations

import getpass
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Sequence

from kcli.core.fence import Fence
from kcli.core.inventory import Host
from kcli.core.lock import (
    LockInfo,
    Vote,
    acquire_script,
    lock_hosts,
    majority,
    parse_lock,
    release_script,
    renew_script,
    renewal,
)
from kcli.errors import LockError, LockLostError, StateBehindError
from kcli.shell.fanout import run_on_hosts
from kcli.shell.statestore import StateStore
from kcli.shell.transport import SshPool


def lock_ttl() -> int:
    return int(os.environ.get("KCLI_LOCK_TTL", "60"))


def lock_owner(command: str) -> str:
    return f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()} ({command})"


def ask(
    pool: SshPool, hosts: Sequence[Host], script: str, stdin: bytes | None = None
) -> tuple[dict[str, LockInfo], dict[str, str]]:
    """Run one lock script on every host in parallel: (answers, host -> why it did not answer)."""
    done = run_on_hosts(
        lambda h: parse_lock(pool.get(h).run(["sh", "-c", script], stdin=stdin, timeout=30, check=True).stdout), hosts
    )
    return dict(done.values), {n: str(e) for n, e in done.errors.items()}


class ClusterLock:
    def __init__(
        self,
        pool: SshPool,
        command: str,
        wait: float = 0.0,
        ttl: int | None = None,
        enabled: bool = True,
        store: StateStore | None = None,
    ) -> None:
        self.pool = pool
        self.voters = lock_hosts(pool.inventory)
        self.need = majority(len(self.voters))
        self.held_on: tuple[str, ...] = ()  # the voters that gave this run their lock
        self.token = uuid.uuid4().hex
        self.owner = lock_owner(command)
        self.wait = wait
        self.ttl = ttl or lock_ttl()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False
        self.renewed_at = 0.0  # monotonic time a majority last confirmed our hold (acquire, renew)
        self.epoch = 0
        self.enabled = enabled  # False: a read-only run (dry run) that takes no lock
        self.store = store  # the local state: refused when behind the cluster's; kept there on release
        self.cluster_generation = 0
        self.vote: Vote | None = None  # the vote this run won

    def _held_hosts(self) -> list[Host]:
        return [h for h in self.voters if h.name in self.held_on]

    def _vote(self) -> Vote:
        answers, errors = ask(self.pool, self.voters, acquire_script(self.token, self.owner, self.ttl))
        return Vote(answers, errors, self.need)

    def __enter__(self) -> ClusterLock:
        if not self.enabled:
            return self
        deadline = time.monotonic() + self.wait
        settle = time.monotonic() + 3.0  # another run taking the lock right now, or a split vote
        while True:
            asked = time.monotonic()
            vote = self._vote()
            if vote.won:
                self.vote = vote
                self.held_on, self.epoch = vote.acquired, vote.epoch
                self.renewed_at = asked
                self.cluster_generation = vote.generation
                break
            if vote.acquired:  # a minority is no lock: give it back so another run can win
                self.held_on = vote.acquired
                self._release(0)
                self.held_on = ()
            if vote.settling and time.monotonic() < settle:
                time.sleep(random.uniform(0.05, 0.4))  # split votes: runs retry at different moments
                continue
            if time.monotonic() >= deadline:
                raise LockError(self._refusal(vote))
            time.sleep(random.uniform(0.7, 1.3))
        local = self._local_generation()
        if local is not None and self.cluster_generation > local:
            self._release(0)
            raise StateBehindError(
                f"the state in {self.store.dir} is behind the cluster (generation {local} < {self.cluster_generation}): "  # type: ignore[union-attr]
                "another runner committed since; nothing was changed. Catch up with `git pull` in the state "
                "directory (or `kcli state rebuild`), then run the command again"
            )
        self._thread = threading.Thread(target=self._renew, daemon=True)
        self._thread.start()
        return self

    def _refusal(self, vote: Vote) -> str:
        cluster = self.pool.inventory.cluster
        reachable = len(self.voters) - len(vote.unreachable)
        if reachable < self.need:
            down = "; ".join(f"{n}: {why}" for n, why in sorted(vote.unreachable.items()))
            return (
                f"cluster {cluster}: only {reachable} of the {len(self.voters)} lock nodes answer and the lock needs "
                f"{self.need} ({down})"
            )
        info, nodes = vote.holder()
        return (
            f"cluster {cluster} is locked on {', '.join(nodes)}: {info.describe()}; "
            "wait (--lock-wait SECONDS) or, if the holder is gone, `kcli unlock --force`"
        )

    def _local_generation(self) -> int | None:
        return None if self.store is None or not self.store.exists() else self.store.generation()

    def _release(self, generation: int) -> None:
        """Release on every voter this run holds; with a newer ``generation``, the local state file
        goes with it (kept on each, so a majority keeps the newest commit's)."""
        try:
            stdin = self.store.path.read_bytes() if generation and self.store is not None else None
            ask(self.pool, self._held_hosts(), release_script(self.token, generation if stdin else 0), stdin=stdin)
        except Exception:  # noqa: BLE001 - an unreleased lock expires by itself; the next commit keeps the state
            pass

    def _renew_once(self) -> None:
        asked = time.monotonic()
        answers, _ = ask(self.pool, self._held_hosts(), renew_script(self.token, self.ttl))
        confirmed, lost = renewal(answers, self.held_on, self.need)
        if lost:
            self.lost = True
        elif confirmed:
            self.renewed_at = asked

    def _renew(self) -> None:
        while not self._stop.wait(max(1.0, self.ttl / 3)):
            try:
                self._renew_once()
            except Exception:  # noqa: BLE001 - the next renewal retries; expiry is the safety net
                continue
            if self.lost:
                return

    def forget(self, nodes: Sequence[str]) -> None:
        """These voters lost their lock directory with the rest of /var/lib/kcli (kcli reset)."""
        self.held_on = tuple(n for n in self.held_on if n not in nodes)

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
        """Raise LockLostError unless this run still holds the lock (before a commit). A majority
        confirmed the hold at ``renewed_at`` with the expiry ``ttl`` later; well within that (half
        the TTL) nobody can have taken it by expiry and no round trip is needed. (A forced unlock is
        the exception either way: the nodes' fences refused this run's writes after it.)"""
        if not self.enabled:
            return
        if not self.lost and time.monotonic() - self.renewed_at < self.ttl / 2:
            return
        if not self.lost:
            try:
                self._renew_once()
            except Exception as exc:  # noqa: BLE001 - cannot tell: do not commit
                raise LockLostError(f"cannot confirm the cluster lock: {exc}; nothing was committed") from exc
            if not self.lost and time.monotonic() - self.renewed_at >= self.ttl / 2:
                raise LockLostError(
                    f"cannot confirm the cluster lock on a majority of {', '.join(self.held_on)}; nothing was committed"
                )
        if self.lost:
            raise LockLostError(
                "this run's lock expired and another run took it; stopped without committing "
                "(its writes were refused by the nodes). Run the command again."
            )

    def __exit__(self, *exc: object) -> None:
        if not self.enabled or not self.epoch:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        local = self._local_generation() or 0
        self._release(local if local > self.cluster_generation and not self.lost else 0)
