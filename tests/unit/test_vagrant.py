"""`kcli inventory from-vagrant` and vagrant/: the inventory and known_hosts made from a recorded
`vagrant ssh-config` (3 machines, VirtualBox) and what each VM printed for kcli's probe; the
Vagrantfile checked by `vagrant validate` when vagrant is installed. No VM is booted here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import paramiko
import pytest

from kcli.core.inventory import parse_inventory
from kcli.core.vagrant import (
    DEFAULT_NETWORK,
    PROBE_COMMAND,
    WRITTEN_BY,
    HostKey,
    Probe,
    build,
    choose_address,
    key_changes,
    parse_probe,
    parse_public_key,
    parse_ssh_config,
)
from kcli.errors import UsageError, ValidationError

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data" / "vagrant"
SSH_CONFIG = DATA / "ssh-config.txt"
PROBES = DATA / "probes"
VAGRANT_DIR = ROOT / "vagrant"
KEY_DIR = "/home/alice/src/kcli/vagrant/.vagrant/machines"


def probes() -> dict[str, Probe]:
    return {n: parse_probe((PROBES / f"{n}.txt").read_text(), n) for n in ("node1", "node2", "node3")}


def pub(name: str, key_type: str) -> str:
    """The recorded public key of one type from a VM's probe output (`TYPE BASE64`)."""
    for line in (PROBES / f"{name}.txt").read_text().splitlines():
        if line.startswith(key_type + " "):
            return " ".join(line.split()[:2])
    raise AssertionError(f"no {key_type} key for {name}")


# -- vagrant ssh-config ---------------------------------------------------------------------------


def test_the_recorded_ssh_config_gives_three_machines_as_vagrant_reaches_them():
    entries = parse_ssh_config(SSH_CONFIG.read_text())
    assert [(e.name, e.hostname, e.port, e.user) for e in entries] == [
        ("node1", "127.0.0.1", 2222, "vagrant"),
        ("node2", "127.0.0.1", 2200, "vagrant"),
        ("node3", "127.0.0.1", 2201, "vagrant"),
    ]
    assert [e.identity_files for e in entries] == [
        (f"{KEY_DIR}/{n}/virtualbox/private_key",) for n in ("node1", "node2", "node3")
    ]


def test_ssh_config_variants_quoted_paths_equals_unknown_keywords_and_vagrant_chatter():
    text = """==> node1: A newer version of the box is available
Host node1
  HostName 192.168.121.17
  User=vagrant
  Port 22
  StrictHostKeyChecking no
  PubkeyAcceptedKeyTypes +ssh-rsa
  HostKeyAlgorithms +ssh-rsa

  IdentityFile "/home/alice/My Projects/vagrant/.vagrant/machines/node1/libvirt/private_key"
  IdentityFile /home/alice/.vagrant.d/insecure_private_key
"""
    [e] = parse_ssh_config(text)
    assert (e.hostname, e.port, e.user) == ("192.168.121.17", 22, "vagrant")
    assert e.identity_files == (
        "/home/alice/My Projects/vagrant/.vagrant/machines/node1/libvirt/private_key",
        "/home/alice/.vagrant.d/insecure_private_key",
    )


def test_a_malformed_ssh_config_is_reported_at_once_with_lines():
    text = """User vagrant
Host node1
  HostName 127.0.0.1
  User vagrant
  Port 70000
  IdentityFile /k1
garbage
Host Node_2
  HostName 127.0.0.1
  User vagrant
  IdentityFile /k2
Host node3
  User vagrant
Host node1
  HostName 127.0.0.1
  User vagrant
  IdentityFile /k1
"""
    with pytest.raises(ValidationError) as ei:
        parse_ssh_config(text, source="sample.txt")
    d = ei.value.details
    assert "sample.txt:1: User before the first Host line" in d
    assert "sample.txt:7: not an ssh_config line: 'garbage'" in d
    assert "sample.txt:2: Host node1: Port '70000' is not a port number" in d
    assert any(x.startswith("sample.txt:8: Host Node_2: the machine name is not a DNS-1123 name") for x in d)
    assert "sample.txt:12: Host node3: no HostName line" in d
    assert any(x.startswith("sample.txt:12: Host node3: no IdentityFile line") for x in d)
    assert "sample.txt:14: Host node1: listed twice (also line 2)" in d
    assert len(d) == 7
    assert ei.value.exit_code == 3


def test_no_machine_at_all_is_an_error():
    with pytest.raises(ValidationError, match="no Host entry"):
        parse_ssh_config("\n\n")


# -- what each VM printed -------------------------------------------------------------------------


