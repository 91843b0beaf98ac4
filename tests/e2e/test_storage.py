"""Issue 12: PersistentVolumeClaims on the sandbox (real SSH, real docker on the nodes)."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import bootstrapped_sandbox, write_manifest

pytestmark = pytest.mark.e2e

DB = """apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: db}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata: {{labels: {{app: db}}}}
    spec:
      containers:
        - name: db
          image: kcli.local/busybox:1
          command: [sleep, "3600"]
          env: [{{name: GEN, value: "{gen}"}}]
          volumeMounts: [{{name: d, mountPath: /data}}]
      volumes: [{{name: d, persistentVolumeClaim: {{claimName: data}}}}]
"""

RETAINED = """apiVersion: v1
kind: PersistentVolume
metadata: {name: kept}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: /srv/kept}
  nodeAffinity:
    required:
      nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node3]}]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: kept}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  volumeName: kept
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: keeper}
spec:
  containers:
    - {name: c, image: kcli.local/busybox:1, command: [sh, -c, "echo kept > /v/f; exec sleep 3600"],
       volumeMounts: [{name: v, mountPath: /v}]}
  volumes: [{name: v, persistentVolumeClaim: {claimName: kept}}]
"""


@pytest.fixture(scope="module")
def sb(kcli):
    yield from bootstrapped_sandbox(kcli, "e2e-storage")


def db_pod(sb) -> dict:
    (pod,) = [
        p
        for p in json.loads(sb("get", "pods", "-l", "app=db", "-o", "json").stdout)["items"]
        if p["status"]["phase"] == "Running"
    ]
    return pod


def read(sb, pod: str) -> str:
    return sb("exec", pod, "--", "sh", "-c", "cat /data/f").stdout


def test_a_claim_keeps_its_data_across_pod_deletion_a_new_revision_and_a_node_restart(sb, tmp_path):
    f = write_manifest(tmp_path, "db.yaml", DB.format(gen="1"))
    sb("apply", "-f", f)
    first = db_pod(sb)
    node = first["spec"]["nodeName"]
    sb("exec", first["metadata"]["name"], "--", "sh", "-c", "echo survived > /data/f")
    assert "deleted" in sb("delete", "pod", first["metadata"]["name"]).stdout
    second = db_pod(sb)
    assert second["metadata"]["name"] != first["metadata"]["name"] and second["spec"]["nodeName"] == node
    assert read(sb, second["metadata"]["name"]) == "survived\n"
    sb("apply", "-f", write_manifest(tmp_path, "db2.yaml", DB.format(gen="2")))  # a new revision
    third = db_pod(sb)
    assert third["metadata"]["name"] != second["metadata"]["name"] and third["spec"]["nodeName"] == node
    assert read(sb, third["metadata"]["name"]) == "survived\n"
    sb.kcli("sandbox", "stop-node", node, "--name", sb.name)
    sb.kcli("sandbox", "start-node", node, "--name", sb.name)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if sb("apply", "-f", write_manifest(tmp_path, "db2.yaml", DB.format(gen="2")), check=False).returncode == 0:
            break
        time.sleep(3)
    after = db_pod(sb)
    assert after["spec"]["nodeName"] == node and read(sb, after["metadata"]["name"]) == "survived\n"
    # get pvc / pv: kubectl's columns, Bound
    head, row = sb("get", "pvc").stdout.splitlines()[:2]
    assert head.split() == [
        "NAME",
        "STATUS",
        "VOLUME",
        "CAPACITY",
        "ACCESS",
        "MODES",
        "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS",
        "AGE",
    ], head
    assert row.split()[:2] == ["data", "Bound"] and row.split()[3:6] == ["1Gi", "RWO", "local-path"]
    volume = row.split()[2]
    pv = sb("get", "pv").stdout.splitlines()
    assert pv[0].split()[:9] == [
        "NAME",
        "CAPACITY",
        "ACCESS",
        "MODES",
        "RECLAIM",
        "POLICY",
        "STATUS",
        "CLAIM",
        "STORAGECLASS",
    ]
    assert pv[1].split()[:6] == [volume, "1Gi", "RWO", "Delete", "Bound", "default/data"]
    claim = json.loads(sb("get", "pvc", "data", "-o", "json").stdout)
    assert claim["status"]["phase"] == "Bound" and claim["spec"]["volumeName"] == volume
    # deleting the claim (reclaim policy Delete) removes its directory on the node, once its pod is gone
    host = sb.testinfra()[node]
    path = f"/opt/local-path-provisioner/{volume}_default_data"
    assert host.file(f"{path}/f").content_string == "survived\n"
    sb("delete", "-f", f)
    assert not host.file(path).exists
    assert "No resources found" in sb("get", "pvc").stdout + sb("get", "pvc").stderr


def test_a_retained_volume_keeps_its_data_when_its_claim_is_deleted(sb, tmp_path):
    f = write_manifest(tmp_path, "kept.yaml", RETAINED)
    sb("apply", "-f", f)
    pod = json.loads(sb("get", "pod", "keeper", "-o", "json").stdout)
    assert pod["spec"]["nodeName"] == "node3"  # the volume's node affinity
    rows = {ln.split()[0]: ln.split() for ln in sb("get", "pv").stdout.splitlines()[1:]}
    assert rows["kept"][:6] == ["kept", "2Gi", "RWO", "Retain", "Bound", "default/kept"]
    sb("delete", "-f", f)
    assert sb.testinfra()["node3"].file("/srv/kept/f").content_string == "kept\n"  # Retain: never removed


STS = """apiVersion: v1
kind: Service
metadata: {name: db}
spec: {clusterIP: None, selector: {app: db}, ports: [{name: web, port: 80}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 3
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
        - name: db
          image: kcli.local/busybox:1
          command: [sleep, "3600"]
          volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 100Mi}}}
