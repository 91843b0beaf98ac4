import json

import pytest

from kcli.core.bootstrap import plan_host
from kcli.core.facts.host import HostFacts
from kcli.core.facts.node import NodeFacts
from kcli.core.facts.sections import Section
from kcli.core.hostsetup import MODULES_CONF, SYSCTL_CONF, plan_docker, wanted_daemon_config
from kcli.core.network import ClusterNetwork, NodeLease, allocate_leases, subnet_env, validate_network, vtep_mac
from kcli.core.overlay import overlay_payloads, plan_peers, plan_pod_network, pod_network_options
from kcli.core.preflight import blocking, run_checks
from kcli.errors import PlanError

NET = ClusterNetwork()


def lease(name, i):
    return NodeLease(name, f"10.244.{i}.0/24", f"192.168.1.{10 + i}", vtep_mac("c", name))


def facts(**kw):
    base = dict(
        node=NodeFacts(kernel="6.1.0", docker_version="24.0.7", cpus=2),
        uid=0,
        uplink_dev="eth0",
        uplink_mtu=1500,
        uplink_cidr="192.168.1.11/24",
        addrs=(("eth0", "192.168.1.11/24"),),
        iptables_backend="nft",
        xt={k: "ok" for k in ("comment", "statistic", "recent", "conntrack", "addrtype", "mark")},
        kmods={"overlay": "yes", "br_netfilter": "yes", "vxlan": "yes"},
        disk_free_kib=50 * 1024 * 1024,
        clock=1000.0,
    )
    base.update(kw)
    return HostFacts(**base)


def test_leases_are_stable_lowest_free_and_never_reused_while_allocated():
    first = allocate_leases(NET, "c", {"b": "1.1.1.2", "a": "1.1.1.1"}, {})
    assert first["a"].subnet == "10.244.1.0/24" and first["b"].subnet == "10.244.2.0/24"
    kept = {"b": first["b"]}  # a was reset: its subnet is free again, b keeps its own
    again = allocate_leases(NET, "c", {"b": "1.1.1.2", "c": "1.1.1.3", "d": "1.1.1.4"}, kept)
    assert again["b"] == first["b"]
    assert again["c"].subnet == "10.244.1.0/24" and again["d"].subnet == "10.244.3.0/24"


def test_vtep_mac_is_stable_locally_administered_unicast():
    mac = vtep_mac("cluster", "node1")
    assert mac == vtep_mac("cluster", "node1") != vtep_mac("cluster", "node2")
    first = int(mac.split(":")[0], 16)
    assert first & 0x02 and not first & 0x01


def test_network_validation():
    assert validate_network(ClusterNetwork(pod_cidr="10.96.0.0/16")) == [
        "--service-cidr 10.96.0.0/12 overlaps --pod-network-cidr 10.96.0.0/16"
    ]
    assert "must hold at least 4" in validate_network(ClusterNetwork(pod_cidr="10.244.0.0/23"))[0]
    assert validate_network(ClusterNetwork(backend="udp"))[0].startswith("--backend udp")


def test_subnet_env_matches_flannel():
    assert subnet_env(NET, lease("n", 3), 1450) == (
        "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"
    )


def test_fresh_host_gets_every_step_and_a_converged_host_none():
    leases = {"n1": lease("n1", 1), "n2": lease("n2", 2)}
    steps = plan_host("n1", facts(), NET, leases["n1"], {"n2": leases["n2"]})
    assert [s.name for s in steps if s.changed] == [
        "kernel-modules",
        "sysctls",
        "docker-config",
        "pod-network",
        "vxlan-device",
        "peers",
        "iptables",
        "subnet-env",
    ]
    filt, nat = overlay_payloads(NET, leases["n1"])
    converged = facts(
        files={
            "modules": MODULES_CONF,
            "sysctl": SYSCTL_CONF,
            "subnet_env": subnet_env(NET, leases["n1"], 1450),
            "daemon": json.dumps(wanted_daemon_config(None, "n1")),
        },
        sysctls={"net.ipv4.ip_forward": "1", "net.bridge.bridge-nf-call-iptables": "1"},
        pod_network={
            "IPAM": {"Config": [{"Subnet": "10.244.1.0/24", "Gateway": "10.244.1.1"}]},
            "Options": pod_network_options(1450, "24.0.7"),
        },
        vxlan={
            "address": leases["n1"].vtep_mac,
            "mtu": 1450,
            "flags": ["UP"],
            "linkinfo": {
                "info_kind": "vxlan",
                "info_data": {"id": 1, "local": "192.168.1.11", "port": 8472, "link": "eth0", "learning": False},
            },
        },
        vxlan_addrs=("10.244.1.0/32",),
        neigh=({"dst": "10.244.2.0", "lladdr": leases["n2"].vtep_mac, "state": ["PERMANENT"]},),
        fdb=({"mac": leases["n2"].vtep_mac, "dst": "192.168.1.12", "flags": ["self"]},),
        routes=({"dst": "10.244.2.0/24", "gateway": "10.244.2.0", "dev": "flannel.1", "flags": ["onlink"]},),
        iptables_save=filt
        + nat.replace("-A KCLI-POSTRTG -m mark", "-A KCLI-POSTRTG -m mark")
        + '*filter\n-A FORWARD -m comment --comment "kcli forward" -j KCLI-FWD\n'
        '-A FORWARD -m comment --comment "kcli service guard" -j KCLI-SVC-GUARD\n'
        '-A OUTPUT -m comment --comment "kcli service guard" -j KCLI-SVC-GUARD\nCOMMIT\n'
        '*nat\n-A POSTROUTING -m comment --comment "kcli masq" -j KCLI-POSTRTG\nCOMMIT\n',
    )
    assert [
        s.describe() for s in plan_host("n1", converged, NET, leases["n1"], {"n2": leases["n2"]}) if s.changed
    ] == []


