"""The cluster lock: a majority lock over the lock nodes (voters), each vote an atomic mkdir with
owner, token and expiry on that node.

The voters are the control-plane hosts when there are 3 or more, else every host
(``lock_hosts``); a run holds the lock when it holds a majority of them, so any two holders share a
voter and the lock survives the loss of any one node of 3. Each node proposes an epoch greater than
every epoch it has seen (its lock.epoch and fence files) and the holder takes the greatest proposal
of its majority (kcli.core.fence uses it to refuse writes from a holder whose lock was taken
over). Times are each node's own clock, so runners with skewed clocks agree on expiry. A holder
renews before expiry; a crashed holder's lock expires and the next taker moves it aside
atomically. The argument is written out in docs/design.md ("The cluster lock").
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kcli.core.inventory import Host, Inventory

LOCK_DIR = "/var/lib/kcli/lock"


# What kcli reset leaves in /var/lib/kcli: the lock and the cluster's memory of it (epochs seen, the
# kept state). A reset voter still counts in the running reset's majority, and a stale holder's
# epoch stays refused there.
KEPT_BY_RESET = ("lock", "lock.epoch", "lock.takeover", "fence", "fence.lock", "state.yaml", "state.generation")


def _beside_lock(name: str) -> str:
    """state.generation (the newest state generation a run committed) and state.yaml (that state,
    its Secret values only sealed, for `state rebuild`) live beside the lock directory."""
    return f"{LOCK_DIR.rsplit('/', 1)[0]}/{name}"


def lock_hosts(inv: Inventory) -> tuple[Host, ...]:
    """The lock's voters: the control-plane hosts when there are 3 or more, else every host."""
    control = tuple(h for h in inv.hosts if "control-plane" in h.roles)
    return control if len(control) >= 3 else tuple(inv.hosts)


def majority(voters: int) -> int:
    return voters // 2 + 1


def acquire_script(token: str, owner: str, ttl: int) -> str:
    d = shlex.quote(LOCK_DIR)
    e = shlex.quote(LOCK_DIR + ".epoch")  # outside LOCK_DIR: survives release and takeover
    f = shlex.quote(_beside_lock("fence"))  # the highest epoch a holder brought to this node (kcli.core.fence)
    info = shlex.quote(f"token={token}\nowner={owner.replace(chr(10), ' ')}\n")
    return f"""mkdir -p {shlex.quote(LOCK_DIR.rsplit("/", 1)[0])}
for attempt in 1 2 3 4 5; do
  now=$(date +%s)
  if mkdir {d} 2>/dev/null; then
    last=$(cat {e} 2>/dev/null || echo 0); case $last in ''|*[!0-9]*) last=0;; esac
    prev=$last
    seen=$(cat {f} 2>/dev/null || echo 0); case $seen in ''|*[!0-9]*) seen=0;; esac
    [ "$seen" -gt "$last" ] && last=$seen
    epoch=$(date +%s)000; [ "$last" -ge "$epoch" ] && epoch=$((last + 1))
    printf '%s\n' "$epoch" > {e}.tmp && mv -f {e}.tmp {e}
    {{ printf %s {info}; echo "acquired=$now"; echo "expires=$((now + {int(ttl)}))"; echo "epoch=$epoch"; }} > {d}/info.tmp
    mv {d}/info.tmp {d}/info
    echo state=acquired; echo "now=$now"; echo "epoch=$epoch"; echo "prev_epoch=$prev"; echo "generation=$(cat {shlex.quote(_beside_lock("state.generation"))} 2>/dev/null || echo 0)"; exit 0
  fi
  exp=$(sed -n 's/^expires=//p' {d}/info 2>/dev/null)
  age=$((now - $(stat -c %Y {d} 2>/dev/null || echo "$now")))
  if {{ [ -n "$exp" ] && [ "$exp" -lt "$now" ]; }} || {{ [ -z "$exp" ] && [ "$age" -gt 30 ]; }}; then
    # Take over under a second mutex, re-reading the expiry inside it: two takers never both win.
    if mkdir {d}.takeover 2>/dev/null; then
      exp2=$(sed -n 's/^expires=//p' {d}/info 2>/dev/null)
      if [ "$exp2" = "$exp" ]; then mv {d} {d}.stale.$$ 2>/dev/null && rm -rf {d}.stale.$$; fi
      rmdir {d}.takeover
    else
      [ $(( now - $(stat -c %Y {d}.takeover 2>/dev/null || echo "$now") )) -gt 30 ] && rmdir {d}.takeover 2>/dev/null
      sleep 0.2
    fi
    continue
  fi
  echo state=held; echo "now=$now"; cat {d}/info 2>/dev/null; exit 0
done
echo state=held; echo "now=$(date +%s)"
"""


