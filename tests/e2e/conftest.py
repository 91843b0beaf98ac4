"""End-to-end fixtures: a real sandbox cluster (node containers with sshd + docker), real SSH.

Never skipped: if docker does not work, these tests fail loudly. The sandbox gets its own name and
KCLI_HOME so it never touches a user's sandbox or contexts, and is always torn down.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import paramiko
import pytest
import testinfra
import yaml
from testinfra.backend.paramiko import ParamikoBackend

SANDBOX = os.environ.get("KCLI_E2E_SANDBOX", "e2e")


class Kcli:
    """Runs the real `kcli` CLI in a subprocess with the test's KCLI_HOME."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {**os.environ, "KCLI_HOME": str(home), "COLUMNS": "200"}
        self.env.pop("KCLI_INVENTORY", None)

    def __call__(self, *args: str, check: bool = True, env: dict | None = None, timeout: float = 600, input: str | None = None):
        proc = subprocess.run(
            [sys.executable, "-m", "kcli", *args],
            capture_output=True, text=True, env={**self.env, **(env or {})}, timeout=timeout, input=input,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kcli {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def json(self, *args: str) -> dict:
        return json.loads(self(*args, "-o", "json").stdout)


@pytest.fixture(scope="session")
def kcli_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("kcli-home")


@pytest.fixture(scope="session")
def kcli(kcli_home) -> Kcli:
    return Kcli(kcli_home)


@pytest.fixture(scope="session")
def sandbox(kcli, kcli_home):
    """A 3-node sandbox, up for the whole session; its inventory path is returned."""
    info = subprocess.run(["docker", "info"], capture_output=True, text=True)
    assert info.returncode == 0, f"docker does not answer; e2e tests need it:\n{info.stderr}"
    kcli("sandbox", "down", "--name", SANDBOX, check=False)
    try:
        kcli("sandbox", "up", "--name", SANDBOX, "--nodes", "3")
        yield kcli_home / "sandboxes" / SANDBOX / "inventory.yaml"
    finally:
        kcli("sandbox", "down", "--name", SANDBOX, check=False)


@pytest.fixture(scope="session")
def inventory(sandbox) -> dict:
    return yaml.safe_load(sandbox.read_text())


def strict_client(address: str, sb_dir: Path) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(str(sb_dir / "known_hosts"))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(address, username="root", key_filename=str(sb_dir / "id_ed25519"), look_for_keys=False, allow_agent=False, timeout=5)
    return client


class StrictParamikoBackend(ParamikoBackend):
    """testinfra's paramiko backend, but with the sandbox's known_hosts and RejectPolicy (also on reconnect)."""

    sb_dir: Path

    @functools.cached_property
    def client(self) -> paramiko.SSHClient:
        return strict_client(self.host.name, self.sb_dir)


@pytest.fixture(scope="session")
def nodes(sandbox, inventory):
    """testinfra hosts (paramiko backend) per node name, connected with strict host-key checking."""
    hosts = {}
    for h in inventory["hosts"]:
        host = testinfra.get_host(f"paramiko://root@{h['address']}")
        host.backend.__class__ = StrictParamikoBackend
        host.backend.sb_dir = sandbox.parent
        hosts[h["name"]] = host
    return hosts
