"""The one mapping from failure kinds to exit codes (see docs/design.md)."""

from __future__ import annotations


class KcliError(Exception):
    """A user-facing error: printed as one line, no traceback."""

    exit_code = 1

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class UsageError(KcliError):
    exit_code = 2


class ValidationError(KcliError):
    """Invalid manifests or inventory: every problem is listed in ``details``."""

    exit_code = 3


class InventoryError(ValidationError):
    pass


class ManifestError(ValidationError):
    pass


class PlanError(KcliError):
    """Cannot plan: unschedulable, ownership conflict, facts unreadable, preflight failed."""

    exit_code = 4


class PreflightError(PlanError):
    pass


class ExecutionError(KcliError):
    """Applying failed on at least one host."""

    exit_code = 5


class ConnectError(ExecutionError):
    """Transport failure: DNS, refused, timeout, authentication, host key."""


class HostKeyError(ConnectError):
    pass


class CommandError(ExecutionError):
    """A remote command exited non-zero."""

    def __init__(self, host: str, argv: tuple[str, ...] | list[str], exit_code: int, stderr: str) -> None:
        tail = "\n".join(stderr.strip().splitlines()[-10:])
        short = " ".join(argv)[:120]
        super().__init__(f"{host}: command failed with exit {exit_code}: {short}" + (f": {tail}" if tail else ""))
        self.host = host
        self.argv = tuple(argv)
        self.remote_exit_code = exit_code
        self.stderr = stderr


class CommandTimeoutError(ExecutionError):
    pass


class SandboxError(KcliError):
    exit_code = 5


class VagrantError(KcliError):
    """Vagrant is missing, or it failed (machines not up, provider errors)."""

    exit_code = 5


class LockError(KcliError):
    exit_code = 6


class StateBehindError(KcliError):
    """The local state is older than the cluster's: another runner committed since."""

    exit_code = 7


class LockLostError(LockError):
    """This run's lock expired and another run took it: it stopped without writing or committing."""
