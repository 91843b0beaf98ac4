"""Shell combinators: argv tuples joined and quoted in one place; batched step scripts."""

from __future__ import annotations

import base64
import posixpath
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Argv = tuple[str, ...]


def sh(argv: Sequence[str]) -> str:
    """One command line from argv: every word quoted."""
    return shlex.join(argv)


def write_file(path: str, content: str | bytes, mode: str = "0644") -> str:
    """Atomically write content, text or raw bytes (base64 on the wire: nothing reaches the shell)."""
    data = base64.b64encode(content if isinstance(content, bytes) else content.encode()).decode()
    tmp = f"{path}.kcli-tmp"
    return " && ".join(
        [
            sh(("mkdir", "-p", posixpath.dirname(path))),
            f"printf %s {shlex.quote(data)} | base64 -d > {shlex.quote(tmp)}",
            sh(("chmod", mode, tmp)),
            sh(("mv", "-f", tmp, path)),
        ]
    )


def fail(*words: str) -> str:
    """``{ printf '%s\\n' MESSAGE >&2; exit 1; }``: a failure message as one quoted printf argument.

    Messages carry manifest values (image names, paths, container names): they reach the shell
    only as data, never inside an ``echo '…'`` where a quote in a value would end the string."""
    return "{ printf '%s\\n' " + shlex.quote(" ".join(words)) + " >&2; exit 1; }"


def write_private(directory: str, files: Mapping[str, str | bytes]) -> str:
    """Write files that only root can read, as one line: ``umask 077`` is set before the
    directory and any file exist (so nothing is ever readable by others, not even for a moment),
    the directory is 0700, each file 0600; contents travel as base64 data, never as shell text."""
    parts = ["umask 077"]
    paths = [posixpath.join(directory, name) for name in files]
    if paths:
        parts.append(sh(("rm", "-f", *paths)))
    parts += [sh(("mkdir", "-p", directory)), sh(("chmod", "700", directory))]
    for path, content in zip(paths, files.values(), strict=False):
        data = base64.b64encode(content if isinstance(content, bytes) else content.encode()).decode()
        parts.append(f"printf %s {shlex.quote(data)} | base64 -d > {shlex.quote(path)}")
    return "( " + " && ".join(parts) + " )"


def feed(content: str, argv: Sequence[str]) -> str:
    """Run argv with content on its stdin (base64 on the wire, decoded on the host)."""
    data = base64.b64encode(content.encode()).decode()
    return f"printf %s {shlex.quote(data)} | base64 -d | {sh(argv)}"


# Runs the script given on stdin from a private tmpfs file: values in it (secret files, env) never
# appear on a command line, where any user of the node could read them from /proc.
RUN_STDIN_SCRIPT = (
    "sh",
    "-c",
    'mkdir -p /run/kcli && f=$(mktemp /run/kcli/script.XXXXXX) && cat > "$f" && '
    'sh "$f" </dev/null; rc=$?; rm -f "$f"; exit $rc',
)


@dataclass(frozen=True)
class Step:
    """One idempotent unit of host work: ``lines`` is empty when the host already matches."""

    host: str
    name: str
    detail: str
    lines: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.lines)

    def describe(self) -> str:
        return f"{self.host}: {self.name}: {self.detail}"
