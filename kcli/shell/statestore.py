"""State directory: canonical files written atomically only on change, one git commit per change."""

from __future__ import annotations

import copy
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kcli.core.inventory import Inventory
from kcli.core.state import parse_state, render_state
from kcli.errors import KcliError
from kcli.shell import parsedcache
from kcli.shell.local import run_local

STATE_FILE = "cluster.yaml"


class StateError(KcliError):
    exit_code = 1


def state_dir_for(inv: Inventory, explicit: str | None = None) -> Path:
    """--state wins, then $KCLI_STATE, then `state/` beside the inventory file."""
    if explicit:
        return Path(explicit)
    if os.environ.get("KCLI_STATE"):
        return Path(os.environ["KCLI_STATE"])
    return Path(inv.source).resolve().parent / "state"


def commit_id(summary: str) -> str | None:
    """The short id in ``git commit``'s summary line: ``[main (root-commit) 1a2b3c4] message``."""
    m = _SUMMARY.match(summary)
    return m.group(1) if m else None


_SUMMARY = re.compile(r"\[[^\]\n]* ([0-9a-f]{4,40})\] ")


class StateStore:
    def __init__(self, directory: Path, cluster: str) -> None:
        self.dir = directory
        self.cluster = cluster
        self._parsed: tuple[tuple | None, dict[str, Any]] = ((), {})

    @property
    def path(self) -> Path:
        return self.dir / STATE_FILE

    def exists(self) -> bool:
        return self.path.exists()

    def peek(self) -> Mapping[str, Any]:
        """The recorded state, parsed once per file version and shared: read it, never change it."""
        return self._parsed_state()

    def _parsed_state(self) -> dict[str, Any]:
        try:
            st = self.path.stat()
            stamp: tuple | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        if stamp is None or stamp != self._parsed[0]:
            text = self.path.read_text() if stamp is not None else ""
            cluster = self.cluster
            parsed = parsedcache.load(self.path, text, lambda t: parse_state(t, cluster), tag=f"state\0{cluster}")
            self._parsed = (stamp, parsed)
        return self._parsed[1]

    def load(self) -> dict[str, Any]:
        """The recorded state, a fresh copy each call (parsed once per file version)."""
        return copy.deepcopy(self._parsed_state())

    def generation(self) -> int:
        """The recorded state's generation (0 when none), without copying the state."""
        return int(self.peek().get("generation") or 0)

    def _git(self, *args: str, check: bool = True):
        return run_local(["git", "-C", str(self.dir), *args], check=check, error=StateError)

    def _ensure_repo(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if not (self.dir / ".git").exists():
            self._git("init", "-q")
            self._git("config", "user.name", "kcli")
            self._git("config", "user.email", "kcli@localhost")

    def save(
        self,
        state: dict[str, Any],
        message: str,
        extra_files: dict[str, str] | None = None,
        generation: int | None = None,
    ) -> str | None:
        """Write and commit when anything changed; returns the commit id, or None for no change.
        Each commit raises the state's ``generation`` by one (the cluster keeps the newest it
        saw: a state behind it is refused, kcli.shell.lock)."""
        gen = self.generation()
        files = {
            STATE_FILE: render_state({**state, "generation": gen if generation is None else generation}),
            **(extra_files or {}),
        }
        if generation is None and any(
            not (self.dir / n).exists() or (self.dir / n).read_text() != t for n, t in files.items()
        ):
            files[STATE_FILE] = render_state({**state, "generation": gen + 1})
        changed = [
            name
            for name, text in files.items()
            if not (self.dir / name).exists() or (self.dir / name).read_text() != text
        ]
        if not changed:
            return None
        self._ensure_repo()
        for name in changed:
            target = self.dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_text(files[name])
            os.replace(tmp, target)
        # While git runs: parse what was written, for the rest of this run (the lock's release reads
        # the generation) and for the next command (kept in the parsed cache, as its read would).
        remember = threading.Thread(target=self._parsed_state, daemon=True) if STATE_FILE in changed else None
        if remember is not None:
            remember.start()
        self._git("add", "--", *changed)
        done = self._git("commit", "-m", message, check=False)  # 2 git processes per commit, not 4
        if remember is not None:
            remember.join()
        if done.returncode != 0:
            if self._git("diff", "--cached", "--quiet", check=False).returncode == 0:
                return None  # the files are back to what the last commit holds: nothing to commit
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
            raise StateError(f"git commit in {self.dir}: exit {done.returncode}: {tail}")
        return commit_id(done.stdout) or self._git("rev-parse", "--short", "HEAD").stdout.strip()

    def log(self, limit: int = 20) -> list[dict[str, str]]:
        if not (self.dir / ".git").exists():
            return []
        out = self._git("log", f"-{limit}", "--format=%h%x09%cI%x09%s", check=False).stdout
        rows = []
        for line in out.splitlines():
            h, date, subject = (line.split("\t", 2) + ["", ""])[:3]
            rows.append({"commit": h, "date": date, "subject": subject})
        return rows
