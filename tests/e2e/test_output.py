"""Issue 13: kubectl's contract for scripts — live objects, -o jsonpath, -o custom-columns (sandbox)."""

from __future__ import annotations

import json

import pytest

from .conftest import SANDBOX, bootstrapped_sandbox, write_manifest

pytestmark = pytest.mark.e2e

APP = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: kcli.local/busybox:1, command: [sh, -c, "mkdir -p /w && echo ok > /w/index.html && exec httpd -f -p 80 -h /w"]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {type: NodePort, selector: {app: web}, ports: [{name: http, port: 80}]}
"""


@pytest.fixture(scope="module")
def sb(kcli):
    yield from bootstrapped_sandbox(kcli, f"{SANDBOX}-output")  # e2e-output unless KCLI_E2E_SANDBOX says


def test_scripts_read_live_objects_with_jsonpath_and_custom_columns(sb, tmp_path):
    sb("apply", "-f", write_manifest(tmp_path, "app.yaml", APP))
    cluster_ip = sb("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}").stdout
    row = next(ln.split() for ln in sb("get", "svc").stdout.splitlines() if ln.startswith("web"))
    assert cluster_ip == row[2] and cluster_ip.startswith("10.")
    svc = json.loads(sb("get", "svc", "web", "-o", "json").stdout)
    assert (
        svc["metadata"]["namespace"] == "default" and svc["metadata"]["uid"] and svc["status"] == {"loadBalancer": {}}
    )
    assert svc["spec"]["ports"][0]["nodePort"] >= 30000 and svc["spec"]["clusterIPs"] == [cluster_ip]
    pods = json.loads(sb("get", "pods", "-o", "json").stdout)
    assert pods["kind"] == "List" and len(pods["items"]) == 2
    expected = sorted(f"{p['metadata']['name']} {p['status']['podIP']} {p['spec']['nodeName']}" for p in pods["items"])
    lines = sb(
        "get", "pods", "-o", 'jsonpath={range .items[*]}{.metadata.name} {.status.podIP} {.spec.nodeName}{"\\n"}{end}'
    ).stdout
    assert sorted(lines.splitlines()) == expected
    for p in pods["items"]:
        assert p["status"]["hostIP"] and {c["type"] for c in p["status"]["conditions"]} >= {"Ready", "PodScheduled"}
        assert p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    deploy = json.loads(sb("get", "deploy", "web", "-o", "json").stdout)
    assert deploy["status"]["readyReplicas"] == 2 and deploy["metadata"]["generation"] >= 1
    assert "kubectl.kubernetes.io/last-applied-configuration" in deploy["metadata"]["annotations"]
    table = sb("get", "pods", "-o", "custom-columns=NAME:.metadata.name,NODE:.spec.nodeName").stdout.splitlines()
    assert table[0].split() == ["NAME", "NODE"]
    assert sorted(ln.split()[0] + " " + ln.split()[1] for ln in table[1:]) == sorted(
        f"{p['metadata']['name']} {p['spec']['nodeName']}" for p in pods["items"]
    )


SPEC = """apiVersion: apps/v1
kind: Deployment
metadata: {name: specweb}
spec:
  selector: {matchLabels: {app: specweb}}
  template:
    metadata: {labels: {app: specweb}}
    spec:
      containers:
      - name: web
        image: kcli.local/busybox:1
        command: [sh, -c, "mkdir -p /w && echo ok > /w/index.html && exec httpd -f -p 8080 -h /w"]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {port: http}}
        resources: {limits: {cpu: "0.5", memory: 64Mi}}
