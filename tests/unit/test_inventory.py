import subprocess
import sys

import pytest

from kcli.core.inventory import parse_inventory
from kcli.errors import InventoryError

GOOD = {
    "cluster": "prod",
    "defaults": {"user": "deploy", "sudo": True, "identity_file": "keys/id", "connect_timeout": 4},
    "ssh": {"known_hosts": "known_hosts", "config_file": "ssh_config"},
    "hosts": [
        {"name": "a", "address": "10.0.0.1", "roles": ["control-plane"], "labels": {"zone": "x"}},
        {"name": "b", "address": "b.example.org", "port": 2222, "user": "root", "taints": ["gpu=yes:NoSchedule"]},
    ],
}


def test_parses_hosts_with_defaults_and_overrides():
    inv = parse_inventory(GOOD, source="inv.yaml", base_dir="/srv/inv", home="/home/u")
    a, b = inv.hosts
    assert (a.user, a.sudo, a.port, a.connect_timeout) == ("deploy", True, 22, 4.0)
    assert a.identity_file == "/srv/inv/keys/id"
    assert (b.user, b.port) == ("root", 2222)
    assert b.taints[0].key == "gpu" and b.taints[0].value == "yes" and b.taints[0].effect == "NoSchedule"
    assert inv.known_hosts == "/srv/inv/known_hosts"
    assert inv.ssh_config == "/srv/inv/ssh_config"
    assert a.roles == ("control-plane",)


def test_env_overrides_key_and_timeout():
    inv = parse_inventory(
        GOOD, source="inv.yaml", base_dir="/x", env={"KCLI_SSH_KEY": "/ci/key", "KCLI_CONNECT_TIMEOUT": "1.5"}
    )
    assert inv.hosts[0].identity_file == "/ci/key"
    assert inv.hosts[0].connect_timeout == 1.5


def test_collects_every_error_with_its_path():
    bad = {
        "hosts": [
            {"name": "a", "address": "10.0.0.1"},
            {"name": "a", "address": "10.0.0.1"},
            {"name": "c", "port": 70000},
            {"name": "Bad_Name", "address": "10.0.0.4", "colour": "red"},
            {"name": "e", "address": "10.0.0.5", "taints": [{"key": "k", "effect": "Sometimes"}]},
        ]
    }
    with pytest.raises(InventoryError) as ei:
        parse_inventory(bad, source="inventory/prod.yaml")
    d = ei.value.details
    assert "inventory/prod.yaml: hosts[1].name: duplicate name 'a' (also hosts[0])" in d
    assert "inventory/prod.yaml: hosts[1].address: duplicate address 10.0.0.1:22 (also hosts[0])" in d
    assert "inventory/prod.yaml: hosts[2].address: required" in d
    assert "inventory/prod.yaml: hosts[2].port: must be between 1 and 65535, got 70000" in d
    assert any(x.startswith("inventory/prod.yaml: hosts[3].name: 'Bad_Name' is not a DNS-1123 name") for x in d)
    assert any(x.startswith("inventory/prod.yaml: hosts[3].colour: unknown field") for x in d)
    assert any(x.startswith("inventory/prod.yaml: hosts[4].taints[0].effect: must be one of") for x in d)
    assert len(d) == 7


def test_missing_hosts_and_non_mapping():
    with pytest.raises(InventoryError) as ei:
        parse_inventory({"cluster": "x"}, source="i.yaml")
    assert ei.value.details == ["i.yaml: hosts: required"]
    with pytest.raises(InventoryError):
        parse_inventory(["not", "a", "mapping"], source="i.yaml")


def test_cli_reports_invalid_inventory_without_traceback(tmp_path):
    inv = tmp_path / "prod.yaml"
    inv.write_text("hosts:\n  - name: a\n  - name: a\n    address: 10.0.0.1\n    port: '22'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "kcli", "get", "nodes", "-i", str(inv)], capture_output=True, text=True
    )
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert f"{inv}: hosts[0].address: required" in proc.stderr
    assert f"{inv}: hosts[1].name: duplicate name 'a' (also hosts[0])" in proc.stderr
    assert f"{inv}: hosts[1].port: must be an integer, got '22'" in proc.stderr


def test_cli_reports_yaml_syntax_error_with_line(tmp_path):
    inv = tmp_path / "broken.yaml"
    inv.write_text("hosts:\n  - name: a\n   address: [\n")
    proc = subprocess.run(
        [sys.executable, "-m", "kcli", "get", "nodes", "-i", str(inv)], capture_output=True, text=True
    )
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert f"{inv}:" in proc.stderr and "invalid YAML" in proc.stderr


def test_cli_usage_errors_exit_2_without_traceback():
    for args in (["nosuch"], ["get"], ["get", "nodes", "-o", "bogus", "-i", "/nonexistent"]):
        proc = subprocess.run([sys.executable, "-m", "kcli", *args], capture_output=True, text=True)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_labels_follow_kubernetes_rules():
    bad = {"hosts": [{"name": "a", "address": "10.0.0.1", "labels": {"Bad_Prefix!/x": "y", "ok/zone": "a b"}}]}
    with pytest.raises(InventoryError) as ei:
        parse_inventory(bad, source="i.yaml")
    d = ei.value.details
    assert any(x.startswith("i.yaml: hosts[0].labels.Bad_Prefix!/x: invalid label key: prefix part") for x in d)
    assert any(x.startswith("i.yaml: hosts[0].labels.ok/zone: invalid label value 'a b':") for x in d)
    good = parse_inventory({"hosts": [{"name": "a", "address": "10.0.0.1", "labels": {"kcli.io/zone": "eu-1"}}]})
    assert good.hosts[0].labels == {"kcli.io/zone": "eu-1"}


