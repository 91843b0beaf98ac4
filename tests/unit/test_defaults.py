"""`get -o json|yaml` spec defaults (kcli/core/defaults.py), field by field against objects as a
Kubernetes API server returns them for the manifests in tests/unit/data/apiserver/manifests.yaml
(recorded next to it, one JSON file per object, in `kubectl get -o json` form).

Compared: every key path of ``spec`` (and of a Secret's ``data``) and its value, except values that
legitimately differ between clusters (uids, ClusterIPs, NodePorts); metadata and status must not
carry a field the API server's object lacks. One omission is deliberate and listed here:
kcli mounts no ServiceAccount token, so pods carry no ``kube-api-access-*`` volume nor its mounts."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from kcli.cli.kinds import BY_KIND
from kcli.cli.live_objects import LAST_APPLIED, pod_object, uid_of
from kcli.cli.workload_get import applied_objects
from kcli.core.controllers.daemonset import DaemonSetStatus
from kcli.core.controllers.deployment import DeploymentStatus
from kcli.core.controllers.job import JobStatus
from kcli.core.controllers.pod import ObservedPod, OwnerRef
from kcli.core.controllers.statefulset import StatefulSetStatus
from kcli.core.defaults import canonical_quantity, default_object, default_pod_spec, pod_spec, qos_class
from kcli.core.facts.pods import ContainerView, PodView
from kcli.core.inventory import Inventory
from kcli.core.objects import ObjectKey, build_object
from kcli.core.workloads import REDACTED, object_id, redacted_manifest

DATA = Path(__file__).parent / "data" / "apiserver"
MANIFESTS = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all((DATA / "manifests.yaml").read_text())}

Path_ = tuple[Any, ...]
UNSET = object()

IGNORED_VALUES = [
    r"metadata\.(uid|creationTimestamp|resourceVersion)",
    r"metadata\.ownerReferences\.\d+\.uid",
    r"spec\.clusterIPs?(\.\d+)?",
    r"spec\.ports\.\d+\.nodePort",
    r".*labels\.(batch\.kubernetes\.io/)?controller-uid",  # the Job's uid
    r"spec\.selector\.matchLabels\.batch\.kubernetes\.io/controller-uid",
    r"data\..*",  # a Secret's values: never shown by kcli (compared separately)
]
NOT_SHOWN_BY_KCLI = [  # metadata and status fields kcli does not fill (yet); never the other way round
    r"metadata\.(generateName|resourceVersion)",
    r"metadata\.ownerReferences\.\d+\.uid",
    r"metadata\.annotations\.deprecated\.daemonset\.template\.generation",
    r"metadata\.labels\.(controller-revision-hash|pod-template-generation|apps\.kubernetes\.io/pod-index)",
    r"metadata\.labels\.statefulset\.kubernetes\.io/pod-name",
    r"metadata\.labels\.pod-template-hash",
    r"status\..*",
]


def flatten(obj: Any, prefix: Path_ = ()) -> dict[Path_, Any]:
    """Leaf key paths → values; an empty dict or list is a leaf of its own (``resources: {}``)."""
    if isinstance(obj, dict) and obj:
        return {p: v for k, x in obj.items() for p, v in flatten(x, (*prefix, k)).items()}
    if isinstance(obj, list) and obj:
        return {p: v for i, x in enumerate(obj) for p, v in flatten(x, (*prefix, i)).items()}
    return {prefix: obj}


def dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def matches_any(path: Path_, patterns: list[str]) -> bool:
    return any(re.fullmatch(p, dotted(path)) for p in patterns)


def without_token_volume(obj: dict) -> dict:
    """The recorded pod without the ServiceAccount token volume and its mounts (kcli mounts none)."""
    out = copy.deepcopy(obj)
    spec = out.get("spec") or {}
    spec["volumes"] = [v for v in spec.get("volumes", []) if not v["name"].startswith("kube-api-access-")]
    if not spec["volumes"]:
        del spec["volumes"]
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        c["volumeMounts"] = [m for m in c.get("volumeMounts", []) if not m["name"].startswith("kube-api-access-")]
        if not c["volumeMounts"]:
            del c["volumeMounts"]
    return out


def assert_shape(ours: dict, recorded: dict) -> None:
    """spec (and data) key path by key path with its values; metadata and status only paths the
    recorded object has too; the last-applied configuration is the manifest as written."""
    expected = without_token_volume(recorded) if recorded["kind"] == "Pod" else recorded
    assert set(ours) == set(expected), (sorted(ours), sorted(expected))
    mine, theirs = flatten(ours), flatten(expected)
    for part in ("spec", "data", "type", "apiVersion", "kind"):
        a = {p: v for p, v in mine.items() if p[0] == part}
        b = {p: v for p, v in theirs.items() if p[0] == part}
        assert sorted(a, key=dotted) == sorted(b, key=dotted), (
            f"{part}: only kcli {sorted(map(dotted, a.keys() - b.keys()))}, "
            f"only the API server {sorted(map(dotted, b.keys() - a.keys()))}"
        )
        wrong = {dotted(p): (a[p], b[p]) for p in a if a[p] != b[p] and not matches_any(p, IGNORED_VALUES)}
        assert not wrong, wrong
    last_applied = re.escape(f"metadata.annotations.{LAST_APPLIED}")
    for part in ("metadata", "status"):
        a = {re.sub(r"\.\d+", ".0", dotted(p)) for p in mine if p[0] == part}
        b = {re.sub(r"\.\d+", ".0", dotted(p)) for p in theirs if p[0] == part}
        assert a <= b, f"{part}: kcli shows fields the API server's object lacks: {sorted(a - b)}"
        missing = {p for p in b - a if not any(re.fullmatch(x, p) for x in NOT_SHOWN_BY_KCLI)}
        assert not missing, f"{part}: kcli lacks {sorted(missing)}"
    for p in mine:
        if p[0] == "metadata" and p in theirs and not matches_any(p, [*IGNORED_VALUES, last_applied]):
            assert mine[p] == theirs[p], (dotted(p), mine[p], theirs[p])


def recorded(name: str) -> dict:
    return json.loads((DATA / name).read_text())


# --------------------------------------------------------------------------- a snapshot in memory


def snapshot() -> SimpleNamespace:
    """The cluster after applying manifests.yaml: the state kcli records, the controllers' statuses."""
    objects = {}
    typed = []
    for m in MANIFESTS.values():
        o = build_object(m)
        typed.append(o)
        objects[object_id(o.key)] = {"lastApplied": redacted_manifest(o), "createdAt": "2026-05-04T09:00:00+00:00"}
    by_key = {o.key: o for o in typed}
    web = by_key[ObjectKey("Deployment", "default", "web")]
    state = {
        "generation": 42,
        "objects": objects,
        "revisions": {
            "Deployment/default/web": [
                {
                    "revision": 1,
                    "replicaSet": "web-7c5ddbdf54",
                    "template": MANIFESTS["Deployment", "web"]["spec"]["template"],
                }
            ]
        },
        "services": {"default/web": {"clusterIP": "10.96.0.20", "nodePorts": {"http": 30080, "metrics": 30090}}},
        "network": {"podCIDR": "10.244.0.0/16", "serviceCIDR": "10.96.0.0/12", "backend": "vxlan"},
        "nodes": {
            n: {"publicIP": f"192.168.56.{10 + i}", "subnet": f"10.244.{i}.0/24", "vtepMAC": f"aa:bb:cc:dd:ee:0{i}"}
            for i, n in enumerate(("node1", "node2", "node3"), 1)
        },
    }
    statuses = {
        web.key: DeploymentStatus(2, 2, 2, 2, 2, "web-7c5ddbdf54", ()),
        ObjectKey("StatefulSet", "default", "db"): StatefulSetStatus(2, 2, 2, 2, "db-6d8f7b9c5"),
        ObjectKey("Job", "default", "pi"): JobStatus(1, 0, 0, ""),
        ObjectKey("DaemonSet", "kube-system", "agent"): DaemonSetStatus(3, 3, 3, 3, 0, 3),
    }
    return SimpleNamespace(inv=Inventory("c1", ()), state=state, statuses=statuses, objects=typed, now=1777885300.0)