def test_the_probe_gives_the_vms_host_keys_ed25519_first_and_its_addresses():
    p = probes()["node1"]
    assert [k.type for k in p.keys] == ["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"]
    assert [str(a) for a in p.addresses] == ["10.0.2.15/24", "192.168.56.11/24", "172.17.0.1/16"]
    assert choose_address("node1", p, DEFAULT_NETWORK) == "192.168.56.11"


def test_fingerprints_are_openssh_ones():
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed")
    key = probes()["node2"].keys[0]
    res = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(PROBES / "node2.txt")], capture_output=True, text=True, check=False
    )
    assert key.fingerprint in res.stdout


def test_a_public_key_must_be_what_it_claims():
    ed = pub("node1", "ssh-ed25519")
    rsa_blob = pub("node1", "ssh-rsa").split()[1]
    assert parse_public_key(ed + " root@node1") == HostKey("ssh-ed25519", ed.split()[1])
    assert parse_public_key(f"ssh-ed25519 {rsa_blob}") is None  # the blob says ssh-rsa
    assert parse_public_key("ssh-ed25519 not*base64") is None
    assert parse_public_key("ssh-dss AAAAB3NzaC1kc3M=") is None  # not a type sshd offers
    assert parse_public_key("2: eth1    inet 192.168.56.11/24") is None


def test_a_probe_without_host_keys_is_an_error():
    with pytest.raises(ValidationError, match="node1: no SSH host public key"):
        parse_probe("cat: '/etc/ssh/ssh_host_*_key.pub': No such file or directory\n", "node1")


def test_the_address_must_be_one_in_the_private_network():
    p = probes()["node1"]
    with pytest.raises(ValidationError, match=r"node1: no address in 192\.168\.60\.0/24 \(the VM has 10\.0\.2\.15/24"):
        choose_address("node1", p, "192.168.60.0/24")
    with pytest.raises(ValidationError, match="several addresses"):
        choose_address("node1", p, "0.0.0.0/0")


def test_the_probe_command_is_fixed_text():
    assert PROBE_COMMAND.startswith("cat /etc/ssh/ssh_host_*_key.pub;")
    assert "ip -4 -o addr show scope global" in PROBE_COMMAND


# -- the inventory and known_hosts ----------------------------------------------------------------


def test_the_generated_inventory():
    gen = build(parse_ssh_config(SSH_CONFIG.read_text()), probes(), known_hosts="vagrant.known_hosts")
    assert gen.inventory == {
        "cluster": "vagrant",
        "defaults": {"user": "vagrant", "sudo": True, "port": 22, "connect_timeout": 5},
        "ssh": {"known_hosts": "vagrant.known_hosts"},
        "hosts": [
            {
                "name": f"node{i}",
                "address": f"192.168.56.1{i}",
                "identity_file": f"{KEY_DIR}/node{i}/virtualbox/private_key",
                "roles": ["control-plane"] if i == 1 else ["worker"],
            }
            for i in (1, 2, 3)
        ],
    }
    assert gen.inventory_text.startswith(WRITTEN_BY)
    inv = parse_inventory(gen.inventory, source="vagrant.yaml", base_dir="/srv/inv")
    assert [(h.name, h.address, h.port, h.user, h.sudo, h.roles) for h in inv.hosts] == [
        ("node1", "192.168.56.11", 22, "vagrant", True, ("control-plane",)),
        ("node2", "192.168.56.12", 22, "vagrant", True, ("worker",)),
        ("node3", "192.168.56.13", 22, "vagrant", True, ("worker",)),
    ]
    assert inv.hosts[2].identity_file == f"{KEY_DIR}/node3/virtualbox/private_key"
    assert inv.known_hosts == "/srv/inv/vagrant.known_hosts"


def test_the_generated_known_hosts(tmp_path):
    gen = build(parse_ssh_config(SSH_CONFIG.read_text()), probes())
    lines = gen.known_hosts_text.splitlines()
    assert lines[0].startswith(WRITTEN_BY)
    want = [
        f"192.168.56.1{i} {pub(f'node{i}', t)}"
        for i in (1, 2, 3)
        for t in ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa")
    ]
    assert lines[1:] == want
    # What kcli's transport loads: paramiko finds each node's keys under its private address
    # (port 22: the bare address), and nothing under the NAT forward vagrant ssh-config names.
    path = tmp_path / "known_hosts"
    path.write_text(gen.known_hosts_text)
    keys = paramiko.HostKeys(str(path))
    for i in (1, 2, 3):
        found = keys.lookup(f"192.168.56.1{i}")
        assert found is not None and found.keys()[0] == "ssh-ed25519"
        assert found["ssh-ed25519"].get_base64() == pub(f"node{i}", "ssh-ed25519").split()[1]
    assert keys.lookup("[127.0.0.1]:2222") is None