def renew_script(token: str, ttl: int) -> str:
    d = shlex.quote(LOCK_DIR)
    t = shlex.quote(f"token={token}")
    return (
        f"if grep -qx {t} {d}/info 2>/dev/null; then now=$(date +%s); "
        f'sed -i "s/^expires=.*/expires=$((now + {int(ttl)}))/" {d}/info; echo state=renewed; else echo state=lost; fi'
    )


def release_script(token: str, generation: int = 0) -> str:
    """Release the lock if this run still holds it. With ``generation``, the state on stdin is
    first kept on the lock node (0600) as the cluster's newest, when it is newer than the one there."""
    d = shlex.quote(LOCK_DIR)
    t = shlex.quote(f"token={token}")
    g, c = shlex.quote(_beside_lock("state.generation")), shlex.quote(_beside_lock("state.yaml"))
    keep = (
        (
            f"cur=$(cat {g} 2>/dev/null || echo 0); case $cur in ''|*[!0-9]*) cur=0;; esac; "
            f'if [ {int(generation)} -gt "$cur" ]; then (umask 077; cat > {c}.tmp) && mv -f {c}.tmp {c} && '
            f"printf '%s\\n' {int(generation)} > {g}.tmp && mv -f {g}.tmp {g}; else cat >/dev/null; fi; "
        )
        if generation
        else ""
    )
    drain = "cat >/dev/null; " if generation else ""
    return f"if grep -qx {t} {d}/info 2>/dev/null; then {keep}rm -rf {d}; echo state=released; else {drain}echo state=not-held; fi"


# Read with an apply's look (lock nodes): the lock as it was then, for LOOK_STILL_VALID.
PROBE_SECTION = "lock_probe"


def probe_script() -> str:
    """The voter's last epoch, whether its lock is held and whether a holder's script runs now."""
    d = shlex.quote(LOCK_DIR)
    m = shlex.quote(_beside_lock("fence.lock"))
    return (
        f"echo epoch=$(cat {shlex.quote(LOCK_DIR + '.epoch')} 2>/dev/null || echo 0); "
        f"if [ -d {d} ]; then echo lock=held; else echo lock=free; fi; "
        f"if command -v flock >/dev/null 2>&1 && [ -e {m} ]; then "
        f"if flock -n {m} true; then echo mutex=free; else echo mutex=busy; fi; else echo mutex=free; fi"
    )


@dataclass(frozen=True)
class LockProbe:
    epoch: int
    free: bool  # no lock held and no holder's script running


def parse_probe(text: str | None) -> LockProbe | None:
    if text is None:
        return None
    kv = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    try:
        epoch = int(kv.get("epoch", ""))
    except ValueError:
        return None
    return LockProbe(epoch, kv.get("lock") == "free" and kv.get("mutex") == "free")


def look_still_valid(probes: Mapping[str, LockProbe | None], vote: Vote) -> bool:
    """Whether a look taken without the lock (with ``probes``) still shows the hosts as the won
    ``vote`` found them, so the holder may plan from it instead of looking again: on every voter it
    won, the lock was free then and nobody took it since (its epoch before this run's is the one the
    look read). Any other taker in between needed a majority, which shares a voter with this one."""
    if not vote.won:
        return False
    for node in vote.acquired:
        probe = probes.get(node)
        if probe is None or not probe.free or probe.epoch != vote.answers[node].prev_epoch:
            return False
    return True


def state_copy_script() -> str:
    """The cluster's kept state and its generation (``kcli state rebuild``)."""
    g, c = shlex.quote(_beside_lock("state.generation")), shlex.quote(_beside_lock("state.yaml"))
    return f"echo generation=$(cat {g} 2>/dev/null || echo 0); echo ==state; cat {c} 2>/dev/null || true"


def status_script() -> str:
    d = shlex.quote(LOCK_DIR)
    return (
        f"echo now=$(date +%s); if [ -d {d} ]; then echo state=held; cat {d}/info 2>/dev/null; else echo state=free; fi"
    )