def live_pod(
    ns: str, name: str, node: str, applied: str, owner: str, containers: list[tuple[str, str]], labels: dict
) -> PodView:
    views = tuple(
        ContainerView(n, "init" if n == "init" else "container", img, "running", 0, 0, 1777885201.0, 0.0, "c0ffee")
        for n, img in containers
    )
    observed = ObservedPod(ns, name, node, OwnerRef(*applied.split("/")))
    return PodView(
        ns,
        name,
        node,
        "u-1",
        "10.244.2.7",
        "Running",
        1,
        1,
        0,
        1777885201.0,
        labels,
        applied,
        owner,
        "h",
        "Always",
        views,
        observed,
    )


def applied(kind: str, name: str, namespace: str = "default") -> dict:
    (obj,) = applied_objects(snapshot(), BY_KIND[kind], name, namespace, False, None)
    return obj


# --------------------------------------------------------------------------- the recorded objects


@pytest.mark.parametrize(
    "kind,name,namespace,file",
    [
        ("Deployment", "web", "default", "deployment-web.json"),
        ("Service", "web", "default", "service-web.json"),
        ("Job", "pi", "default", "job-pi.json"),
        ("StatefulSet", "db", "default", "statefulset-db.json"),
        ("DaemonSet", "agent", "kube-system", "daemonset-agent.json"),
        ("Secret", "db", "default", "secret-db.json"),
        ("Namespace", "team", "default", "namespace-team.json"),
    ],
)
def test_applied_objects_have_the_api_servers_fields_and_defaults(kind, name, namespace, file):
    ours = applied(kind, name, namespace)
    assert_shape(ours, recorded(file))
    manifest = MANIFESTS[kind, name] if kind != "Secret" else redacted_manifest(build_object(MANIFESTS[kind, name]))
    assert json.loads(ours["metadata"]["annotations"][LAST_APPLIED]) == manifest  # the manifest as written