def test_the_address_is_the_private_one_whatever_the_provider_prints():
    libvirt = SSH_CONFIG.read_text().replace("127.0.0.1", "192.168.121.40").replace("virtualbox", "libvirt")
    gen = build(parse_ssh_config(libvirt), probes())
    assert [n.address for n in gen.nodes] == ["192.168.56.11", "192.168.56.12", "192.168.56.13"]


def test_vms_sharing_a_host_key_are_refused():
    p = probes()
    p["node3"] = Probe(p["node1"].keys, p["node3"].addresses)
    with pytest.raises(ValidationError) as ei:
        build(parse_ssh_config(SSH_CONFIG.read_text()), p)
    assert any("node3: presents the same ssh-ed25519 host key as node1" in d for d in ei.value.details)
    assert any("baked host keys" in d for d in ei.value.details)


def test_every_machine_must_answer_and_have_its_own_address():
    p = probes()
    p["node2"] = Probe(p["node2"].keys, p["node1"].addresses)
    del p["node3"]
    with pytest.raises(ValidationError) as ei:
        build(parse_ssh_config(SSH_CONFIG.read_text()), p)
    assert ei.value.details == [
        "node3: no answer from the VM (host keys and addresses)",
        "node2: address 192.168.56.11 is also node1's",
    ]


def test_bad_options_are_usage_errors():
    entries = parse_ssh_config(SSH_CONFIG.read_text())
    with pytest.raises(UsageError, match="--network 'nope'"):
        build(entries, probes(), network="nope")
    with pytest.raises(UsageError, match="--cluster 'Bad_Cluster': must be a DNS-1123 name"):
        build(entries, probes(), cluster="Bad_Cluster")


def test_a_recreated_vm_shows_as_a_changed_key():
    gen = build(parse_ssh_config(SSH_CONFIG.read_text()), probes())
    assert key_changes(gen.known_hosts_text, gen.nodes) == []
    old = gen.known_hosts_text.replace(pub("node2", "ssh-ed25519"), pub("node3", "ssh-ed25519"))
    assert key_changes(old, gen.nodes) == [
        "node2 (192.168.56.12): host key changed since the last run (a recreated VM?)"
    ]


# -- the command ----------------------------------------------------------------------------------


def kcli(
    tmp_path: Path, *args: str, path: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KCLI_HOME": str(tmp_path / "home"), "COLUMNS": "200", **(env or {})}
    env.pop("KCLI_INVENTORY", None)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "kcli", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )


