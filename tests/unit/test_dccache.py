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
    path = str(tmp_path / "dc")
    assert run(path) == "compiled"
    assert os.path.getsize(os.path.join(path, "__main__.marshal")) > 0  # one file per module
    assert run(path) == "from-cache"


def test_a_damaged_cache_only_costs_the_compile(tmp_path):
    path = tmp_path / "dc"
    path.mkdir()
    (path / "__main__.marshal").write_bytes(b"not marshal data")
    assert run(str(path)) == "compiled"
    assert run(str(path)) == "from-cache"  # and it was rewritten


MODULE_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[2])
from kcli import _dccache
_dccache.install(sys.argv[1])
for name in sys.argv[3:]:
    __import__(name)
"""


def _entries(path) -> dict[str, set[str]]:
    """Module -> the source texts the cache keeps for it (one file per module)."""
    import marshal
    from importlib.util import MAGIC_NUMBER

    return {f.stem: set(marshal.loads(f.read_bytes()[len(MAGIC_NUMBER) :])) for f in path.glob("*.marshal")}


def test_an_edited_module_replaces_its_entries_and_other_modules_keep_theirs(tmp_path):
    """Editing a module's dataclass leaves no stale entries behind (the file does not grow with
    every edit); the entries of a module this process did not import are kept."""
    path, src = tmp_path / "dc", tmp_path / "src"
    src.mkdir()
    env = {**os.environ, "KCLI_NO_DC_CACHE": "1"}

    def run_with(*modules: str) -> None:
        subprocess.run([sys.executable, "-c", MODULE_SCRIPT, str(path), str(src), *modules], env=env, check=True)

    def write(name: str, fields: str) -> None:
        (src / f"{name}.py").write_text(f"import dataclasses\n@dataclasses.dataclass(frozen=True)\nclass C:\n{fields}")
        for cached in (src / "__pycache__").glob(f"{name}.*"):
            cached.unlink()

    write("edited", "    a: int\n")
    write("other", "    x: str\n    y: str\n")
    run_with("edited", "other")
    first = _entries(path)
    assert first["edited"] and first["other"]
    write("edited", "    a: int\n    b: int\n")
    run_with("edited")  # only the edited module is imported
    second = _entries(path)
    assert second["other"] == first["other"]  # kept: its module was not imported here
    assert len(second["edited"]) == len(first["edited"])  # replaced, not added to
    assert any("(self,a:_type_a,b:_type_b)" in t for t in second["edited"])  # the new __init__
    assert not any("(self,a:_type_a)->" in t for t in second["edited"])  # the old one is gone
