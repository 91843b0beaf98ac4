"""Issue 11: `kcli reconcile` repairs the cluster with no manifest given (sandbox, real SSH)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
    pods = web_pods(sb)
    assert len(pods) == 3 and all(p["status"]["phase"] == "Running" for p in pods.values())
    assert cid not in {c["containerID"].removeprefix("docker://") for p in pods.values() for c in p["status"]["containerStatuses"]}
    assert sb("verify").returncode == 0
    assert sb("reconcile", "--exit-code").returncode == 0  # converged: a second pass repairs nothing


def test_reconcile_watch_completes_a_job_without_another_apply(sb, tmp_path):
    sb("apply", "-f", write_manifest(tmp_path, "job.yaml", JOB))
    argv = [sys.executable, "-m", "kcli", "reconcile", "--watch", "--interval", "1s", "-i", str(sb.inventory)]
    watch = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=sb.kcli.env,
                             start_new_session=True)
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
        os.killpg(watch.pid, signal.SIGINT)
        out, err = watch.communicate(timeout=60)
    assert watch.returncode == 0, err
    assert "pass 2" in err and "stopped after" in err
