"""kcli._dccache: dataclass methods compiled once and kept, with the same behaviour."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import sys
from kcli import _dccache
_dccache.install(sys.argv[1])
import dataclasses

@dataclasses.dataclass(frozen=True)
class P:
    a: int
    b: tuple = ()

p = P(1, (2,))
assert p == P(1, (2,)) and p != P(2) and hash(p) == hash(P(1, (2,))) and repr(p) == "P(a=1, b=(2,))"
try:
    p.a = 3
    raise SystemExit("frozen dataclass accepted an assignment")
except dataclasses.FrozenInstanceError:
    pass
print("compiled" if _dccache._new else "from-cache")
"""


def run(path: str) -> str:
    env = {**os.environ, "KCLI_NO_DC_CACHE": "1"}  # kcli's own install stays off; the script installs at `path`
    out = subprocess.run([sys.executable, "-c", SCRIPT, path], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_first_run_compiles_and_keeps_the_code_the_next_run_uses_it(tmp_path):
    path = str(tmp_path / "dc.marshal")
    assert run(path) == "compiled"
    assert os.path.getsize(path) > 0
    assert run(path) == "from-cache"


def test_a_damaged_cache_only_costs_the_compile(tmp_path):
    path = tmp_path / "dc.marshal"
    path.write_bytes(b"not marshal data")
    assert run(str(path)) == "compiled"
    assert run(str(path)) == "from-cache"  # and it was rewritten