def force_unlock_script() -> str:
    return f"rm -rf {shlex.quote(LOCK_DIR)}; echo state=free"


@dataclass(frozen=True)
class LockInfo:
    state: str  # acquired | held | free | renewed | lost | released | not-held
    owner: str = ""
    token: str = ""
    acquired: int = 0
    expires: int = 0
    now: int = 0
    epoch: int = 0
    generation: int = 0  # the newest state generation committed to this cluster (on acquire)
    prev_epoch: int = 0  # on acquire: the voter's last epoch before this one (no other taker since a look)

    def describe(self) -> str:
        if self.state == "free":
            return "unlocked"
        if not self.acquired:
            return f"held by {self.owner or 'unknown'} (no lock details yet)"
        left = self.expires - self.now
        return f"held by {self.owner or 'unknown'} since {self.now - self.acquired}s, expires in {max(left, 0)}s"


def parse_lock(text: str) -> LockInfo:
    kv: dict[str, str] = {}
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            kv[k.strip()] = v.strip()

    def num(key: str) -> int:
        try:
            return int(kv.get(key, "0"))
        except ValueError:
            return 0

    return LockInfo(
        kv.get("state", "unknown"),
        kv.get("owner", ""),
        kv.get("token", ""),
        num("acquired"),
        num("expires"),
        num("now"),
        num("epoch"),
        num("generation"),
        num("prev_epoch"),
    )


@dataclass(frozen=True)
class Vote:
    """One acquire round over the voters (their answers to acquire_script): the lock is won with a
    majority of them."""

    answers: Mapping[str, LockInfo]  # voter -> its answer
    unreachable: Mapping[str, str]  # voter -> why it did not answer
    need: int

    @property
    def acquired(self) -> tuple[str, ...]:
        """The voters that gave this run their lock."""
        return tuple(sorted(n for n, i in self.answers.items() if i.state == "acquired"))

    @property
    def held(self) -> dict[str, LockInfo]:
        """The voters another run holds."""
        return {n: i for n, i in self.answers.items() if i.state != "acquired"}

    @property
    def won(self) -> bool:
        return len(self.acquired) >= self.need

    @property
    def epoch(self) -> int:
        """The greatest proposal of the acquired voters: above every epoch any of them has seen."""
        return max((self.answers[n].epoch for n in self.acquired), default=0)

    @property
    def generation(self) -> int:
        """The newest state generation the acquired voters keep (a majority holds the newest commit's)."""
        return max((self.answers[n].generation for n in self.acquired), default=0)

    def holder(self) -> tuple[LockInfo, tuple[str, ...]]:
        """The other run holding the most voters (with its details), and those voters."""
        by_token: dict[str, list[str]] = {}
        for node, info in self.held.items():
            by_token.setdefault(info.token, []).append(node)
        if not by_token:
            return LockInfo("held"), ()
        token = max(by_token, key=lambda t: (len(by_token[t]), bool(t)))
        nodes = tuple(sorted(by_token[token]))
        return max((self.held[n] for n in nodes), key=lambda i: i.acquired), nodes

    @property
    def settling(self) -> bool:
        """Worth asking again at once rather than reporting the holder: this run got some voters (two
        runs split them), or a voter's holder has written no details yet (it is taking the lock now)."""
        return bool(self.acquired) or any(not i.acquired for i in self.held.values())


def renewal(answers: Mapping[str, LockInfo], held_on: Sequence[str], need: int) -> tuple[bool, bool]:
    """(confirmed, lost) from the voters' answers to renew_script: confirmed when a majority still
    carries this run's lock; lost when too many voters refused for a majority to be left."""
    renewed = sum(1 for n in held_on if n in answers and answers[n].state == "renewed")
    refused = sum(1 for n in held_on if n in answers and answers[n].state == "lost")
    return renewed >= need, refused > len(held_on) - need


def kept_state(outputs: Mapping[str, str]) -> tuple[str, int, str]:
    """The newest of the states the lock nodes keep (their state_copy_script outputs):
    (node, generation, state text); generation 0 when none keeps one."""
    best = ("", 0, "")
    for node in sorted(outputs):
        head, _, text = outputs[node].partition("==state\n")
        try:
            generation = int(head.strip().rpartition("generation=")[2] or 0)
        except ValueError:
            continue
        if generation > best[1] and text.strip():
            best = (node, generation, text)
    return best
