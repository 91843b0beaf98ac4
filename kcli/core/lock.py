"""The cluster lock, held on a designated node (atomic mkdir) with owner, token and expiry.

Each acquisition gets an epoch, strictly increasing (kcli.core.fence uses it to refuse writes
from a holder whose lock was taken over). Times are the lock node's own clock, so runners with skewed clocks agree on expiry. A holder
renews before expiry; a crashed holder's lock expires and the next taker moves it aside atomically.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from kcli.core.inventory import Host, Inventory

LOCK_DIR = "/var/lib/kcli/lock"


def _beside_lock(name: str) -> str:
    """state.generation (the newest state generation a run committed) and state.yaml (that state,
    its Secret values only sealed, for `state rebuild`) live beside the lock directory."""
    return f"{LOCK_DIR.rsplit('/', 1)[0]}/{name}"


def lock_host(inv: Inventory) -> Host:
    """The first control-plane host, else the first host."""
    for h in inv.hosts:
        if "control-plane" in h.roles:
            return h
    return inv.hosts[0]


def acquire_script(token: str, owner: str, ttl: int) -> str:
    d = shlex.quote(LOCK_DIR)
    e = shlex.quote(LOCK_DIR + ".epoch")  # outside LOCK_DIR: survives release and takeover
    info = shlex.quote(f"token={token}\nowner={owner.replace(chr(10), ' ')}\n")
    return f"""mkdir -p {shlex.quote(LOCK_DIR.rsplit('/', 1)[0])}
for attempt in 1 2 3 4 5; do
  now=$(date +%s)
  if mkdir {d} 2>/dev/null; then
    last=$(cat {e} 2>/dev/null || echo 0); case $last in ''|*[!0-9]*) last=0;; esac
    epoch=$(date +%s)000; [ "$last" -ge "$epoch" ] && epoch=$((last + 1))
    printf '%s\n' "$epoch" > {e}.tmp && mv -f {e}.tmp {e}
    {{ printf %s {info}; echo "acquired=$now"; echo "expires=$((now + {int(ttl)}))"; echo "epoch=$epoch"; }} > {d}/info.tmp
    mv {d}/info.tmp {d}/info
    echo state=acquired; echo "now=$now"; echo "epoch=$epoch"; echo "generation=$(cat {shlex.quote(_beside_lock('state.generation'))} 2>/dev/null || echo 0)"; exit 0
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
        f"sed -i \"s/^expires=.*/expires=$((now + {int(ttl)}))/\" {d}/info; echo state=renewed; else echo state=lost; fi"
    )


def release_script(token: str, generation: int = 0) -> str:
    """Release the lock if this run still holds it. With ``generation``, the state on stdin is
    first kept on the lock node (0600) as the cluster's newest, when it is newer than the one there."""
    d = shlex.quote(LOCK_DIR)
    t = shlex.quote(f"token={token}")
    g, c = shlex.quote(_beside_lock("state.generation")), shlex.quote(_beside_lock("state.yaml"))
    keep = (f"cur=$(cat {g} 2>/dev/null || echo 0); case $cur in ''|*[!0-9]*) cur=0;; esac; "
            f"if [ {int(generation)} -gt \"$cur\" ]; then (umask 077; cat > {c}.tmp) && mv -f {c}.tmp {c} && "
            f"printf '%s\\n' {int(generation)} > {g}.tmp && mv -f {g}.tmp {g}; else cat >/dev/null; fi; ") if generation else ""
    drain = "cat >/dev/null; " if generation else ""
    return f"if grep -qx {t} {d}/info 2>/dev/null; then {keep}rm -rf {d}; echo state=released; else {drain}echo state=not-held; fi"


def state_copy_script() -> str:
    """The cluster's kept state and its generation (``kcli state rebuild``)."""
    g, c = shlex.quote(_beside_lock("state.generation")), shlex.quote(_beside_lock("state.yaml"))
    return f"echo generation=$(cat {g} 2>/dev/null || echo 0); echo ==state; cat {c} 2>/dev/null || true"


def status_script() -> str:
    d = shlex.quote(LOCK_DIR)
    return f"echo now=$(date +%s); if [ -d {d} ]; then echo state=held; cat {d}/info 2>/dev/null; else echo state=free; fi"


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

    return LockInfo(kv.get("state", "unknown"), kv.get("owner", ""), kv.get("token", ""), num("acquired"), num("expires"), num("now"), num("epoch"), num("generation"))
