"""`kcli completion bash`, sourced in a real bash, completes commands and resource types (bash's own
completion function driven as readline would: COMP_WORDS, COMP_CWORD, then COMPREPLY)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def complete(words: list[str]) -> list[str]:
    script = subprocess.run(
        [str(BIN / "kcli"), "completion", "bash"], capture_output=True, text=True, check=True
    ).stdout
    words_text = " ".join(words)
    driver = (
        f"{script}\nCOMP_WORDS=({words_text}); COMP_CWORD={len(words) - 1}; COMP_LINE='{words_text}'\n"
        "_kcli_completion kcli; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    res = subprocess.run(
        ["bash", "--norc", "-c", driver], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    return [ln for ln in res.stdout.splitlines() if ln]


@pytest.mark.skipif(not shutil.which("bash") or not (BIN / "kcli").exists(), reason="needs bash and the kcli script")
def test_bash_completes_resource_types_and_commands():
    assert complete(["kcli", "get", "po"]) == ["po", "pod", "pods"]
    assert "persistentvolumeclaims" in complete(["kcli", "get", "pe"])
    assert complete(["kcli", "rollo"]) == ["rollout"]
    assert {"get", "delete"} <= set(complete(["kcli", ""]))