@pytest.mark.parametrize(
    "file,pod",
    [
        (
            "pod-web.json",
            (
                "default",
                "web-7c5ddbdf54-x2x9k",
                "node2",
                "Deployment/web",
                "ReplicaSet/web-7c5ddbdf54",
                [("init", "busybox:1.36"), ("web", "nginx:1.27")],
                {"app": "web", "pod-template-hash": "7c5ddbdf54"},
            ),
        ),
        (
            "pod-db-0.json",
            (
                "default",
                "db-0",
                "node1",
                "StatefulSet/db",
                "StatefulSet/db",
                [("postgres", "postgres:16")],
                {"app": "db"},
            ),
        ),
        (
            "pod-agent.json",
            (
                "kube-system",
                "agent-8k2lm",
                "node1",
                "DaemonSet/agent",
                "DaemonSet/agent",
                [("agent", "busybox:latest")],
                {"app": "agent"},
            ),
        ),
        (
            "pod-tools.json",
            ("default", "tools", "node3", "Pod/tools", "", [("tools", "registry.example.com/tools")], {"app": "tools"}),
        ),
    ],
)
def test_a_pods_spec_is_its_manifests_with_the_api_servers_defaults(file, pod):
    ours = pod_object(live_pod(*pod), snapshot())
    expected = recorded(file)
    assert_shape(ours, expected)
    assert ours["status"]["qosClass"] == expected["status"]["qosClass"]
    if pod[3].startswith("Pod/"):  # a bare Pod carries its manifest as applied
        assert json.loads(ours["metadata"]["annotations"][LAST_APPLIED]) == MANIFESTS["Pod", pod[1]]


