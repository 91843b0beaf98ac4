"""Hostile or absurd input is refused with exit 3 and its field path, within bounded memory.

Each case runs the real CLI (`kcli apply --dry-run=client -f FILE`, no inventory: the Kubernetes
default pod network bounds replicas) in a subprocess under `ulimit -v 1000000` (about 1 GB of
address space), as issue 8 asks. Without the limits these inputs were accepted (exit 0), ran code
on this machine (templates), or grew past 3.5 GB until MemoryError (exit 1).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_validate import DEPLOYMENT as VALID_DEPLOYMENT

ULIMIT_KB = 1_000_000

DEPLOYMENT = VALID_DEPLOYMENT.replace("replicas: 2", "replicas: 1000000000")

POD = """apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: %s
    env: [{name: A, value: %s}]
"""


FILES = {
    "replicas": ("replicas.yaml", lambda: DEPLOYMENT),
    "alias bomb": (
        "bomb.yaml",
        lambda: (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  a: &a "
            + "x" * 1_000_000
            + "\n  list: ["
            + ",".join(["*a"] * 5000)
            + "]\n"
        ),
    ),
    "10 MB ConfigMap": (
        "configmap.yaml",
        lambda: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  k: " + "a" * 10_000_000 + "\n",
    ),
    "NUL": ("nul.yaml", lambda: POD % ("busybox", '"secret\\0tail"')),
    "hostile image": ("image.yaml", lambda: POD % ("\"x:1'; touch MARKER; echo '\"", "ok")),
    "template escape": (
        "template.yaml.j2",
        lambda: (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: t}\ndata:\n"
            "  a: \"{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}\"\n"
        ),
    ),
}
EXPECTED = {
    "replicas": [
        "replicas.yaml: doc 1 (Deployment/web): spec.replicas: must be <= 65536 (the pod network "
        "10.244.0.0/16 holds at most 65536 pods)"
    ],
    "alias bomb": ["bomb.yaml:6: doc 1: too large: the manifests expand to more than 16 MiB of text"],
    "10 MB ConfigMap": ["configmap.yaml: doc 1 (ConfigMap/big): data: Too long: may not be more than 1048576 bytes"],
    "NUL": ["nul.yaml: doc 1 (Pod/p): spec.containers[0].env[0].value: must not contain NUL (\\x00)"],
    "hostile image": ["image.yaml: doc 1 (Pod/p): spec.containers[0].image: invalid value", "invalid reference format"],
    "template escape": ["template.yaml.j2:5: template refused: access to attribute '__init__'"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """All cases at once, in parallel (the 10 MB ConfigMap takes a few seconds to parse)."""
    tmp = tmp_path_factory.mktemp("limits")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCLI_")}
    env["KCLI_HOME"] = str(tmp / "kcli-home")  # no context, hence no inventory
    procs = {}
    for name, (file, text) in FILES.items():
        (tmp / file).write_text(text())
        script = f'ulimit -v {ULIMIT_KB} && exec "$0" -m kcli "$@"'
        procs[name] = subprocess.Popen(
            ["bash", "-c", script, sys.executable, "apply", "--dry-run=client", "-f", file],
            cwd=tmp,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    out = {}
    for name, p in procs.items():
        stdout, stderr = p.communicate(timeout=300)
        out[name] = (subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr), tmp)
    return out


@pytest.mark.parametrize("case", list(FILES))
def test_refused_with_exit_3_and_the_field_path_within_bounded_memory(runs, case: str):
    proc, tmp = runs[case]
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "MemoryError" not in proc.stderr and "Traceback" not in proc.stderr
    for text in EXPECTED[case]:
        assert text in proc.stderr, proc.stderr[-2000:]
    assert proc.stdout == ""
    assert not (tmp / "MARKER").exists()


def test_the_memory_limit_is_real(tmp_path: Path):
    """The ulimit used above does stop a process that grows past it (so the tests above can fail)."""
    script = f'ulimit -v {ULIMIT_KB} && exec "$0" -c "x = bytearray(2 * 10**9)"'
    proc = subprocess.run(["bash", "-c", script, sys.executable], capture_output=True, text=True)
    assert proc.returncode != 0 and "MemoryError" in proc.stderr
