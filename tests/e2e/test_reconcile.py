"""Issue 11: `kcli reconcile` repairs the cluster with no manifest given (sandbox, real SSH)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from .conftest import bootstrapped_sandbox, write_manifest

pytestmark = pytest.mark.e2e
M = Path(__file__).parent / "manifests"
JOB = """apiVersion: batch/v1
kind: Job
metadata: {name: batch}
spec:
  completions: 6
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
        - {name: work, image: kcli.local/busybox:1, command: ["sh", "-c", "sleep 1; echo done-$HOSTNAME"]}
"""


@pytest.fixture(scope="module")
def sb(kcli):
    yield from bootstrapped_sandbox(kcli, "e2e-reconcile")


def web_pods(sb) -> dict[str, dict]:
    items = json.loads(sb("get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    return {p["metadata"]["name"]: p for p in items}


def test_reconcile_repairs_a_removed_pod_and_flushed_rules(sb):
    sb("apply", "-f", str(M / "svc.yaml.j2"), "--set", "replicas=3")
    quiet = sb("reconcile", "--exit-code")
    assert "nothing to repair" in quiet.stderr
    assert sb("verify").returncode == 0
    victim = next(iter(web_pods(sb).values()))
    hosts = sb.testinfra()
    cid = victim["status"]["containerStatuses"][0]["containerID"].removeprefix("docker://")
    hosts[victim["spec"]["nodeName"]].check_output(f"docker rm -f {cid}")
    flushed = next(n for n in sorted(hosts) if n != victim["spec"]["nodeName"])
    hosts[flushed].check_output("iptables -t nat -F")
    assert sb("verify", check=False).returncode != 0
    dry = sb("reconcile", "--dry-run", "--exit-code", check=False)
    assert dry.returncode == 1, dry.stderr
    assert "would repair" in dry.stderr
    assert len(web_pods(sb)) == 2  # a dry run changes nothing
    fixed = sb("reconcile")
    assert "repaired" in fixed.stderr
    assert "reconcile: " in sb("history", "--limit", "1").stdout  # one commit for the pass, node repairs included
    events = yaml.safe_load((sb.state / "cluster.yaml").read_text())["events"]
    assert any(e["object"] == f"Node/{flushed}" and e["reason"] == "Repaired" for e in events)
    pods = web_pods(sb)
    assert len(pods) == 3 and all(p["status"]["phase"] == "Running" for p in pods.values())
    assert cid not in {
        c["containerID"].removeprefix("docker://") for p in pods.values() for c in p["status"]["containerStatuses"]
    }
    assert sb("verify").returncode == 0
    assert sb("reconcile", "--exit-code").returncode == 0  # converged: a second pass repairs nothing


def test_reconcile_watch_completes_a_job_without_another_apply(sb, tmp_path):
    sb("apply", "-f", write_manifest(tmp_path, "job.yaml", JOB))
    argv = [sys.executable, "-m", "kcli", "reconcile", "--watch", "--interval", "1s", "-i", str(sb.inventory)]
    watch = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=sb.kcli.env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        line = ""
        while time.monotonic() < deadline:
            rows = [ln.split() for ln in sb("get", "jobs").stdout.splitlines()[1:]]
            line = next((r for r in rows if r[0] == "batch"), [])
            if line and line[1] == "Complete":
                break
            time.sleep(2)
        assert line[:3] == ["batch", "Complete", "6/6"], line
    finally:
        os.killpg(watch.pid, signal.SIGINT)  # ^C: the pass running ends, then the loop
        try:
            out, err = watch.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(watch.pid, signal.SIGKILL)
            out, err = watch.communicate()
            raise AssertionError(f"reconcile --watch did not stop on SIGINT:\n{err[-3000:]}") from None
    assert watch.returncode == 0, err
    assert "pass 2" in err and "stopped after" in err


LOST = """apiVersion: v1
kind: Secret
metadata: {name: lost-creds}
stringData: {pw: s3cr3t-v4lue}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: lost}
spec:
  replicas: 6
  selector: {matchLabels: {app: lost}}
  template:
    metadata: {labels: {app: lost}}
    spec:
      tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 10}]
      containers:
        - name: app
          image: kcli.local/busybox:1
          command: ["sh", "-c", "mkdir -p /w && echo $HOSTNAME > /w/index.html && exec httpd -f -p 80 -h /w"]
          env: [{name: PW, valueFrom: {secretKeyRef: {name: lost-creds, key: pw}}}]