def recorded(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    out = tmp_path / "inventory" / "vagrant.yaml"
    return kcli(
        tmp_path,
        "inventory",
        "from-vagrant",
        "--from-file",
        str(SSH_CONFIG),
        "--probes",
        str(PROBES),
        "-o",
        str(out),
        *extra,
    )


def test_the_command_writes_an_inventory_kcli_loads(tmp_path):
    res = recorded(tmp_path, "--context", "vg")
    assert res.returncode == 0, res.stderr
    inv_path = tmp_path / "inventory" / "vagrant.yaml"
    kh_path = tmp_path / "inventory" / "vagrant.known_hosts"
    assert f"inventory: {inv_path}" in res.stderr
    assert f"known_hosts: {kh_path} (9 host keys)" in res.stderr
    assert 'context "vg" set and current' in res.stderr
    rows = [line.split() for line in res.stdout.splitlines()]
    assert rows[0] == ["NODE", "ADDRESS", "USER", "ROLES", "HOST", "KEY"]
    assert [r[:4] for r in rows[1:]] == [
        ["node1", "192.168.56.11", "vagrant", "control-plane"],
        ["node2", "192.168.56.12", "vagrant", "worker"],
        ["node3", "192.168.56.13", "vagrant", "worker"],
    ]
    assert rows[1][5] == probes()["node1"].keys[0].fingerprint

    # kcli's own loader, through the context the command set (as every later command finds it)
    script = (
        "from kcli.shell.config import load_inventory\n"
        "inv = load_inventory()\n"
        "print(inv.cluster, inv.known_hosts)\n"
        "for h in inv.hosts: print(h.name, h.address, h.port, h.user, h.sudo, h.identity_file, ','.join(h.roles))\n"
    )
    env = {**os.environ, "KCLI_HOME": str(tmp_path / "home")}
    env.pop("KCLI_INVENTORY", None)
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.splitlines() == [
        f"vagrant {kh_path}",
        *(
            f"node{i} 192.168.56.1{i} 22 vagrant True {KEY_DIR}/node{i}/virtualbox/private_key "
            + ("control-plane" if i == 1 else "worker")
            for i in (1, 2, 3)
        ),
    ]
    assert kh_path.read_text().splitlines()[1] == f"192.168.56.11 {pub('node1', 'ssh-ed25519')}"

    # again: the same files, no warning
    before = (inv_path.read_text(), kh_path.read_text())
    again = recorded(tmp_path)
    assert again.returncode == 0, again.stderr
    assert "warning" not in again.stderr
    assert (inv_path.read_text(), kh_path.read_text()) == before


def test_the_command_warns_when_a_vm_came_back_with_new_keys(tmp_path):
    assert recorded(tmp_path).returncode == 0
    kh = tmp_path / "inventory" / "vagrant.known_hosts"
    kh.write_text(kh.read_text().replace(pub("node3", "ssh-ed25519"), pub("node1", "ssh-ed25519")))
    res = recorded(tmp_path)
    assert res.returncode == 0, res.stderr
    assert "warning: node3 (192.168.56.13): host key changed since the last run" in res.stderr


def test_the_command_never_overwrites_a_file_it_did_not_write(tmp_path):
    inv = tmp_path / "inventory" / "vagrant.yaml"
    inv.parent.mkdir()
    inv.write_text("cluster: mine\nhosts: []\n")
    res = recorded(tmp_path)
    assert res.returncode == 2
    assert "was not written by `kcli inventory from-vagrant`; pass --force" in res.stderr
    assert inv.read_text() == "cluster: mine\nhosts: []\n"
    assert recorded(tmp_path, "--force").returncode == 0
    assert inv.read_text().startswith(WRITTEN_BY)


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--from-file", str(SSH_CONFIG)], 2, "--from-file and --probes go together"),
        (["--from-file", "/nonexistent/ssh-config", "--probes", str(PROBES)], 2, "recorded ssh-config not found"),
        (["--network", "10.9.0.0/16"], 3, "node1: no address in 10.9.0.0/16"),
        (["--dir", "/nonexistent"], 2, "/nonexistent: no Vagrantfile here"),
    ],
)
def test_the_command_reports_errors_without_a_traceback(tmp_path, args, code, message):
    if args[0] == "--network":
        args = ["--from-file", str(SSH_CONFIG), "--probes", str(PROBES), *args]
    res = kcli(tmp_path, "inventory", "from-vagrant", "-o", str(tmp_path / "inv.yaml"), *args)
    assert res.returncode == code, res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr
    assert not (tmp_path / "inv.yaml").exists()


def test_a_malformed_recorded_config_lists_its_problems(tmp_path):
    bad = tmp_path / "ssh-config.txt"
    bad.write_text("Host node1\n  User vagrant\n")
    res = kcli(tmp_path, "inventory", "from-vagrant", "--from-file", str(bad), "--probes", str(PROBES), "-o", "x.yaml")
    assert res.returncode == 3
    assert f"{bad}:1: Host node1: no HostName line" in res.stderr
    assert "Traceback" not in res.stderr


def test_without_vagrant_installed_the_command_says_so(tmp_path):
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "Vagrantfile").write_text("")
    res = kcli(
        tmp_path, "inventory", "from-vagrant", "--dir", str(tmp_path / "env"), "-o", "x.yaml", path=str(tmp_path)
    )
    assert res.returncode == 5, res.stderr
    assert "vagrant: not found on PATH" in res.stderr and "Traceback" not in res.stderr


STUB = """#!/bin/sh
printf '%s|%s\\n' "$PWD" "$*" >> "$STUB_LOG"
case "$1" in
  ssh-config) cat "$STUB_DATA/ssh-config.txt" ;;
  ssh) if [ "$2" = "$STUB_FAIL" ]; then echo "ssh: connect to host 127.0.0.1: Connection refused" >&2; exit 255; fi
       cat "$STUB_DATA/probes/$2.txt" ;;
esac
"""


