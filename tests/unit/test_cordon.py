"""kcli cordon/uncordon/drain: the state records spec.unschedulable; drain's refusals."""

from __future__ import annotations

from types import SimpleNamespace

from kcli.cli.cordon_cmds import drain_blockers
from kcli.core.inventory import Host
from kcli.core.network import NodeLease
from kcli.core.nodes import node_status
from kcli.core.state import cordoned_of, empty_state, with_cordon, with_node


def test_cordon_is_recorded_survives_bootstrap_and_shows_on_the_node():
    st = with_node(empty_state("c"), NodeLease("n1", "10.244.1.0/24", "192.168.5.1", "aa:bb:cc:dd:ee:01"), None, "T0")
    cordoned = with_cordon(st, "n1", True)
    assert cordoned_of(cordoned) == {"n1"} and cordoned_of(st) == set()
    again = with_node(cordoned, NodeLease("n1", "10.244.1.0/24", "192.168.5.1", "aa:bb:cc:dd:ee:01"), None, "T1")
    assert cordoned_of(again) == {"n1"}  # a later bootstrap keeps it
    assert with_cordon(again, "n1", False) == st
    status = node_status(Host("n1", "192.168.5.1"), None, OSError("down"), cordoned=True)
    assert status.status == "NotReady,SchedulingDisabled"
    spec = status.to_dict()["spec"]
    assert spec["unschedulable"] is True
    assert {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"} in spec["taints"]
    assert {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"} in spec["taints"]  # Ready Unknown


def test_drain_refuses_daemonset_and_bare_pods_unless_told():
    pods = [
        SimpleNamespace(namespace="default", name=n, applied=a)
        for n, a in (("web-1", "Deployment/web"), ("agent-x", "DaemonSet/agent"), ("solo", "Pod/solo"))
    ]
    assert drain_blockers(pods, ignore_daemonsets=True, force=True) == []
    msgs = drain_blockers(pods, ignore_daemonsets=False, force=False)
    assert msgs == [
        "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): default/agent-x",
        "cannot delete Pods that declare no controller (use --force to override): default/solo",
    ]