---
apiVersion: v1
kind: Service
metadata: {name: lost}
spec: {selector: {app: lost}, ports: [{port: 80}]}
"""


def lost_pods(sb) -> dict[str, dict]:
    items = json.loads(sb("get", "pods", "-l", "app=lost", "-o", "json").stdout)["items"]
    return {p["metadata"]["name"]: p for p in items}


def test_losing_the_first_control_plane_node_moves_its_pods_and_the_lock_and_key_survive(sb, tmp_path):
    """node1 holds what a one-node lock would (the first control-plane node): the lock, the secret key and
    the kept state are on a majority of the three nodes, so reconcile runs without it."""
    sb("apply", "-f", write_manifest(tmp_path, "lost.yaml", LOST))  # only this once: later passes have no -f
    before = lost_pods(sb)
    on_node1 = {n for n, p in before.items() if p["spec"]["nodeName"] == "node1"}
    assert len(before) == 6 and on_node1 and len({p["spec"]["nodeName"] for p in before.values()}) == 3
    sb.kcli("sandbox", "stop-node", "node1", "--name", sb.name)
    try:
        time.sleep(11)
        res = sb("reconcile")
        assert "node repair skipped: node1" in res.stderr
        now = lost_pods(sb)
        running = {n: p for n, p in now.items() if p["status"]["phase"] == "Running"}
        assert len(running) == 6 and {p["spec"]["nodeName"] for p in running.values()} <= {"node2", "node3"}
        assert {n for n, p in now.items() if p["status"]["phase"] == "Unknown"} == on_node1
        fresh = sorted(set(running) - set(before))
        assert len(fresh) == len(on_node1)  # replacements, made with no Secret given: its value is in their env
        assert all(sb("exec", n, "--", "sh", "-c", "echo $PW").stdout.strip() == "s3cr3t-v4lue" for n in fresh)
        assert "s3cr3t-v4lue" not in (sb.state / "cluster.yaml").read_text()
        status = sb("lock", "status").stdout  # the lock works: reconcile took and released it, and it is free
        assert "node1: unreachable" in status and "node2: unlocked" in status and "node3: unlocked" in status
        node1 = json.loads(sb("get", "node", "node1", "-o", "json").stdout)
        assert {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"} in node1["spec"]["taints"]
    finally:
        sb.kcli("sandbox", "start-node", "node1", "--name", sb.name)
    sb("reconcile")
    line = next(ln for ln in sb("get", "nodes").stdout.splitlines() if ln.split()[0] == "node1")
    assert line.split()[1] == "Ready"
    hosts = sb.testinfra()
    on_hosts = {
        n: h.check_output("docker ps -q --filter label=io.kcli.applied=Deployment/lost").split()
        for n, h in hosts.items()
    }
    assert sum(len(v) for v in on_hosts.values()) == 6 and not on_hosts["node1"]  # the stale copies are gone
    now = lost_pods(sb)
    assert len(now) == 6 and not on_node1 & set(now)
    (eps,) = yaml.safe_load((sb.state / "cluster.yaml").read_text())["endpoints"]["default/lost"].values()
    assert sorted(e.split(":")[0] for e in eps) == sorted(p["status"]["podIP"] for p in now.values())
    assert sb("verify").returncode == 0


def deploy(name: str) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{containers: [{{name: app, image: kcli.local/busybox:1, command: [sleep, "3600"]}}]}}
"""


def test_a_state_behind_the_cluster_is_refused_and_state_rebuild_catches_up(sb, tmp_path):
    clone_b = tmp_path / "clone-b"
    shutil.copytree(sb.state, clone_b)  # a second runner's state, not pulled since
    a = write_manifest(tmp_path, "a.yaml", deploy("from-a"))
    sb("apply", "-f", a)
    res = sb("apply", "-f", write_manifest(tmp_path, "b.yaml", deploy("from-b")), "--state", str(clone_b), check=False)
    assert res.returncode == 7 and "behind the cluster" in res.stderr and "git pull" in res.stderr, res.stderr
    for h in sb.testinfra().values():
        assert "from-b" not in h.check_output("docker ps -a --format '{{.Names}}'")
    shutil.rmtree(sb.state)  # the local state is gone (or a new CI runner)
    assert "state rebuilt from node1" in sb("state", "rebuild").stderr
    assert sb("diff", "-f", a, "-f", str(M / "svc.yaml.j2"), "--set", "replicas=3").returncode == 0
    assert "from-a" in sb("get", "deploy").stdout
    sb("delete", "-f", a)  # the rebuilt state works on


VOLUME_POD = """apiVersion: v1
kind: Secret
metadata: {name: files}
stringData: {pw: v0lume-s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: with-files}
spec:
  nodeSelector: {kubernetes.io/hostname: node2}
  containers:
    - name: app
      image: kcli.local/busybox:1
      command: [sleep, "3600"]
      volumeMounts: [{name: creds, mountPath: /etc/creds}]
  volumes: [{name: creds, secret: {secretName: files}}]
"""


def test_secret_volume_files_lost_in_a_node_restart_are_drift_and_reconcile_brings_them_back(sb, tmp_path):
    f = write_manifest(tmp_path, "files.yaml", VOLUME_POD)
    sb("apply", "-f", f)
    assert sb("exec", "with-files", "--", "sh", "-c", "cat /etc/creds/pw").stdout == "v0lume-s3cret"
    sb.kcli("sandbox", "stop-node", "node2", "--name", sb.name)
    sb.kcli("sandbox", "start-node", "node2", "--name", sb.name)
    deadline = time.monotonic() + 60  # docker brings the container back, with an empty tmpfs mount
    while (
        sb("exec", "with-files", "--", "sh", "-c", "ls /etc/creds", check=False).returncode != 0
        and time.monotonic() < deadline
    ):
        time.sleep(2)
    assert sb("exec", "with-files", "--", "sh", "-c", "cat /etc/creds/pw", check=False).stdout != "v0lume-s3cret"
    diff = sb("diff", "-f", f, check=False)
    assert diff.returncode == 1 and "with-files" in diff.stdout, diff.stdout
    sb("reconcile")  # no -f: the Secret's values come from the state, sealed under the cluster's key
    assert sb("exec", "with-files", "--", "sh", "-c", "cat /etc/creds/pw").stdout == "v0lume-s3cret"
    assert sb("diff", "-f", f).returncode == 0
    sb("delete", "-f", f)
