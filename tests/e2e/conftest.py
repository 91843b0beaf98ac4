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

    def __call__(
        self, *args: str, check: bool = True, env: dict | None = None, timeout: float = 600, input: str | None = None
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "kcli", *args],
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=timeout,
            input=input,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kcli {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    def json(self, *args: str) -> dict:
        return json.loads(self(*args, "-o", "json").stdout)


@pytest.fixture(scope="session")
def kcli_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("kcli-home")


@pytest.fixture(scope="session")
def kcli(kcli_home) -> Kcli:
    return Kcli(kcli_home)


class SandboxCluster:
    """One sandbox under test: its name, inventory path and a kcli bound to that inventory."""

    def __init__(self, kcli: Kcli, name: str) -> None:
        self.kcli = kcli
        self.name = name
        self.dir = kcli.home / "sandboxes" / name
        self.inventory = self.dir / "inventory.yaml"
        self.state = self.dir / "state"

    def __call__(self, *args: str, **kw):
        return self.kcli(*args, "-i", str(self.inventory), **kw)

    def up(self, nodes: int, init: str = "systemd") -> None:
        self.kcli("sandbox", "up", "--name", self.name, "--nodes", str(nodes), "--init", init)

    def down(self) -> None:
        self.kcli("sandbox", "down", "--name", self.name, check=False)

    def hosts(self) -> dict:
        return {h["name"]: h for h in yaml.safe_load(self.inventory.read_text())["hosts"]}

    def testinfra(self) -> dict:
        """testinfra hosts (paramiko backend) per node, with strict host-key checking."""
        out = {}
        for name, h in self.hosts().items():
            host = testinfra.get_host(f"paramiko://root@{h['address']}")
            host.backend.__class__ = StrictParamikoBackend
            host.backend.sb_dir = self.dir
            out[name] = host
        return out


def make_sandbox(kcli: Kcli, name: str, nodes: int, init: str = "systemd"):
    info = subprocess.run(["docker", "info"], capture_output=True, text=True)
    assert info.returncode == 0, f"docker does not answer; e2e tests need it:\n{info.stderr}"
    sb = SandboxCluster(kcli, name)
    sb.down()
    sb.up(nodes, init)
    return sb


def bootstrapped_sandbox(kcli: Kcli, name: str, nodes: int = 3):
    """For a module fixture (``yield from``): a sandbox, bootstrapped, with the busybox image
    loaded; always torn down."""
    sb = make_sandbox(kcli, name, nodes)
    try:
        sb("bootstrap")
        sb("image", "load", "kcli.local/busybox:1")
        yield sb
    finally:
        sb.down()


def write_manifest(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.fixture(scope="session")
def sandbox(kcli, kcli_home):
    """A 3-node sandbox, up for the whole session; its inventory path is returned."""
    sb = make_sandbox(kcli, SANDBOX, 3)
    try:
        yield sb.inventory
    finally:
        sb.down()


@pytest.fixture(scope="session")
def inventory(sandbox) -> dict:
    return yaml.safe_load(sandbox.read_text())


def strict_client(address: str, sb_dir: Path) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(str(sb_dir / "known_hosts"))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        address,
        username="root",
        key_filename=str(sb_dir / "id_ed25519"),
        look_for_keys=False,
        allow_agent=False,
        timeout=5,
    )
    return client


class StrictParamikoBackend(ParamikoBackend):
    """testinfra's paramiko backend, but with the sandbox's known_hosts and RejectPolicy (also on reconnect)."""

    sb_dir: Path

    @functools.cached_property
    def client(self) -> paramiko.SSHClient:
        return strict_client(self.host.name, self.sb_dir)


@pytest.fixture(scope="session")
def nodes(sandbox, kcli):
    """testinfra hosts of the session sandbox."""
    return SandboxCluster(kcli, SANDBOX).testinfra()


WHO_CGI = '#!/bin/sh\necho Content-Type: text/plain\necho\necho "$(hostname) $REMOTE_ADDR"\n'


def start_web_container(host, name: str, image: str = "kcli.local/busybox:1") -> str:
    """A labelled busybox httpd on the node's pod network with /cgi-bin/who (prints the client address)."""
    script = (
        'mkdir -p /www/cgi-bin && printf %s "$WHO" > /www/cgi-bin/who && chmod +x /www/cgi-bin/who '
        "&& exec httpd -f -p 80 -h /www"
    )
    host.run(f"docker rm -f {name}")
    res = host.run(
        "docker run -d --init --name %s --hostname %s --network kcli-pods --label io.kcli.managed=true "
        "--label io.kcli.test=1 -e WHO=%s %s sh -c %s",
        name,
        name,
        WHO_CGI,
        image,
        script,
    )
    assert res.rc == 0, res.stderr
    ip = host.check_output("docker inspect -f '{{(index .NetworkSettings.Networks \"kcli-pods\").IPAddress}}' %s", name)
    assert ip, f"{name} has no pod IP"
    return ip


def fetch_from_pod(host, url: str) -> str:
    """wget from a throwaway container on the node's pod network; returns the body."""
    res = host.run("docker run --rm --init --network kcli-pods kcli.local/busybox:1 timeout 10 wget -qO- %s", url)
    assert res.rc == 0, f"wget {url} failed: {res.stderr}"
    return res.stdout.strip()
