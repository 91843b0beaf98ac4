"""Run commands on the machine running kcli (docker CLI for the sandbox, git for state)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from kcli.errors import KcliError, SandboxError


def run_local(
    argv: Sequence[str],
    *,
    input: bytes | None = None,
    check: bool = True,
    timeout: float | None = 600,
    error: type[KcliError] = SandboxError,
) -> subprocess.CompletedProcess[str]:
    """Run argv locally and capture text output; raise ``error`` on a non-zero exit when check."""
    try:
        proc = subprocess.run(
            list(argv),
            input=input,
            capture_output=True,
            timeout=timeout,
        )
    except FileNotFoundError as exc:
        raise error(f"{argv[0]}: not installed on this machine") from exc
    except subprocess.TimeoutExpired as exc:
        raise error(f"{' '.join(argv)}: timed out after {timeout}s") from exc
    out = subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    )
    if check and out.returncode != 0:
        tail = "\n".join(out.stderr.strip().splitlines()[-5:])
        raise error(f"{' '.join(argv[:4])}: exit {out.returncode}: {tail}")
    return out
