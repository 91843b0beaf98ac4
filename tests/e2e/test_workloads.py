"""Issue 4: manifests → pods on docker across a bootstrapped 3-node sandbox, through the CLI."""

from __future__ import annotations

import ipaddress
import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from kcli.shell.localimages import build_busybox

from .conftest import fetch_from_pod, make_sandbox

pytestmark = pytest.mark.e2e
NAME = "e2e-work"
M = Path(__file__).parent / "manifests"
SECRET = "tok-7f3e9a-never-in-git"


@pytest.fixture(scope="module")
def sb(kcli):
    sandbox = make_sandbox(kcli, NAME, 3)
    try:
        build_busybox()
        subprocess.run(["docker", "tag", "kcli.local/busybox:1", "kcli.local/busybox:2"], check=True)
        sandbox("bootstrap")
        sandbox("image", "load", "kcli.local/busybox:1", "kcli.local/busybox:2")
        yield sandbox
    finally:
        sandbox.down()


def web(sb, replicas=6, image="kcli.local/busybox:1", *extra, check=True):
    return sb(
        "apply",
        "-f",
        str(M / "web.yaml.j2"),
        "--set",
        f"replicas={replicas}",
        "--set",
        f"image={image}",
        "--set",
        f"secret={SECRET}",
        *extra,
        check=check,
    )


def pods(sb, selector="app=web") -> list[dict]:
    return json.loads(sb("get", "pods", "-l", selector, "-o", "json").stdout or '{"items": []}').get("items", [])


def managed_containers(sb) -> dict[str, list[str]]:
    """Containers of kcli pods on each node (the node's own kcli-dns server is not a pod)."""
    return {
        n: h.check_output("docker ps -aq --filter label=io.kcli.pod-uid").split() for n, h in sb.testinfra().items()
    }


def started(sb) -> dict[str, str]:
    return {
        n: h.check_output(
            "docker ps -q --no-trunc | sort | xargs -r docker inspect -f '{{.Name}} {{.State.StartedAt}}'"
        )
        for n, h in sb.testinfra().items()
    }