"""


def sts_pods(sb) -> dict[str, dict]:
    items = json.loads(sb("get", "pods", "-l", "app=db", "-o", "json").stdout)["items"]
    return {p["metadata"]["name"]: p for p in items if p["status"]["phase"] == "Running"}


def test_a_statefulset_has_ordered_pods_with_their_own_names_dns_and_claims(sb, tmp_path):
    f = write_manifest(tmp_path, "sts.yaml", STS)
    sb("apply", "-f", f)
    pods = sts_pods(sb)
    assert sorted(pods) == ["db-0", "db-1", "db-2"]
    created = {}
    for name, p in pods.items():  # OrderedReady: each created once the one before it ran
        host = sb.testinfra()[p["spec"]["nodeName"]]
        created[name] = host.check_output(
            f"docker inspect -f '{{{{.Created}}}}' $(docker ps -q --filter label=io.kcli.pod={name} "
            "--filter label=io.kcli.type=container)"
        )
    assert created["db-0"] < created["db-1"] < created["db-2"], created
    for name in pods:
        sb("exec", name, "--", "sh", "-c", f"echo {name}-data > /data/f")
    hosts = sb("exec", "db-0", "--", "sh", "-c", "cat /etc/hosts").stdout  # its FQDN, as kubelet writes it
    assert f"{pods['db-0']['status']['podIP']}\tdb-0.db.default.svc.cluster.local db-0" in hosts, hosts
    # db-1's own DNS name, through the headless Service, from a pod on another node
    other = next(n for n, p in pods.items() if p["spec"]["nodeName"] != pods["db-1"]["spec"]["nodeName"])
    looked = sb("exec", other, "--", "sh", "-c", "nslookup db-1.db.default.svc.cluster.local").stdout
    assert pods["db-1"]["status"]["podIP"] in looked, looked
    # deleting db-1 brings back db-1, on its claim's node, with its own data
    sb("delete", "pod", "db-1")
    again = sts_pods(sb)
    assert again["db-1"]["spec"]["nodeName"] == pods["db-1"]["spec"]["nodeName"]
    assert sb("exec", "db-1", "--", "sh", "-c", "cat /data/f").stdout == "db-1-data\n"
    # scale to 1 keeps the claims of 1 and 2; back to 3 finds their data again
    sb("scale", "statefulset/db", "--replicas", "1")
    assert sorted(sts_pods(sb)) == ["db-0"]
    claims = {ln.split()[0]: ln.split()[1] for ln in sb("get", "pvc").stdout.splitlines()[1:]}
    assert claims == {"data-db-0": "Bound", "data-db-1": "Bound", "data-db-2": "Bound"}
    sb("scale", "statefulset/db", "--replicas", "3")
    assert sorted(sts_pods(sb)) == ["db-0", "db-1", "db-2"]
    for name in ("db-1", "db-2"):
        assert sb("exec", name, "--", "sh", "-c", "cat /data/f").stdout == f"{name}-data\n"
    assert "statefulset rolling update complete 3 pods at revision" in sb("rollout", "status", "statefulset/db").stdout
    assert sb("get", "sts").stdout.splitlines()[1].split()[:2] == ["db", "3/3"]
    sb("delete", "-f", f)