# --------------------------------------------------------------------------- rules in isolation


def test_the_comparison_catches_a_missing_default_and_an_invented_field():
    ours = applied("Deployment", "web")
    del ours["spec"]["template"]["spec"]["schedulerName"]
    with pytest.raises(AssertionError, match="schedulerName"):
        assert_shape(ours, recorded("deployment-web.json"))
    ours = applied("Deployment", "web")
    ours["status"]["invented"] = 1
    with pytest.raises(AssertionError, match="invented"):
        assert_shape(ours, recorded("deployment-web.json"))
    ours = applied("Deployment", "web")
    ours["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Always"
    with pytest.raises(AssertionError, match="imagePullPolicy"):
        assert_shape(ours, recorded("deployment-web.json"))


def test_the_manifest_is_left_as_it_is():
    m = MANIFESTS["Deployment", "web"]
    before = json.dumps(m, sort_keys=True)
    default_object(m)
    pod_spec(m, "web-1", "node1")
    applied("Deployment", "web")
    assert json.dumps(m, sort_keys=True) == before


def test_secret_values_never_come_out():
    raw = MANIFESTS["Secret", "db"]
    for obj in (default_object(raw), applied("Secret", "db")):
        text = json.dumps(obj)
        for value in ("s3cr3t-value", "czNjcjN0LXZhbHVl", "cG9zdGdyZXM="):
            assert value not in text
        assert obj["data"] == {"password": REDACTED, "user": REDACTED} and "stringData" not in obj
        assert obj["type"] == "Opaque"


def test_templates_get_pod_spec_defaults_but_not_the_pods_own():
    t = default_pod_spec({"containers": [{"name": "a", "image": "a", "resources": {"limits": {"cpu": "1"}}}]})
    assert "enableServiceLinks" not in t and "tolerations" not in t and "serviceAccountName" not in t
    assert t["containers"][0]["resources"] == {"limits": {"cpu": "1"}}  # requests default to limits on Pods only
    p = default_pod_spec({"containers": [{"name": "a", "image": "a", "resources": {"limits": {"cpu": "1"}}}]}, pod=True)
    assert p["containers"][0]["resources"] == {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}
    assert p["priority"] == 0 and p["serviceAccount"] == p["serviceAccountName"] == "default"


@pytest.mark.parametrize(
    "image,policy",
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("reg:5000/app", "Always"),
        ("app@sha256:" + "a" * 64, "IfNotPresent"),
    ],
)
def test_image_pull_policy(image, policy):
    (c,) = default_pod_spec({"containers": [{"name": "a", "image": image}]})["containers"]
    assert c["imagePullPolicy"] == policy
    (c,) = default_pod_spec({"containers": [{"name": "a", "image": image, "imagePullPolicy": "Never"}]})["containers"]
    assert c["imagePullPolicy"] == "Never"


@pytest.mark.parametrize(
    "value,canonical",
    [
        ("0.5", "500m"),
        (1, "1"),
        (0.25, "250m"),
        ("1.5Gi", "1536Mi"),
        ("2000m", "2"),
        ("1000", "1k"),
        ("1e3", "1e3"),
        ("128974848", "128974848"),
        ("512Ki", "512Ki"),
        ("0.0001", "1m"),
        ("100Mi", "100Mi"),
    ],
)
def test_quantities_come_back_canonical(value, canonical):
    assert canonical_quantity(value, round_milli=True) == canonical