def test_only_reachable_bootstrapped_nodes_take_pods():
    from kcli.core.facts.node import NodeFacts
    from kcli.shell.clusterview import ClusterView, scheduler_nodes

    inv = parse_inventory({"hosts": [{"name": n, "address": f"10.0.0.{i}"} for i, n in enumerate(["a", "b", "c"], 1)]})
    up = NodeFacts(cpus=2, memory_kib=1024, docker_version="24.0")
    view = ClusterView(facts={"a": up, "b": up, "c": NodeFacts(docker_error="down")})
    assert [n.name for n in scheduler_nodes(inv, view, {"a", "c"})] == ["a"]


HOSTS = [{"name": "a", "address": "10.0.0.1"}]


@pytest.mark.parametrize(
    "network, errors",
    [
        (
            {"pod_cidr": "10.244.0.0/33"},
            ["inventory.yaml: network.pod_cidr: '10.244.0.0/33' does not appear to be an IPv4 or IPv6 network"],
        ),
        ({"pod_cidr": "10.244.0.1/16"}, ["inventory.yaml: network.pod_cidr: 10.244.0.1/16 has host bits set"]),
        ({"pod_cidr": "fd00::/64"}, ["inventory.yaml: network.pod_cidr: fd00::/64: only IPv4 is supported"]),
        (
            {"pod_cidr": "10.244.0.0/23"},
            ["inventory.yaml: network.pod_cidr: 10.244.0.0/23: must hold at least 4 /24 node subnets"],
        ),
        ({"service_cidr": "fd00::/108"}, ["inventory.yaml: network.service_cidr: fd00::/108: only IPv4 is supported"]),
        (
            {"service_cidr": "nope"},
            ["inventory.yaml: network.service_cidr: 'nope' does not appear to be an IPv4 or IPv6 network"],
        ),
        (
            {"pod_cidr": "10.96.0.0/16"},
            ["inventory.yaml: network.service_cidr: 10.96.0.0/12 overlaps network.pod_cidr 10.96.0.0/16"],
        ),
        (
            {"pod_cidr": "10.0.0.0/8", "service_cidr": "10.96.0.0/12"},
            ["inventory.yaml: network.service_cidr: 10.96.0.0/12 overlaps network.pod_cidr 10.0.0.0/8"],
        ),
        ({"backend": "udp"}, ["inventory.yaml: network.backend: udp: must be one of vxlan, host-gw"]),
        (
            {"pod_cidr": 10, "backend": None},
            [
                "inventory.yaml: network.backend: must be a non-empty string",
                "inventory.yaml: network.pod_cidr: must be a non-empty string (a CIDR like 10.244.0.0/16)",
            ],
        ),
    ],
)
def test_network_settings_are_checked_at_load_with_the_inventory_field(network, errors):
    with pytest.raises(InventoryError) as ei:
        parse_inventory({"network": network, "hosts": HOSTS}, source="inventory.yaml")
    assert ei.value.details == errors
    assert "--" not in " ".join(ei.value.details)  # no bootstrap flags in inventory errors


def test_valid_network_settings_are_kept():
    inv = parse_inventory(
        {"network": {"pod_cidr": "10.32.0.0/12", "service_cidr": "10.96.0.0/16", "backend": "host-gw"}, "hosts": HOSTS}
    )
    assert inv.network == {"pod_cidr": "10.32.0.0/12", "service_cidr": "10.96.0.0/16", "backend": "host-gw"}
    assert parse_inventory({"hosts": HOSTS}).network == {}


def test_cli_reports_invalid_network_at_load(tmp_path):
    inv = tmp_path / "prod.yaml"
    inv.write_text("network: {pod_cidr: 10.96.0.0/16}\nhosts:\n  - {name: a, address: 10.0.0.1}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "kcli", "get", "nodes", "-i", str(inv)], capture_output=True, text=True
    )
    assert proc.returncode == 3, proc.stderr
    assert f"{inv}: network.service_cidr: 10.96.0.0/12 overlaps network.pod_cidr 10.96.0.0/16" in proc.stderr


def test_a_view_knows_docker_answers_from_its_pods_section():
    from kcli.core.cluster import view_from_sections
    from kcli.core.facts.sections import Section

    inv = parse_inventory({"hosts": [{"name": n, "address": f"10.0.0.{i}"} for i, n in enumerate(["a", "b", "c"], 1)]})
    base = {"cpus": Section("2", 0), "meminfo": Section("MemTotal: 1024 kB", 0)}
    view = view_from_sections(
        {
            "a": {**base, "pods": Section("[]", 0)},
            "b": {**base, "pods": Section("Cannot connect to the Docker daemon at unix:///var/run/docker.sock", 1)},
            "c": dict(base),  # no pods section: nothing says docker answers
        }
    )
    assert view.facts["a"].docker_error is None
    assert view.facts["b"].docker_error.startswith("Cannot connect to the Docker daemon")
    assert view.facts["c"].docker_error == "docker not probed"
    from kcli.core.cluster import scheduler_nodes

    assert [n.name for n in scheduler_nodes(inv, view, {"a", "b", "c"})] == ["a"]