def head(sb) -> str:
    return subprocess.run(
        ["git", "-C", str(sb.state), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()


def test_invalid_document_lists_every_error_and_changes_nothing(sb):
    before = head(sb)
    res = sb("apply", "-f", str(M / "invalid.yaml"), check=False)
    assert res.returncode == 3 and "Traceback" not in res.stderr
    err = res.stderr
    assert f"{M / 'invalid.yaml'}: doc 2 (Deployment/Bad_Name): metadata.name:" in err
    assert "doc 2 (Deployment/Bad_Name): spec.replicas:" in err
    assert "spec.template.spec.containers[0].ports[0].containerPort: must be between 1 and 65535" in err
    assert "spec.template.spec.containers[0].resources.requests.memory:" in err
    assert "nothing was applied" in err
    assert all(not ids for ids in managed_containers(sb).values())
    assert head(sb) == before


def test_deployment_spreads_two_pods_per_node_and_serves_the_configmap(sb):
    out = web(sb).stdout
    assert "deployment.apps/web created" in out
    items = pods(sb)
    assert len(items) == 6 and all(p["status"]["phase"] == "Running" for p in items)
    assert Counter(p["spec"]["nodeName"] for p in items) == {"node1": 2, "node2": 2, "node3": 2}
    state = yaml.safe_load((sb.state / "cluster.yaml").read_text())
    for p in items:
        subnet = ipaddress.ip_network(state["nodes"][p["spec"]["nodeName"]]["subnet"])
        assert ipaddress.ip_address(p["status"]["podIP"]) in subnet
    on1 = next(p for p in items if p["spec"]["nodeName"] == "node1")
    hosts = sb.testinfra()
    assert fetch_from_pod(hosts["node3"], f"http://{on1['status']['podIP']}/") == "hello from kcli"
    env = sb("exec", on1["metadata"]["name"], "--", "sh", "-c", "echo $TOKEN").stdout.strip()
    assert env == SECRET


def test_second_apply_changes_nothing(sb):
    before, commit = started(sb), head(sb)
    res = web(sb)
    assert "0 pod change(s)" in res.stderr and "state unchanged" in res.stderr
    assert "deployment.apps/web unchanged" in res.stdout
    assert started(sb) == before
    assert head(sb) == commit


def web_args(replicas=6, image="kcli.local/busybox:1") -> list[str]:
    return [
        "-f",
        str(M / "web.yaml.j2"),
        "--set",
        f"replicas={replicas}",
        "--set",
        f"image={image}",
        "--set",
        f"secret={SECRET}",
    ]


def test_drift_is_reported_by_diff_and_repaired_by_apply(sb):
    victim = pods(sb)[0]
    node = sb.testinfra()[victim["spec"]["nodeName"]]
    cid = victim["status"]["containerStatuses"][0]["containerID"].removeprefix("docker://")
    node.check_output(f"docker rm -f {cid}")
    res = sb("diff", *web_args(), check=False)
    assert res.returncode == 1, res.stderr
    # a single-container pod is its container: removing it removes the pod, and the ReplicaSet
    # wants a replacement (which may get the freed name: names are deterministic per cluster)
    assert "create" in res.stdout and "scale web 5→6" in res.stdout
    web(sb)
    items = pods(sb)
    assert len(items) == 6 and all(p["status"]["phase"] == "Running" for p in items)
    assert cid not in {
        c["containerID"].removeprefix("docker://") for p in items for c in p["status"]["containerStatuses"]
    }
    assert sb("diff", *web_args(), check=False).returncode == 0


def test_image_change_replaces_every_pod(sb):
    old = {p["metadata"]["name"] for p in pods(sb)}
    web(sb, 6, "kcli.local/busybox:2")
    items = pods(sb)
    assert len(items) == 6 and all(p["status"]["phase"] == "Running" for p in items)
    assert not old & {p["metadata"]["name"] for p in items}
    assert {c["image"] for p in items for c in p["status"]["containerStatuses"]} == {"kcli.local/busybox:2"}


def test_scale_down_removes_three(sb):
    web(sb, 3, "kcli.local/busybox:2")
    items = pods(sb)
    assert len(items) == 3
    assert sum(len(ids) for ids in managed_containers(sb).values()) == 3  # 3 single-container pods: no pause


def test_changed_configmap_replaces_its_pods(sb):
    old = {p["metadata"]["name"] for p in pods(sb)}
    web(sb, 3, "kcli.local/busybox:2", "--set", "greeting=a new page")
    items = pods(sb)
    assert len(items) == 3 and not old & {p["metadata"]["name"] for p in items}
    hosts = sb.testinfra()
    assert fetch_from_pod(hosts["node1"], f"http://{items[0]['status']['podIP']}/") == "hello from a new page"


def test_daemonset_runs_one_pod_per_node(sb):
    sb("apply", "-f", str(M / "daemonset.yaml"))
    items = pods(sb, "app=agent")
    assert sorted(p["spec"]["nodeName"] for p in items) == ["node1", "node2", "node3"]
    rows = sb("get", "ds").stdout.splitlines()
    assert rows[0].split()[:6] == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE"]
    assert rows[1].split()[:4] == ["agent", "3", "3", "3"]


def test_job_with_three_completions_completes(sb):
    sb("apply", "-f", str(M / "job.yaml"))
    deadline = time.monotonic() + 60
    while True:
        rows = sb("get", "jobs").stdout.splitlines()
        fields = rows[1].split() if len(rows) > 1 else []
        if fields[:3] == ["count", "Complete", "3/3"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert fields[:3] == ["count", "Complete", "3/3"], rows
    job_pods = json.loads(sb("get", "pods", "-l", "job-name=count", "-o", "json").stdout)["items"]
    assert {p["status"]["phase"] for p in job_pods} == {"Succeeded"}
    name = job_pods[0]["metadata"]["name"]
    assert sb("logs", name).stdout.strip() == f"done-{name}"
    lines = sb("logs", "-l", "job-name=count").stdout.splitlines()
    assert sorted(lines) == sorted(f"[pod/{p['metadata']['name']}] done-{p['metadata']['name']}" for p in job_pods)


def test_unsatisfiable_node_selector_stays_pending_with_reason(sb):
    res = sb("apply", "-f", str(M / "pending.yaml"))
    assert "Pending" in res.stderr
    row = sb("get", "pods", "picky").stdout.splitlines()[1].split()
    assert row[:3] == ["picky", "0/1", "Pending"]
    described = sb("describe", "pod", "picky").stdout
    assert "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector." in described


def test_two_applies_at_once_one_waits_or_fails_naming_the_holder(sb):
    cmd = [
        sys.executable,
        "-m",
        "kcli",
        "apply",
        "-i",
        str(sb.inventory),
        "-f",
        str(M / "web.yaml.j2"),
        "--set",
        "replicas=4",
        "--set",
        "image=kcli.local/busybox:2",
        "--set",
        f"secret={SECRET}",
        "--set",
        "greeting=a new page",
    ]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=sb.kcli.env)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    codes = sorted(c for c, _ in results)
    assert codes[0] == 0
    if codes[1] != 0:
        loser = next(e for c, e in results if c != 0)
        assert re.search(r"is locked on node\d(, node\d)*: held by", loser) and "(apply)" in loser, loser
    assert len(pods(sb)) == 4
    assert sb("lock", "status").stdout.strip().endswith("unlocked")
    assert (
        subprocess.run(["git", "-C", str(sb.state), "status", "--porcelain"], capture_output=True, text=True).stdout
        == ""
    )


def test_lock_of_a_killed_holder_expires(sb):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time\n"
                "from kcli.shell.config import load_inventory\n"
                "from kcli.shell.lock import ClusterLock\n"
                "from kcli.shell.transport import SshPool\n"
                f"inv = load_inventory({str(sb.inventory)!r})\n"
                "pool = SshPool(inv)\n"
                "lock = ClusterLock(pool, 'apply', ttl=4).__enter__()\n"
                "print('held', flush=True)\n"
                "time.sleep(600)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=sb.kcli.env,
    )
    assert holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert "held by" in sb("lock", "status").stdout
    blocked = web(sb, 4, "kcli.local/busybox:2", "--set", "greeting=a blocked change", check=False)
    assert blocked.returncode == 6 and "held by" in blocked.stderr
    time.sleep(5)
    assert web(sb, 4, "kcli.local/busybox:2", "--set", "greeting=a new page").returncode == 0


def test_delete_leaves_no_kcli_container(sb):
    for f in ("pending.yaml", "job.yaml", "daemonset.yaml"):
        sb("delete", "-f", str(M / f))
    sb("delete", *web_args())
    assert managed_containers(sb) == {"node1": [], "node2": [], "node3": []}
    assert sb("get", "pods").stderr.strip().startswith("No resources found")


def test_git_history_holds_no_secret_value(sb):
    log = subprocess.run(["git", "-C", str(sb.state), "log", "-p"], capture_output=True, text=True).stdout
    assert "web-secret" in log
    assert SECRET not in log