def test_explicit_values_win_and_existing_tolerations_count():
    spec = default_pod_spec(
        {
            "containers": [
                {
                    "name": "a",
                    "image": "a",
                    "readinessProbe": {"httpGet": {"port": 80, "scheme": "HTTPS"}, "periodSeconds": 3},
                }
            ],
            "restartPolicy": "OnFailure",
            "dnsPolicy": "Default",
            "terminationGracePeriodSeconds": 0,
            "enableServiceLinks": False,
            "serviceAccountName": "builder",
            "tolerations": [
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 10,
                }
            ],
        },
        pod=True,
    )
    probe = spec["containers"][0]["readinessProbe"]
    assert probe["httpGet"] == {"port": 80, "scheme": "HTTPS", "path": "/"} and probe["periodSeconds"] == 3
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["terminationGracePeriodSeconds"]) == (
        "OnFailure",
        "Default",
        0,
    )
    assert spec["enableServiceLinks"] is False and spec["serviceAccount"] == "builder"
    assert [t["key"] for t in spec["tolerations"]] == ["node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"]
    assert spec["tolerations"][0]["tolerationSeconds"] == 10


def test_service_defaults_by_type():
    def svc(spec: dict) -> dict:
        return default_object({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": spec})["spec"]

    lb = svc({"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": 8443}], "sessionAffinity": "ClientIP"})
    assert lb["allocateLoadBalancerNodePorts"] is True and lb["externalTrafficPolicy"] == "Cluster"
    assert (
        lb["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}} and lb["ports"][0]["targetPort"] == 8443
    )
    headless = svc({"clusterIP": "None", "ports": [{"port": 5432}]})
    assert headless["clusterIPs"] == ["None"] and headless["ipFamilyPolicy"] == "RequireDualStack"
    assert "externalTrafficPolicy" not in headless and headless["internalTrafficPolicy"] == "Cluster"
    ext = svc({"type": "ExternalName", "externalName": "db.example.com"})
    assert not {"ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy", "clusterIPs"} & set(ext)


@pytest.mark.parametrize(
    "spec,qos",
    [
        ({"containers": [{"name": "a"}]}, "BestEffort"),
        ({"containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"}}}]}, "Burstable"),
        (
            {
                "containers": [
                    {
                        "name": "a",
                        "resources": {
                            "limits": {"cpu": "1", "memory": "1Gi"},
                            "requests": {"cpu": "1", "memory": "1Gi"},
                        },
                    }
                ]
            },
            "Guaranteed",
        ),
        ({"containers": [{"name": "a", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}}]}, "Burstable"),
    ],
)
def test_qos_class(spec, qos):
    assert qos_class(spec) == qos


def test_a_deployment_pod_of_an_older_revision_shows_that_revisions_template():
    s = snapshot()
    old = copy.deepcopy(MANIFESTS["Deployment", "web"]["spec"]["template"])
    old["spec"]["containers"][0]["image"] = "nginx:1.26"
    s.state["revisions"]["Deployment/default/web"].insert(0, {"revision": 0, "replicaSet": "web-old", "template": old})
    p = live_pod(
        "default",
        "web-old-abcde",
        "node1",
        "Deployment/web",
        "ReplicaSet/web-old",
        [("web", "nginx:1.26")],
        {"app": "web"},
    )
    assert pod_object(p, s)["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert (
        uid_of("c1", ObjectKey("Job", "default", "pi"))
        == applied("Job", "pi")["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"]
    )


def test_claim_and_volume_specs():
    from kcli.core.defaults import claim_spec, volume_spec

    claim = claim_spec({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1.5Gi"}}})
    assert claim == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1536Mi"}},
        "volumeMode": "Filesystem",
    }
    pv = volume_spec({"capacity": {"storage": "2Gi"}, "hostPath": {"path": "/srv/kept"}})
    assert pv["persistentVolumeReclaimPolicy"] == "Retain" and pv["volumeMode"] == "Filesystem"
    assert pv["hostPath"] == {"path": "/srv/kept", "type": ""} and pv["capacity"] == {"storage": "2Gi"}
    assert volume_spec({"persistentVolumeReclaimPolicy": "Delete"})["persistentVolumeReclaimPolicy"] == "Delete"