"""


def test_live_objects_carry_the_api_servers_spec_defaults(sb, tmp_path):
    import yaml

    sb("apply", "-f", write_manifest(tmp_path, "spec.yaml", SPEC))
    try:
        (pod,) = json.loads(sb("get", "pods", "-l", "app=specweb", "-o", "json").stdout)["items"]
        spec, c = pod["spec"], pod["spec"]["containers"][0]
        assert c["command"][0] == "sh" and c["imagePullPolicy"] == "IfNotPresent"
        assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        assert (c["terminationMessagePath"], c["terminationMessagePolicy"]) == ("/dev/termination-log", "File")
        probe = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
        assert c["readinessProbe"] == {"httpGet": {"port": "http", "path": "/", "scheme": "HTTP"}, **probe}
        quota = {"cpu": "500m", "memory": "64Mi"}
        assert c["resources"] == {"limits": quota, "requests": quota}  # requests default to limits on a Pod
        assert {
            k: spec[k] for k in ("restartPolicy", "dnsPolicy", "schedulerName", "terminationGracePeriodSeconds")
        } == {
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "terminationGracePeriodSeconds": 30,
        }
        assert spec["serviceAccountName"] == spec["serviceAccount"] == "default" and spec["securityContext"] == {}
        assert spec["enableServiceLinks"] is True and spec["priority"] == 0
        assert {t["key"]: t["tolerationSeconds"] for t in spec["tolerations"]} == {
            "node.kubernetes.io/not-ready": 300,
            "node.kubernetes.io/unreachable": 300,
        }
        assert spec["nodeName"] and pod["status"]["qosClass"] == "Guaranteed"
        name = pod["metadata"]["name"]
        assert sb("get", "pod", name, "-o", "jsonpath={.spec.containers[0].imagePullPolicy}").stdout == "IfNotPresent"
        assert yaml.safe_load(sb("get", "pod", name, "-o", "yaml").stdout)["spec"] == spec
        deploy = json.loads(sb("get", "deploy", "specweb", "-o", "json").stdout)
        rolling = {"maxSurge": "25%", "maxUnavailable": "25%"}
        assert deploy["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": rolling}
        assert [deploy["spec"][k] for k in ("replicas", "revisionHistoryLimit", "progressDeadlineSeconds")] == [
            1,
            10,
            600,
        ]
        template = deploy["spec"]["template"]["spec"]
        assert template["containers"][0]["imagePullPolicy"] == "IfNotPresent" and "tolerations" not in template
        applied = json.loads(deploy["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
        assert applied == yaml.safe_load(SPEC)  # the manifest as written, no defaults in it
    finally:
        sb("delete", "deployment", "specweb", check=False)


def test_wait_and_events(sb, tmp_path):
    sb("apply", "-f", write_manifest(tmp_path, "app.yaml", APP))
    assert (
        sb("wait", "--for=condition=Available", "deployment/web", "--timeout", "60s").stdout.strip()
        == "deployment.apps/web condition met"
    )
    name = json.loads(sb("get", "pods", "-o", "json").stdout)["items"][0]["metadata"]["name"]
    assert sb("wait", "--for=condition=Ready", f"pod/{name}").stdout.strip() == f"pod/{name} condition met"
    late = sb("wait", "--for=condition=Ready", "pod/nobody", "--timeout", "3s", check=False)
    assert late.returncode == 1 and "timed out waiting for the condition on pods/nobody" in late.stderr
    assert sb("wait", "--for=delete", "pod/nobody").stdout.strip() == "pod/nobody deleted"
    rows = [ln.split(None, 4) for ln in sb("get", "events").stdout.splitlines()]
    assert rows[0] == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT   MESSAGE"] or rows[0][:2] == ["LAST", "SEEN"]
    assert any("Scheduled" in ln and "deployment/web" in ln for ln in sb("events").stdout.splitlines())


def test_field_selector_sort_by_and_labels_on_the_sandbox(sb, tmp_path):
    sb("apply", "-f", write_manifest(tmp_path, "app.yaml", APP))
    pods = json.loads(sb("get", "pods", "-o", "json").stdout)["items"]
    node = pods[0]["spec"]["nodeName"]
    here = sorted(p["metadata"]["name"] for p in pods if p["spec"]["nodeName"] == node)
    listed = sb("get", "pods", "--field-selector", f"spec.nodeName={node},status.phase=Running", "-o", "name").stdout
    assert sorted(listed.split()) == [f"pod/{n}" for n in here]
    table = sb("get", "pods", "--sort-by", ".metadata.name", "--show-labels", "-L", "app").stdout.splitlines()
    head = table[0].split()
    assert head[-2:] == ["APP", "LABELS"] and [ln.split()[0] for ln in table[1:]] == sorted(
        p["metadata"]["name"] for p in pods
    )
    assert all("app=web" in ln.split()[-1] and ln.split()[-2] == "web" for ln in table[1:])


def test_bash_completes_object_names_from_the_state(sb, tmp_path):
    from tests.unit.test_completion import complete

    sb("apply", "-f", write_manifest(tmp_path, "app.yaml", APP))
    env_home = sb.kcli.env.get("KCLI_HOME")
    import os

    old = os.environ.get("KCLI_HOME")
    os.environ["KCLI_HOME"] = env_home or ""
    try:
        assert complete(["kcli", "get", "deploy", "-i", str(sb.inventory), "w"]) == ["web"]
        assert complete(["kcli", "get", "nodes", "-i", str(sb.inventory), "node"]) == ["node1", "node2", "node3"]
    finally:
        if old is None:
            os.environ.pop("KCLI_HOME", None)
        else:
            os.environ["KCLI_HOME"] = old


def test_get_watch_prints_new_rows_until_its_timeout(sb, tmp_path):
    import subprocess
    import sys
    import time

    sb("apply", "-f", write_manifest(tmp_path, "app.yaml", APP))
    before = {p["metadata"]["name"] for p in json.loads(sb("get", "pods", "-o", "json").stdout)["items"]}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kcli", "get", "pods", "-w", "--timeout", "25s", "-i", str(sb.inventory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=sb.kcli.env,
    )
    time.sleep(4)
    sb("scale", "deployment/web", "--replicas", "3")
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["NAME", "READY", "STATUS"]
    new = {p["metadata"]["name"] for p in json.loads(sb("get", "pods", "-o", "json").stdout)["items"]} - before
    assert len(new) == 1 and any(ln.split()[0] in new for ln in lines[1:]), out
    sb("scale", "deployment/web", "--replicas", "2")


def test_the_ci_recipe_script_deploys_and_a_second_run_changes_nothing(sb, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "app.yaml").write_text(APP.replace("web", "ciweb"))
    (manifests / "db-secret.yaml.j2").write_text(
        'apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: "{{ db_password }}"}\n'
    )
    script = Path(__file__).parents[2] / "docs" / "ci" / "deploy.sh"
    env = {
        **sb.kcli.env,
        "KCLI": f"{sys.executable} -m kcli",
        "KCLI_MANIFESTS": str(manifests),
        "KCLI_INVENTORY": str(sb.inventory),
        "KCLI_SET": "db_password=ci-s3cret-4711",
        "HOME": str(tmp_path),
    }
    first = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "changes to apply" in first.stdout and "== done" in first.stdout
    assert 'deployment "ciweb" successfully rolled out' in first.stdout
    assert "ci-s3cret-4711" not in first.stdout + first.stderr
    second = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0 and "no change to apply" in second.stdout, second.stdout + second.stderr
    assert os.path.isdir(sb.state)


SUMMARY = """apiVersion: v1
kind: ConfigMap
metadata: {name: summary}
data: {greeting: hello}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: summary}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: summary}}
  template:
    metadata: {labels: {app: summary}}
    spec:
      containers: [{name: main, image: kcli.local/busybox:1, command: [sh, -c, "exec sleep 3600"], envFrom: [{configMapRef: {name: summary}}]}]