def stub_vagrant(tmp_path: Path, fail: str = "") -> tuple[Path, dict[str, str]]:
    """A `vagrant` on PATH answering with the recorded output, and logging how it was called."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "vagrant").write_text(STUB)
    (bin_dir / "vagrant").chmod(0o755)
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / "Vagrantfile").write_text("# the stub does not read it\n")
    env = {"STUB_LOG": str(tmp_path / "calls"), "STUB_DATA": str(DATA), "STUB_FAIL": fail}
    return env_dir, {**env, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_the_command_asks_vagrant_for_the_config_then_each_vm(tmp_path):
    env_dir, env = stub_vagrant(tmp_path)
    out = tmp_path / "inventory" / "vagrant.yaml"
    res = kcli(tmp_path, "inventory", "from-vagrant", "--dir", str(env_dir), "-o", str(out), env=env)
    assert res.returncode == 0, res.stderr
    calls = sorted((tmp_path / "calls").read_text().splitlines())
    assert calls == sorted(
        [f"{env_dir}|ssh-config --no-color"]
        + [f"{env_dir}|ssh node{i} --no-tty --no-color -c {PROBE_COMMAND}" for i in (1, 2, 3)]
    )
    want = build(parse_ssh_config(SSH_CONFIG.read_text()), probes(), known_hosts="vagrant.known_hosts")
    assert out.read_text().splitlines()[2:] == want.inventory_text.splitlines()[2:]
    assert out.read_text().startswith(f"{WRITTEN_BY} from `vagrant ssh-config` in {env_dir}.")
    assert (out.parent / "vagrant.known_hosts").read_text().splitlines()[1:] == want.known_hosts_text.splitlines()[1:]


def test_a_vm_that_does_not_answer_stops_the_command(tmp_path):
    env_dir, env = stub_vagrant(tmp_path, fail="node2")
    res = kcli(tmp_path, "inventory", "from-vagrant", "--dir", str(env_dir), "-o", "x.yaml", env=env)
    assert res.returncode == 5, res.stderr
    assert "vagrant ssh node2: node2: no SSH host public key in the VM's answer" in res.stderr
    assert "Connection refused" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x.yaml").exists()


# -- vagrant/ -------------------------------------------------------------------------------------


def test_the_vagrantfile_defines_three_debian_12_nodes_in_the_default_network():
    import ipaddress

    text = (VAGRANT_DIR / "Vagrantfile").read_text()
    nodes = re.findall(r'\{ name: "([^"]+)", ip: "([^"]+)" \}', text)
    assert [n for n, _ in nodes] == ["node1", "node2", "node3"]
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network(DEFAULT_NETWORK) for _, ip in nodes)
    assert 'config.vm.box = "debian/bookworm64"' in text
    assert 'node.vm.network "private_network", ip: n[:ip]' in text


def test_the_provisioning_script_is_valid_sh():
    res = subprocess.run(["sh", "-n", str(VAGRANT_DIR / "provision.sh")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


# The provider blocks need their provider (VirtualBox's VBoxManage, or the vagrant-libvirt plugin),
# which CI does not install: the rest of the Vagrantfile is validated (Ruby, boxes, networks, provisioners).
VALIDATE = ["vagrant", "validate", "--ignore-provider"]


@pytest.fixture
def vagrant_env(tmp_path):
    """A copy of vagrant/ (vagrant writes .vagrant/ beside the Vagrantfile) and a private VAGRANT_HOME."""
    if shutil.which("vagrant") is None:
        pytest.skip("the vagrant binary is not installed (apt-get install vagrant)")
    env_dir = tmp_path / "vagrant"
    shutil.copytree(VAGRANT_DIR, env_dir, ignore=shutil.ignore_patterns(".vagrant"))
    env = {**os.environ, "VAGRANT_HOME": str(tmp_path / "vagrant.d"), "VAGRANT_CHECKPOINT_DISABLE": "1"}
    return env_dir, env


def test_vagrant_validates_the_vagrantfile(vagrant_env):
    env_dir, env = vagrant_env
    res = subprocess.run(VALIDATE, cwd=env_dir, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Vagrantfile validated successfully" in res.stdout


def test_vagrant_validate_would_catch_a_broken_vagrantfile(vagrant_env):
    env_dir, env = vagrant_env
    (env_dir / "provision.sh").unlink()
    res = subprocess.run(VALIDATE, cwd=env_dir, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode != 0
    assert "provision.sh" in res.stdout + res.stderr


def test_the_command_with_real_vagrant_and_no_running_machine(vagrant_env, tmp_path):
    env_dir, env = vagrant_env
    env = {**env, "KCLI_HOME": str(tmp_path / "home")}
    res = subprocess.run(
        [sys.executable, "-m", "kcli", "inventory", "from-vagrant", "--dir", str(env_dir), "-o", "x.yaml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert res.returncode == 5, res.stderr
    assert f"vagrant ssh-config in {env_dir} failed" in res.stderr
    assert "are the machines up" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x.yaml").exists()
