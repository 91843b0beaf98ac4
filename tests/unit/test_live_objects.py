"""`get -o json|yaml` objects in kubectl's shape (kcli.cli.live_objects), from a snapshot in memory."""

from __future__ import annotations

import json
from types import SimpleNamespace

from kcli.cli.live_objects import LAST_APPLIED, pod_object, service_object, uid_of, workload_status
from kcli.core.controllers.pod import ObservedPod, OwnerRef
from kcli.core.facts.pods import ContainerView, PodView
from kcli.core.inventory import Inventory
from kcli.core.objects import ObjectKey

SVC = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]},
}


def snap(**state) -> SimpleNamespace:
    return SimpleNamespace(inv=Inventory("c1", ()), state={"generation": 7, **state}, statuses={}, objects=[])


def test_a_service_carries_its_allocations_defaults_and_the_last_applied_configuration():
    s = snap(
        services={"default/web": {"clusterIP": "10.96.0.20", "type": "NodePort", "nodePorts": {"http": 30080}}},
        objects={"Service/default/web": {"createdAt": "2026-12-03T09:00:00+00:00"}},
    )
    s.state["objects"] = {}
    obj = service_object(s, SVC, ObjectKey("Service", "default", "web"))
    assert obj["spec"]["clusterIP"] == "10.96.0.20" and obj["spec"]["clusterIPs"] == ["10.96.0.20"]
    assert obj["spec"]["ports"] == [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30080}
    ]
    assert obj["spec"]["externalTrafficPolicy"] == "Cluster" and obj["status"] == {"loadBalancer": {}}
    meta = obj["metadata"]
    assert meta["namespace"] == "default" and meta["uid"] == uid_of("c1", ObjectKey("Service", "default", "web"))
    assert json.loads(meta["annotations"][LAST_APPLIED]) == SVC and meta["labels"] == {"app": "web"}
    assert SVC["spec"]["ports"] == [{"name": "http", "port": 80}]  # the manifest itself is left alone


def test_workload_status_uses_kubernetes_field_names_and_omits_zeros():
    from kcli.core.controllers.statefulset import StatefulSetStatus

    st = StatefulSetStatus(replicas=3, ready=2, current=3, updated=3, revision="db-abc")
    assert workload_status("StatefulSet", None, st, snap()) == {
        "observedGeneration": 1,
        "replicas": 3,
        "readyReplicas": 2,
        "currentReplicas": 3,
        "updatedReplicas": 3,
        "availableReplicas": 2,
        "currentRevision": "db-abc",
        "updateRevision": "db-abc",
    }


def test_a_pod_has_phase_conditions_ips_and_container_states():
    app = ContainerView("app", "container", "kcli.local/busybox:1", "running", 0, 2, 1796288400.0, 0.0, "abc123def456")
    obs = ObservedPod("default", "web-1", "node1", OwnerRef("Deployment", "web"))
    p = PodView(
        "default",
        "web-1",
        "node1",
        "u-1",
        "10.244.1.5",
        "Running",
        1,
        1,
        2,
        1796288400.0,
        {"app": "web"},
        "Deployment/web",
        "ReplicaSet/web-5d9",
        "h",
        "Always",
        (app,),
        obs,
    )
    s = snap(
        network={"podCIDR": "10.244.0.0/16", "serviceCIDR": "10.96.0.0/12", "backend": "vxlan"},
        nodes={"node1": {"publicIP": "192.168.56.11", "subnet": "10.244.1.0/24", "vtepMAC": "aa:bb:cc:dd:ee:ff"}},
    )
    obj = pod_object(p, s)
    assert obj["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web-5d9",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    st = obj["status"]
    assert st["phase"] == "Running" and st["podIP"] == "10.244.1.5" and st["podIPs"] == [{"ip": "10.244.1.5"}]
    assert {c["type"]: c["status"] for c in st["conditions"]} == {
        "PodScheduled": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
    }
    (cs,) = st["containerStatuses"]
    assert (
        cs["ready"] and cs["restartCount"] == 2 and set(cs["state"]) == {"running"} and "terminated" in cs["lastState"]
    )
    assert obj["spec"]["nodeName"] == "node1" and st["startTime"].endswith("Z")


def test_jsonpath_and_custom_columns_output(capsys):
    from kcli.cli.output import check_format, print_objects
    from kcli.errors import UsageError

    pods = [{"metadata": {"name": "a"}, "spec": {"nodeName": "n1"}}, {"metadata": {"name": "b"}, "spec": {}}]
    print_objects(pods, check_format('jsonpath={range .items[*]}{.metadata.name}:{.spec.nodeName}{"\\n"}{end}'))
    assert capsys.readouterr().out == "a:n1\nb:\n"
    print_objects(pods, check_format("custom-columns=NAME:.metadata.name,NODE:.spec.nodeName"))
    assert capsys.readouterr().out.splitlines() == ["NAME   NODE", "a      n1", "b      <none>"]
    print_objects(pods[:1], "jsonpath={.spec.nodeName}", single=True)
    assert capsys.readouterr().out == "n1"
    for bad in ("custom-columns=NAME", "jsonpath={.a", "xml"):
        try:
            print_objects(pods, check_format(bad))
        except UsageError:
            continue
        raise AssertionError(bad)


def test_field_selector_sort_by_and_label_columns():
    from kcli.cli.get_cmds import _refine, _refined_rows, parse_field_selector

    objs = [
        {
            "metadata": {"name": n, "namespace": "default", "labels": labels},
            "spec": {"nodeName": node},
            "status": {"phase": phase, "restarts": r},
        }
        for n, node, phase, r, labels in (
            ("b", "n1", "Running", 3, {"app": "web", "tier": "front"}),
            ("a", "n2", "Running", 1, {"app": "web"}),
            ("c", "n1", "Pending", 2, {}),
        )
    ]
    assert parse_field_selector("spec.nodeName=n1,status.phase!=Pending") == [
        ("spec.nodeName", "=", "n1"),
        ("status.phase", "!=", "Pending"),
    ]
    assert [o["metadata"]["name"] for o in _refine(objs, parse_field_selector("spec.nodeName==n1"), None)] == ["b", "c"]
    assert [o["metadata"]["name"] for o in _refine(objs, [], ".metadata.name")] == ["a", "b", "c"]
    assert [o["metadata"]["name"] for o in _refine(objs, [], "{.status.restarts}")] == ["a", "c", "b"]
    rows = [{"NAME": n, "STATUS": "x"} for n in ("a", "b", "c")]
    out = _refined_rows(
        rows, _refine(objs, parse_field_selector("status.phase=Running"), ".metadata.name"), "default", True, ("tier",)
    )
    assert out == [
        {"NAME": "a", "STATUS": "x", "TIER": "", "LABELS": "app=web"},
        {"NAME": "b", "STATUS": "x", "TIER": "front", "LABELS": "app=web,tier=front"},
    ]
