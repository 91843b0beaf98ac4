"""Fencing: a run that lost the cluster lock can no longer write to any host.

Each lock acquisition gets an epoch from the lock node, strictly greater than every earlier one
(milliseconds of the lock node's clock, or the last epoch + 1). Every script kcli runs under the
lock begins with this preamble, which on each host, under a host-local mutex (flock):

- refuses the script when the host has seen a higher epoch (a newer holder reached it);
- on the lock node, also refuses it when the lock no longer carries this holder's token;
- otherwise raises the host's epoch to this one, then holds the mutex until the script ends.

A new holder's first round trip (its observation) raises the epoch on every host it reads, after
waiting for any script of the old holder still running there (the mutex). From then on the old
holder's scripts are refused on those hosts, and its in-flight scripts finished before the new
holder looked: an expired holder cannot write after a new holder took the lock.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from kcli.core.facts.sections import MARK, RC_MARK

FENCE_FILE = "/var/lib/kcli/fence"
FENCE_MUTEX = "/var/lib/kcli/fence.lock"
LOCK_INFO = "/var/lib/kcli/lock/info"
FENCED_RC = 75  # EX_TEMPFAIL
MUTEX_WAIT = 600  # seconds: a previous holder's script still running on the host


@dataclass(frozen=True)
class Fence:
    """The lock holder's credentials, carried by every write."""

    epoch: int
    token: str


def fence_preamble(fence: Fence, *, lock_node: bool = False) -> str:
    """Shell text printing the section ``fence``; exits with FENCED_RC when this holder is stale.

    The mutex is fd 9, held until the script exits; a command that outlives the script (a daemon
    started in the background) must close it with ``9>&-``."""
    epoch = int(fence.epoch)
    refuse = f'echo "{RC_MARK}{FENCED_RC}"; exit {FENCED_RC}'
    token_check = ""
    if lock_node:
        token_check = (
            f"if ! grep -qx {shlex.quote('token=' + fence.token)} {LOCK_INFO} 2>/dev/null; then "
            f"echo 'the cluster lock is no longer held by this run (it expired and was taken over)'; {refuse}; fi\n"
        )
    return (
        f"printf '%s\\n' {shlex.quote(MARK + 'fence')}\n"
        f"mkdir -p {shlex.quote(FENCE_FILE.rsplit('/', 1)[0])}\n"
        f"if command -v flock >/dev/null 2>&1; then exec 9>>{FENCE_MUTEX}; "
        f"flock -w {MUTEX_WAIT} 9 || {{ echo 'another run is still writing to this host'; {refuse}; }}; fi\n"
        f"kcli_fence=$(cat {FENCE_FILE} 2>/dev/null || echo 0)\n"
        "case $kcli_fence in ''|*[!0-9]*) kcli_fence=0;; esac\n"
        f'if [ "$kcli_fence" -gt {epoch} ]; then '
        f'echo "the cluster lock was taken by a newer run (epoch $kcli_fence > {epoch})"; {refuse}; fi\n'
        f"{token_check}"
        f"if [ \"$kcli_fence\" -ne {epoch} ]; then printf '%s\\n' {epoch} > {FENCE_FILE}.tmp && mv -f {FENCE_FILE}.tmp {FENCE_FILE}; fi\n"
        f'echo epoch={epoch}; echo "{RC_MARK}0"'
    )
