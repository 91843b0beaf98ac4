"""The functional core does no I/O, reads no clock, environment or randomness: proven by an AST scan.

Allowed: pure standard-library modules (hashlib, json, ipaddress, re, dataclasses, typing, enum,
math, itertools, functools, collections, shlex, base64, decimal, heapq, datetime for parsing but
never ``.now()``, ...), kcli's own modules, and pyyaml. One exception: ``kcli/core/validate.py`` may import ``kubernetes_validate`` (and its
jsonschema/referencing), an offline, read-only lookup of the upstream OpenAPI schemas bundled in
that package, done once per kind.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "kcli" / "core"
FILES = sorted(CORE.rglob("*.py"))

FORBIDDEN_MODULES = {
    "os",
    "sys",
    "subprocess",
    "socket",
    "ssl",
    "select",
    "selectors",
    "signal",
    "paramiko",
    "fabric",
    "invoke",
    "time",
    "random",
    "secrets",
    "uuid",
    "threading",
    "multiprocessing",
    "concurrent",
    "asyncio",
    "shutil",
    "tempfile",
    "pathlib",
    "glob",
    "io",
    "urllib",
    "http",
    "requests",
    "getpass",
    "platform",
    "importlib",
    "ctypes",
    "sqlite3",
    "logging",
}
SCHEMA_MODULES = {"kubernetes_validate", "jsonschema", "referencing"}
SCHEMA_ALLOWED_IN = {"validate.py"}
FORBIDDEN_CALLS = {"open", "input", "exec", "eval", "__import__", "breakpoint", "print"}
FORBIDDEN_METHODS = {"now", "utcnow", "today", "getenv", "system", "popen", "urandom"}  # datetime.now() etc.
FORBIDDEN_ATTRS = {"environ"}


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name.split(".")[0]) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module.split(".")[0]))
    return out


def test_core_exists():
    assert CORE.is_dir() and len(FILES) > 5


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(CORE).as_posix())
def test_core_module_is_pure(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    problems = []
    for line, mod in _imports(tree):
        if mod in FORBIDDEN_MODULES:
            problems.append(f"line {line}: imports {mod}")
        if mod in SCHEMA_MODULES and path.name not in SCHEMA_ALLOWED_IN:
            problems.append(f"line {line}: imports {mod} (only validate.py may read the bundled schemas)")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            problems.append(f"line {node.lineno}: calls {node.func.id}()")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in FORBIDDEN_METHODS:
            problems.append(f"line {node.lineno}: calls .{node.func.attr}()")
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRS:
            problems.append(f"line {node.lineno}: uses .{node.attr}")
    assert problems == [], f"{path.relative_to(CORE.parent.parent)} is not pure: {problems}"


def test_the_scan_catches_impurity():
    bad = ast.parse("import os\nfrom time import time\nimport random as r\nopen('x')\nx.environ\nd.now()\n")
    assert [m for _, m in _imports(bad)] == ["os", "time", "random"]
    calls = {
        n.func.id if isinstance(n.func, ast.Name) else n.func.attr for n in ast.walk(bad) if isinstance(n, ast.Call)
    }
    assert {"open", "now"} <= calls
