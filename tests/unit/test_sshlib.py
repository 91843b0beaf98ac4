"""kcli.shell.sshlib: paramiko imported without invoke or importlib.metadata, its version intact."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, sys
from kcli.shell.sshlib import paramiko
from kcli.shell.transport import SshConnection
lean = "importlib.metadata" not in sys.modules and sys.modules.get("invoke", 0) is None
banner = paramiko.Transport._CLIENT_ID
from importlib import metadata
import importlib.metadata as again
print(json.dumps({
    "lean": lean,
    "version": paramiko.__version__,
    "real": metadata.version("paramiko"),
    "same": metadata is again,
    "dists": len(list(metadata.distributions())) > 0,
    "banner": banner,
}))
"""


def test_paramiko_is_imported_lean_and_keeps_its_version():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["lean"] and got["same"] and got["dists"]
    assert got["version"] == got["real"] and got["banner"] == f"paramiko_{got['real']}"