"""


def test_apply_o_json_is_a_summary_for_ci_and_quiet_prints_nothing(sb, tmp_path):
    import yaml

    manifest = write_manifest(tmp_path, "summary.yaml", SUMMARY.replace("REPLICAS", "2"))
    first = sb("apply", "-f", manifest, "-o", "json")
    doc = json.loads(first.stdout)  # stdout is the summary and nothing else
    assert (doc["apiVersion"], doc["kind"], doc["changed"], doc["exitCode"], doc["dryRun"]) == (
        "kcli/v1",
        "ApplyResult",
        True,
        0,
        False,
    )
    assert doc["objects"] == [
        {"kind": "ConfigMap", "namespace": "default", "name": "summary", "action": "created"},
        {"kind": "Deployment", "namespace": "default", "name": "summary", "action": "created"},
    ]
    created = doc["pods"]["created"]
    assert len(created) == 2 and {p["node"] for p in created} <= set(sb.hosts())
    assert all(p["name"].startswith("summary-") for p in created) and doc["pods"]["failed"] == []
    assert doc["commit"] and doc["waves"] >= 1 and doc["nodes"]["unreachable"] == {}
    # progress went to stderr as plain lines (not a terminal): the wave, how the rollout ended
    assert "wave 1: 2 pod change(s)" in first.stderr
    assert "deployment/summary: rolled out (2/2 pods ready)" in first.stderr
    assert "\x1b[" not in first.stderr + first.stdout  # no colour in a pipe

    again = sb("apply", "-f", manifest, "-o", "json")
    doc = json.loads(again.stdout)
    assert doc["changed"] is False and doc["commit"] is None and doc["waves"] == 0
    assert [o["action"] for o in doc["objects"]] == ["unchanged", "unchanged"]
    assert doc["pods"]["created"] == doc["pods"]["deleted"] == []
    assert yaml.safe_load(sb("apply", "-f", manifest, "-o", "yaml").stdout)["changed"] is False

    # --quiet: a change prints nothing at all (no object lines, no progress, no summary line)
    scaled = sb("apply", "-q", "-f", write_manifest(tmp_path, "summary3.yaml", SUMMARY.replace("REPLICAS", "3")))
    assert scaled.stdout == "" and scaled.stderr == "", scaled.stdout + scaled.stderr
    assert sb("-q", "apply", "-f", manifest).stdout == ""
    pods = json.loads(sb("get", "pods", "-l", "app=summary", "-o", "json").stdout)["items"]
    assert len(pods) == 2

    gone = json.loads(sb("delete", "-f", manifest, "-o", "json").stdout)
    assert gone["kind"] == "DeleteResult" and gone["changed"] is True
    assert {o["action"] for o in gone["objects"]} == {"deleted"} and len(gone["pods"]["deleted"]) == 2
