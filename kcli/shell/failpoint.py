"""Fault injection for end-to-end tests: ``KCLI_FAILPOINT=NAME`` stops the process (SIGSTOP) when it
reaches the named point, so a test can pause a run exactly there and resume it with SIGCONT."""

from __future__ import annotations

import os
import signal


def failpoint(name: str) -> None:
    if name and os.environ.get("KCLI_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGSTOP)
