"""kcli.core.hostalloc + allocate(held=…): what the hosts hold is never handed out again."""

from __future__ import annotations

from pathlib import Path

import pytest

from kcli.core.hostalloc import Held, held_allocations, taken_by_others
from kcli.core.objects import build_object
from kcli.core.servicesync import allocate
from kcli.errors import PlanError

FIX = Path(__file__).parent / "fixtures" / "iptables"


def svc(name: str, **spec) -> object:
    return build_object(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec},
        }
    )


def test_reads_cluster_ips_and_node_ports_from_nat_and_filter_rules():
    held = held_allocations([(FIX / "mixed.nat.save").read_text(), (FIX / "mixed.filter.save").read_text()])
    assert held["default/web"] == Held({"10.96.12.34"}, {30080})
    assert held["kube-system/kube-dns"].cluster_ips == {"10.96.0.10"}
    no_eps = [k for k in held if k not in held_allocations([(FIX / "mixed.nat.save").read_text()])]
    assert no_eps  # services without endpoints are only in filter's REJECT rules, and still count
    assert held_allocations(["", "garbage\n-A KUBE-SERVICES -j RETURN"]) == {}


def test_taken_by_others_excludes_the_service_itself():
    held = {"default/a": Held({"10.96.0.11"}, {30001}), "default/b": Held({"10.96.0.12"}, {30002})}
    assert taken_by_others(held, "default/a") == ({"10.96.0.12"}, {30002})


def test_new_allocations_skip_addresses_held_for_other_services():
    free = allocate([svc("b", type="NodePort")], {}, "10.96.0.0/12")[1]["default/b"]
    held = {"default/a": Held({free["clusterIP"]}, set(free["nodePorts"].values()))}
    got = allocate([svc("b", type="NodePort")], {}, "10.96.0.0/12", held)[1]["default/b"]
    assert got["clusterIP"] != free["clusterIP"]
    assert not set(got["nodePorts"].values()) & set(free["nodePorts"].values())


def test_an_address_held_for_the_same_service_is_kept():
    rec = {"default/a": {"clusterIP": "10.96.0.11", "type": "ClusterIP"}}
    held = {"default/a": Held({"10.96.0.11"}, set())}
    assert allocate([svc("a")], rec, "10.96.0.0/12", held)[1]["default/a"]["clusterIP"] == "10.96.0.11"


def test_a_recorded_or_requested_address_held_for_another_service_is_refused():
    held = {"default/other": Held({"10.96.0.11"}, {30001})}
    with pytest.raises(PlanError, match="already programmed on the hosts for service default/other"):
        allocate([svc("a")], {"default/a": {"clusterIP": "10.96.0.11", "type": "ClusterIP"}}, "10.96.0.0/12", held)
    with pytest.raises(PlanError, match="clusterIP 10.96.0.11"):
        allocate([svc("a", clusterIP="10.96.0.11")], {}, "10.96.0.0/12", held)
    with pytest.raises(PlanError, match="nodePort 30001"):
        allocate([svc("a", type="NodePort", ports=[{"port": 80, "nodePort": 30001}])], {}, "10.96.0.0/12", held)
