"""`get rs -o json|yaml`: a Deployment's ReplicaSets carry deployment.kubernetes.io/revision."""

from __future__ import annotations

from types import SimpleNamespace

import yaml

from kcli.cli.kinds import BY_KIND
from kcli.cli.workload_get import replicaset_objects, replicaset_rows
from kcli.core.controllers.deployment import DeploymentStatus
from kcli.core.controllers.replicaset import ReplicaSetStatus
from kcli.core.objects import LabelSelector, build_object

RS = BY_KIND["ReplicaSet"]
DEPLOY = yaml.safe_load("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: busybox:2}]}
""")


def tmpl(image: str) -> dict:
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": image}]}}


def snap():
    d = build_object(DEPLOY)
    sel = LabelSelector({"app": "web"})
    sets = (
        ReplicaSetStatus("default", "web-bbb", "web", "bbb", 3, 3, 2, d.template, sel),
        ReplicaSetStatus("default", "web-aaa", "web", "aaa", 0, 1, 1, d.template, sel),
    )
    st = DeploymentStatus(3, 4, 3, 3, 3, "web-bbb", sets)
    revs = {
        "Deployment/default/web": [
            {"revision": 1, "replicaSet": "web-zzz", "template": tmpl("busybox:0")},
            {"revision": 2, "replicaSet": "web-aaa", "template": tmpl("busybox:1")},
            {"revision": 3, "replicaSet": "web-bbb", "template": tmpl("busybox:2")},
        ]
    }
    return SimpleNamespace(objects=[d], statuses={d.key: st}, state={"revisions": revs}, now=0.0)


def test_each_replicaset_names_its_revision_owner_and_template():
    objs = replicaset_objects(snap(), RS, None, "default", False, None)
    by_name = {o["metadata"]["name"]: o for o in objs}
    assert [
        (n, o["metadata"]["annotations"]["deployment.kubernetes.io/revision"], o["spec"]["replicas"])
        for n, o in by_name.items()
    ] == [("web-bbb", "3", 3), ("web-aaa", "2", 0), ("web-zzz", "1", 0)]
    old = by_name["web-aaa"]
    assert old["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1"  # its own template, not the new one
    assert old["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": "aaa"}
    assert old["metadata"]["ownerReferences"][0]["name"] == "web"
    assert old["status"] == {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}
    assert [o["metadata"]["name"] for o in replicaset_objects(snap(), RS, "web-zzz", "default", False, None)] == [
        "web-zzz"
    ]


def test_rows_show_each_revision_with_its_own_images():
    rows = replicaset_rows(snap(), RS, None, "default", False, None)
    assert [(r["NAME"], r["DESIRED"], r["CURRENT"], r["IMAGES"]) for r in rows] == [
        ("web-bbb", "3", "3", "busybox:2"),
        ("web-aaa", "0", "1", "busybox:1"),
        ("web-zzz", "0", "0", "busybox:0"),
    ]