def test_peers_removed_and_replaced():
    l1, l2, l3 = lease("n1", 1), lease("n2", 2), lease("n3", 3)
    f = facts(
        neigh=({"dst": "10.244.3.0", "lladdr": l3.vtep_mac, "state": ["PERMANENT"]},),
        fdb=({"mac": l3.vtep_mac, "dst": "192.168.1.13"},),
        routes=({"dst": "10.244.3.0/24", "gateway": "10.244.3.0", "dev": "flannel.1", "flags": ["onlink"]},),
    )
    step = plan_peers("n1", f, NET, l1, {"n2": l2}, fresh_device=False)
    assert "ip route del 10.244.3.0/24 dev flannel.1" in step.lines
    assert f"bridge fdb del {l3.vtep_mac} dev flannel.1 dst 192.168.1.13 self" in step.lines
    assert f"ip neigh replace 10.244.2.0 lladdr {l2.vtep_mac} dev flannel.1 nud permanent" in step.lines
    assert "ip route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink" in step.lines


def test_host_gw_uses_plain_routes():
    hg = ClusterNetwork(backend="host-gw")
    step = plan_peers("n1", facts(), hg, lease("n1", 1), {"n2": lease("n2", 2)}, fresh_device=False)
    assert step.lines == ("ip route replace 10.244.2.0/24 via 192.168.1.12 dev eth0",)


def test_pod_network_with_containers_is_never_recreated_silently():
    f = facts(
        pod_network={
            "IPAM": {"Config": [{"Subnet": "10.244.9.0/24", "Gateway": "10.244.9.1"}]},
            "Options": {},
            "Containers": {"abc": {}},
        }
    )
    with pytest.raises(PlanError, match="kcli reset n1"):
        plan_pod_network("n1", f, lease("n1", 1), 1450)


def test_docker_28_gets_nat_unprotected_older_does_not():
    assert pod_network_options(1450, "28.2.2")["com.docker.network.bridge.gateway_mode_ipv4"] == "nat-unprotected"
    assert "com.docker.network.bridge.gateway_mode_ipv4" not in pod_network_options(1450, "20.10.24+dfsg1")


def test_daemon_config_keeps_user_settings_and_rejects_bad_json():
    cfg = wanted_daemon_config('{"registry-mirrors": ["http://m"], "log-opts": {"labels": "x"}}', "n1")
    assert cfg["registry-mirrors"] == ["http://m"]
    assert cfg["log-opts"] == {"labels": "x", "max-size": "10m", "max-file": "5"}
    assert "log-opts" not in wanted_daemon_config('{"log-driver": "journald"}', "n1")
    with pytest.raises(PlanError, match="not valid JSON"):
        wanted_daemon_config("{nope", "n1")


def test_missing_docker_installs_with_the_hosts_package_manager():
    f = facts(node=NodeFacts(docker_error="sh: 1: docker: not found"), package_manager="apt-get")
    step = plan_docker("n1", f)
    assert step.changed and "apt-get install -y -qq docker.io" in step.lines[0]
    with pytest.raises(PlanError, match="no apt-get or dnf"):
        plan_docker("n1", facts(node=NodeFacts(docker_error="docker: not found"), package_manager=None))


def test_preflight_flags_cidr_overlap_and_ignores_on_request():
    checks = run_checks(
        "n1", "192.168.1.11", facts(), None, ClusterNetwork(pod_cidr="192.168.0.0/16"), ["192.168.1.12"], 1000.0, False
    )
    fails = {c.name: c.message for c in checks if c.status == "fail"}
    assert fails == {
        "PodCIDR": "--pod-network-cidr 192.168.0.0/16 overlaps eth0 192.168.1.11/24, inventory 192.168.1.11/32, inventory 192.168.1.12/32"
    }
    assert blocking(checks, ["podcidr"]) == []
    assert blocking(checks, ["all"]) == []
    assert len(blocking(checks, [])) == 1


def test_preflight_host_gw_needs_one_l2_segment():
    checks = run_checks(
        "n1", "192.168.1.11", facts(), None, ClusterNetwork(backend="host-gw"), ["10.0.0.5"], 1000.0, False
    )
    port = next(c for c in checks if c.name == "OverlayPort")
    assert port.status == "fail" and "10.0.0.5" in port.message


def test_unreachable_host_fails_one_check():
    checks = run_checks("n1", "1.2.3.4", None, ConnectionError("timed out"), NET, [], 0.0, False)
    assert [(c.name, c.status) for c in checks] == [("Reachable", "fail")]


def test_parse_host_sections_tolerates_missing_pieces():
    from kcli.core.facts.host import parse_host_facts

    f = parse_host_facts(
        {"vxlan": Section('Device "flannel.1" does not exist.', 1), "uplink": Section("eth1 1500 10.0.0.2/24", 0)}
    )
    assert f.vxlan is None and f.uplink_dev == "eth1" and f.uplink_mtu == 1500
