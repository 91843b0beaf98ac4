"""Issue 2: sandbox, transport, get nodes, host keys, image load, quoting — on real nodes."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import yaml

from kcli.shell.config import load_inventory
from kcli.shell.localimages import build_busybox
from kcli.shell.transport import SshPool

from .conftest import SANDBOX

pytestmark = pytest.mark.e2e


def test_three_nodes_ready(kcli, sandbox):
    doc = kcli.json("get", "nodes")
    assert [i["metadata"]["name"] for i in doc["items"]] == ["node1", "node2", "node3"]
    for item in doc["items"]:
        ready = [c for c in item["status"]["conditions"] if c["type"] == "Ready"]
        assert ready[0]["status"] == "True", item
    table = kcli("get", "nodes").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert [ln.split()[1] for ln in table[1:]] == ["Ready"] * 3
    wide = kcli("get", "nodes", "-o", "wide").stdout.splitlines()[0].split()
    assert wide[5:] == ["INTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME", "CPU", "MEMORY"]


def test_sshd_and_docker_run_on_every_node(nodes):
    for name, host in nodes.items():
        assert host.process.filter(comm="sshd"), name
        assert host.process.filter(comm="dockerd"), name
        assert host.run("docker info --format '{{.ServerVersion}}'").rc == 0
        assert host.check_output("hostname") == name


def test_second_up_reuses_everything(kcli, sandbox):
    before = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=io.kcli.sandbox={SANDBOX}"], capture_output=True, text=True
    ).stdout.split()
    assert before
    out = kcli("sandbox", "up", "--name", SANDBOX, "--nodes", "3").stderr
    assert "image cached" in out
    after = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=io.kcli.sandbox={SANDBOX}"], capture_output=True, text=True
    ).stdout.split()
    assert sorted(before) == sorted(after)


def test_shell_metacharacters_reach_the_remote_as_one_literal_argument(sandbox):
    nasty = [
        "$(touch /tmp/pwned)",
        "; touch /tmp/pwned2",
        'it\'s "quoted" `touch /tmp/pwned3`',
        "two\nlines",
        "*",
        "a  b",
    ]
    inv = load_inventory(str(sandbox))
    with SshPool(inv) as pool:
        conn = pool.get("node1")
        res = conn.run(["printf", "%s\\0", *nasty], check=True)
        assert res.stdout.split("\0")[:-1] == nasty
        check = conn.run(["sh", "-c", "ls /tmp/pwned /tmp/pwned2 /tmp/pwned3 2>/dev/null | wc -l"], check=True)
        assert check.stdout.strip() == "0"


def test_stopped_node_is_not_ready_within_connect_timeout_and_others_stay_ready(kcli, sandbox):
    from kcli.cli.node_cmds import observe_nodes

    inv = load_inventory(str(sandbox))
    timeout = inv.host("node3").connect_timeout
    kcli("sandbox", "stop-node", "node3", "--name", SANDBOX)
    try:
        started = time.monotonic()
        statuses, _ = observe_nodes(inv)
        elapsed = time.monotonic() - started
        by_name = {s.host.name: s for s in statuses}
        assert by_name["node3"].status == "NotReady"
        assert by_name["node1"].status == "Ready" and by_name["node2"].status == "Ready"
        assert elapsed <= timeout + 1, f"NotReady took {elapsed:.2f}s with connect timeout {timeout}s"
        described = kcli("describe", "node", "node3", "-i", str(sandbox)).stdout
        assert "NodeUnreachable" in described and "connect" in described
    finally:
        kcli("sandbox", "start-node", "node3", "--name", SANDBOX)
    assert [i["status"]["conditions"][0]["status"] for i in kcli.json("get", "nodes")["items"]] == ["True"] * 3


def test_changed_host_key_is_refused(kcli, sandbox, tmp_path):
    sb_dir = sandbox.parent
    shutil.copy(sb_dir / "id_ed25519", tmp_path / "id_ed25519")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = " ".join((tmp_path / "other.pub").read_text().split()[:2])
    lines = (sb_dir / "known_hosts").read_text().splitlines()
    node1_addr = lines[0].split()[0]
    (tmp_path / "known_hosts").write_text("\n".join([f"{node1_addr} {other}", *lines[1:]]) + "\n")
    (tmp_path / "inventory.yaml").write_text(sandbox.read_text())
    doc = kcli.json("get", "nodes", "-i", str(tmp_path / "inventory.yaml"))
    cond = {i["metadata"]["name"]: i["status"]["conditions"][0] for i in doc["items"]}
    assert cond["node1"]["status"] == "Unknown"
    assert "HOST KEY CHANGED" in cond["node1"]["message"] and "SHA256:" in cond["node1"]["message"]
    assert cond["node2"]["status"] == "True"


def test_unknown_host_key_refused_unless_first_contact_allowed(kcli, sandbox, tmp_path):
    sb_dir = sandbox.parent
    shutil.copy(sb_dir / "id_ed25519", tmp_path / "id_ed25519")
    (tmp_path / "known_hosts").write_text("")
    (tmp_path / "inventory.yaml").write_text(sandbox.read_text())
    doc = kcli.json("get", "nodes", "-i", str(tmp_path / "inventory.yaml"))
    msgs = [i["status"]["conditions"][0]["message"] for i in doc["items"]]
    assert all("unknown host key ssh-ed25519 SHA256:" in m for m in msgs), msgs
    doc = yaml.safe_load(
        kcli(
            "get", "nodes", "-o", "yaml", "-i", str(tmp_path / "inventory.yaml"), env={"KCLI_ACCEPT_NEW_HOST_KEYS": "1"}
        ).stdout
    )
    assert [i["status"]["conditions"][0]["status"] for i in doc["items"]] == ["True"] * 3
    recorded = sorted(ln.split()[2] for ln in (tmp_path / "known_hosts").read_text().splitlines())
    expected = sorted(ln.split()[2] for ln in (sb_dir / "known_hosts").read_text().splitlines())
    assert recorded == expected


def test_image_load_reaches_every_node_and_skips_when_present(kcli, sandbox, nodes):
    ref = build_busybox()
    local_id = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", ref], capture_output=True, text=True
    ).stdout.strip()
    first = kcli("image", "load", ref).stdout
    for name, host in nodes.items():
        assert host.check_output(f"docker image inspect --format '{{{{.Id}}}}' {ref}") == local_id, name
    second = kcli("image", "load", ref).stdout
    assert second.count("unchanged") == 3, second
    assert "loaded" in first or "unchanged" in first


def test_proxyjump_from_ssh_config_is_honoured(kcli, sandbox, nodes, tmp_path):
    """node2 refuses ssh from this machine; through node1 as a bastion (ProxyJump) it answers."""
    sb_dir = sandbox.parent
    inv = yaml.safe_load(sandbox.read_text())
    addr = {h["name"]: h["address"] for h in inv["hosts"]}
    gateway = addr["node1"].rsplit(".", 1)[0] + ".1"
    shutil.copy(sb_dir / "id_ed25519", tmp_path / "id_ed25519")
    shutil.copy(sb_dir / "known_hosts", tmp_path / "known_hosts")
    (tmp_path / "ssh_config").write_text(f"Host node2\n  ProxyJump root@{addr['node1']}\n")
    inv["ssh"]["config_file"] = "ssh_config"
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(inv))
    (tmp_path / "direct.yaml").write_text(sandbox.read_text())
    # only new connections: the test's own established session to node2 must keep working
    rule = f"INPUT -s {gateway} -p tcp --dport 22 -m conntrack --ctstate NEW -j DROP"
    nodes["node2"].check_output(f"iptables -I {rule}")
    try:
        direct = kcli.json("get", "nodes", "node2", "-i", str(tmp_path / "direct.yaml"))
        assert direct["status"]["conditions"][0]["status"] == "Unknown"
        jumped = kcli.json("get", "nodes", "node2", "-i", str(tmp_path / "inventory.yaml"))
        assert jumped["status"]["conditions"][0]["status"] == "True"
    finally:
        nodes["node2"].check_output(f"iptables -D {rule}")
