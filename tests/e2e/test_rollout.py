"""Issue 10 on a real sandbox: a rolling update behind a Service drops no request.

A load loop in a pod on node1 requests the Service's ClusterIP (at most ~20 requests/s, a fixed
count, each within 3 s (busybox timeout; its wget -T crashes)) while `kcli apply` rolls a 3-replica Deployment to a new revision.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from .conftest import bootstrapped_sandbox, write_manifest

pytestmark = pytest.mark.e2e
NAME = "e2e-roll"
REQUESTS = 600


@pytest.fixture(scope="module")
def sb(kcli):
    yield from bootstrapped_sandbox(kcli, NAME)


SERVE = "mkdir -p /www && echo $VERSION > /www/index.html && exec httpd -f -p 80 -h /www"


def app(
    version: str,
    replicas: int = 3,
    strategy: str = "",
    command: str = SERVE,
    deadline: int = 600,
    image: str = "kcli.local/busybox:1",
) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {replicas}
  progressDeadlineSeconds: {deadline}
  selector: {{matchLabels: {{app: web}}}}
  {strategy}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: httpd
          image: {image}
          imagePullPolicy: Never
          command: ["sh", "-c", "{command}"]
          env: [{{name: VERSION, value: "{version}"}}]
          ports: [{{containerPort: 80}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec: {{selector: {{app: web}}, ports: [{{port: 80}}]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: load}}
spec:
  nodeSelector: {{kubernetes.io/hostname: node1}}
  containers: [{{name: load, image: kcli.local/busybox:1, command: ["sleep", "3600"]}}]
"""


PROBED = (
    "mkdir -p /www && echo $VERSION > /www/index.html && (sleep 4; echo ok > /www/ready) & exec httpd -f -p 80 -h /www"
)


def probed_app(version: str, deadline: int = 600, path: str = "/ready") -> str:
    probe = f"""
          ports: [{{containerPort: 80, name: web}}]
          readinessProbe: {{httpGet: {{path: {path}, port: web}}, periodSeconds: 1, failureThreshold: 1}}"""
    return app(version, command=PROBED, deadline=deadline).replace("\n          ports: [{containerPort: 80}]", probe)


def pods(sb) -> dict[str, dict]:
    items = json.loads(sb("get", "pods", "-o", "json").stdout).get("items", [])
    return {i["metadata"]["name"]: i for i in items}


def cluster_ip(sb) -> str:
    return yaml.safe_load((sb.state / "cluster.yaml").read_text())["services"]["default/web"]["clusterIP"]


def start_load(sb) -> tuple:
    """Start the loop in the load pod (docker exec -d on its node); returns (host, container)."""
    ip = cluster_ip(sb)
    load = pods(sb)["load"]
    host = sb.testinfra()[load["spec"]["nodeName"]]
    cid = load["status"]["containerStatuses"][0]["containerID"].removeprefix("docker://")
    loop = (
        f"ok=0; fail=0; i=0; rm -f /tmp/result; while [ $i -lt {REQUESTS} ]; do i=$((i+1)); "
        f"if timeout 3 wget -q -O /dev/null http://{ip}/; then ok=$((ok+1)); else fail=$((fail+1)); fi; sleep 0.05; done; "
        'echo "$ok $fail" > /tmp/result.tmp && mv /tmp/result.tmp /tmp/result'
    )
    host.check_output(f"docker exec -d {cid} sh -c '{loop}'")
    return host, cid


def load_result(host, cid, timeout: float = 150) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = host.run(f"docker exec {cid} cat /tmp/result")
        if out.rc == 0 and out.stdout.strip():
            ok, fail = out.stdout.split()
            return int(ok), int(fail)
        time.sleep(1)
    raise AssertionError("the load loop did not finish")


def test_a_rolling_update_behind_a_service_drops_no_request(sb, tmp_path):
    v1 = write_manifest(tmp_path, "v1.yaml", app("one"))
    sb("apply", "-f", v1)
    before = {n for n in pods(sb) if n.startswith("web-")}
    assert len(before) == 3
    host, cid = start_load(sb)
    time.sleep(2)
    res = sb("apply", "-f", write_manifest(tmp_path, "v2.yaml", app("two")))
    assert "wave" in res.stderr
    after = {n: p for n, p in pods(sb).items() if n.startswith("web-")}
    assert len(after) == 3 and not before & set(after)
    assert all(p["status"]["phase"] == "Running" for p in after.values())
    ok, fail = load_result(host, cid)
    assert (ok, fail) == (REQUESTS, 0), f"{fail} of {ok + fail} requests failed during the rollout"
    page = host.check_output(f"docker exec {cid} wget -q -O - http://{cluster_ip(sb)}/")
    assert page.strip() == "two"
    history = sb("rollout", "history", "deployment/web").stdout.split("\n")
    assert history[:4] == ["deployment.apps/web", "REVISION  CHANGE-CAUSE", "1         <none>", "2         <none>"]
    sets = [ln.split() for ln in sb("get", "rs").stdout.splitlines() if ln.startswith("web-")]
    assert sorted(r[1] for r in sets) == ["0", "3"]  # the old ReplicaSet is kept, scaled to 0
    items = json.loads(sb("get", "rs", "-o", "json").stdout)["items"]
    revs = {
        o["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: o["spec"]["replicas"]
        for o in items
        if o["metadata"]["name"].startswith("web-")
    }
    assert revs == {"1": 0, "2": 3}


def test_undo_and_scale_drop_no_request(sb):
    host, cid = start_load(sb)
    time.sleep(2)
    assert sb("rollout", "undo", "deployment/web").stdout.strip() == "deployment.apps/web rolled back"
    page = host.check_output(f"docker exec {cid} wget -q -O - http://{cluster_ip(sb)}/")
    assert page.strip() == "one"
    assert sb("rollout", "status", "deploy/web").stdout.strip() == 'deployment "web" successfully rolled out'
    for n in (5, 2):
        assert sb("scale", "deploy/web", "--replicas", str(n)).stdout.strip() == "deployment.apps/web scaled"
        assert len([p for p in pods(sb) if p.startswith("web-")]) == n
    ok, fail = load_result(host, cid)
    assert (ok, fail) == (REQUESTS, 0), f"{fail} of {ok + fail} requests failed during undo and scale"
    history = sb("rollout", "history", "deployment/web").stdout.split("\n")
    assert [ln.split()[0] for ln in history[2:4]] == ["2", "3"]  # revision 1 came back as 3
    assert sb("rollout", "undo", "deploy/web", "--to-revision", "9", check=False).returncode == 1


def test_recreate_replaces_all_pods_old_first(sb, tmp_path):
    f = write_manifest(tmp_path, "v3.yaml", app("three", strategy="strategy: {type: Recreate}"))
    before = {n for n in pods(sb) if n.startswith("web-")}
    res = sb("apply", "-f", f)
    waves = re.findall(r"wave \d+: (\d+) pod change", res.stderr)
    assert waves == [str(len(before)), "3"], res.stderr  # every old pod (after leaving the Service), then the new ones
    after = {n for n in pods(sb) if n.startswith("web-")}
    assert len(after) == 3 and not before & after
    sb("delete", "-f", f)


def test_a_revision_that_never_becomes_ready_keeps_the_old_pods_serving_and_is_rolled_back(sb, tmp_path):
    sb("apply", "-f", write_manifest(tmp_path, "good.yaml", probed_app("good", deadline=15)))
    host, cid = start_load(sb)
    time.sleep(2)
    bad = write_manifest(tmp_path, "bad.yaml", probed_app("bad", deadline=15, path="/never"))
    res = sb("apply", "-f", bad, "--auto-rollback", check=False)
    assert res.returncode == 1, res.stderr
    assert 'deployment "web" exceeded its progress deadline' in res.stderr
    assert "Readiness probe failed: HTTP probe failed with statuscode: 404" in res.stderr  # the failing probe's output
    assert "rolled back to revision" in res.stderr
    ok, fail = load_result(host, cid)
    assert (ok, fail) == (REQUESTS, 0), f"{fail} of {ok + fail} requests failed while the bad revision was tried"
    assert host.check_output(f"docker exec {cid} wget -q -O - http://{cluster_ip(sb)}/").strip() == "good"
    rows = [ln.split() for ln in sb("get", "pods").stdout.splitlines() if ln.startswith("web-")]
    assert len(rows) == 3 and all(r[1:3] == ["1/1", "Running"] for r in rows)


def test_a_crash_looping_revision_is_rolled_back_with_its_last_log_lines(sb, tmp_path):
    # (no load here: without a readiness probe a container counts as ready while it runs, as in
    # Kubernetes, so a crash-looping pod can get a request between two of its restarts)
    crash = write_manifest(tmp_path, "crash.yaml", app("crash", deadline=15, command="echo boom: cannot start; exit 1"))
    res = sb("apply", "-f", crash, "--auto-rollback", check=False)
    assert res.returncode == 1, res.stderr
    assert 'deployment "web" exceeded its progress deadline' in res.stderr
    assert "boom: cannot start" in res.stderr  # the failing container's last log lines
    assert "rolled back to revision" in res.stderr
    assert sorted(p["status"]["phase"] for n, p in pods(sb).items() if n.startswith("web-")) == ["Running"] * 3
    sb("delete", "-f", crash)


def test_a_daemonset_change_replaces_one_node_at_a_time(sb, tmp_path):
    def ds(version: str) -> str:
        return f"""apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  updateStrategy: {{type: RollingUpdate, rollingUpdate: {{maxUnavailable: 1}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec:
      containers:
        - name: agent
          image: kcli.local/busybox:1
          command: ["sleep", "3600"]
          env: [{{name: VERSION, value: "{version}"}}]
"""

    sb("apply", "-f", write_manifest(tmp_path, "ds1.yaml", ds("1")))
    before = {n: p["spec"]["nodeName"] for n, p in pods(sb).items() if n.startswith("agent-")}
    assert sorted(before.values()) == ["node1", "node2", "node3"]
    f = write_manifest(tmp_path, "ds2.yaml", ds("2"))
    res = sb("apply", "-f", f)
    waves = re.findall(r"wave \d+: (\d+) pod change\(s\) on (\d+) node", res.stderr)
    assert waves == [("2", "1")] * 3, res.stderr  # old pod out, new pod in, one node per wave
    after = {n: p["spec"]["nodeName"] for n, p in pods(sb).items() if n.startswith("agent-")}
    assert sorted(after.values()) == ["node1", "node2", "node3"]
    assert not set(before.items()) & set(after.items())  # a new pod on every node (names may be reused)
    assert sb("rollout", "status", "ds/agent").stdout.strip() == 'daemon set "agent" successfully rolled out'
    sb("delete", "-f", f)


def test_pause_set_image_resume_and_restart(sb, tmp_path):
    subprocess.run(["docker", "tag", "kcli.local/busybox:1", "kcli.local/busybox:2"], check=True)
    sb("image", "load", "kcli.local/busybox:2")
    f = write_manifest(tmp_path, "v5.yaml", app("five"))
    sb("apply", "-f", f)
    first = {n for n in pods(sb) if n.startswith("web-")}
    assert sb("rollout", "pause", "deployment/web").stdout.strip() == "deployment.apps/web paused"
    assert (
        sb("set", "image", "deployment/web", "httpd=kcli.local/busybox:2").stdout.strip()
        == "deployment.apps/web image updated"
    )
    assert {n for n in pods(sb) if n.startswith("web-")} == first  # paused: nothing rolls
    assert sb("rollout", "resume", "deployment/web").stdout.strip() == "deployment.apps/web resumed"
    resumed = {n: p for n, p in pods(sb).items() if n.startswith("web-")}
    assert len(resumed) == 3 and not first & set(resumed)
    assert {c["image"] for p in resumed.values() for c in p["status"]["containerStatuses"]} == {"kcli.local/busybox:2"}
    assert sb("rollout", "restart", "deployment/web").stdout.strip() == "deployment.apps/web restarted"
    assert not set(resumed) & {n for n in pods(sb) if n.startswith("web-")}
    sb("delete", "-f", f)


def test_readiness_probes_gate_endpoints_and_rollouts(sb, tmp_path):
    sb("apply", "-f", write_manifest(tmp_path, "r1.yaml", probed_app("r1")))  # waits until the pods are ready
    rows = [ln.split() for ln in sb("get", "pods").stdout.splitlines() if ln.startswith("web-")]
    assert len(rows) == 3 and all(r[1] == "1/1" and r[2] == "Running" for r in rows)
    host, cid = start_load(sb)
    time.sleep(2)
    sb("apply", "-f", write_manifest(tmp_path, "r2.yaml", probed_app("r2")))  # new pods ready only after ~4 s
    ok, fail = load_result(host, cid)
    assert (ok, fail) == (REQUESTS, 0), f"{fail} of {ok + fail} requests failed during a probed rollout"
    revisions = [ln.split()[0] for ln in sb("rollout", "history", "deploy/web").stdout.splitlines()[2:] if ln.strip()]
    assert len(revisions) >= 2  # this template and the one before it
    host, cid = start_load(sb)  # undo and scale 3 → 5 → 2 under load, readiness-gated
    time.sleep(2)
    sb("rollout", "undo", "deploy/web")
    assert host.check_output(f"docker exec {cid} wget -q -O - http://{cluster_ip(sb)}/").strip() == "r1"
    for n in (5, 2):
        sb("scale", "deploy/web", "--replicas", str(n))
    ok, fail = load_result(host, cid)
    assert (ok, fail) == (REQUESTS, 0), f"{fail} of {ok + fail} requests failed during undo and scale"
    sb("apply", "-f", write_manifest(tmp_path, "r2c.yaml", probed_app("r2")))  # back to r2, 3 replicas
    never = write_manifest(
        tmp_path,
        "never.yaml",
        """apiVersion: v1
kind: Pod
metadata: {name: never, labels: {app: web}}
spec:
  containers:
    - name: httpd
      image: kcli.local/busybox:1
      imagePullPolicy: Never
      command: ["sh", "-c", "mkdir -p /www && echo never > /www/index.html && exec httpd -f -p 80 -h /www"]
      ports: [{containerPort: 80}]
      readinessProbe: {httpGet: {path: /ready, port: 80}, periodSeconds: 1}
""",
    )
    sb("apply", "-f", never)
    time.sleep(4)
    row = next(ln.split() for ln in sb("get", "pods").stdout.splitlines() if ln.startswith("never "))
    assert row[1:3] == ["0/1", "Running"]  # running, never ready
    described = sb("describe", "pod", "never").stdout
    assert "HTTP probe failed with statuscode: 404" in described and "Unhealthy" in described  # condition and event
    sb("apply", "-f", write_manifest(tmp_path, "r2b.yaml", probed_app("r2")))  # rules in sync: never is no endpoint
    pages = {host.check_output(f"docker exec {cid} wget -q -O - http://{cluster_ip(sb)}/").strip() for _ in range(12)}
    assert pages == {"r2"}
    sb("delete", "-f", never)


def host_of(sb, pod: str):
    p = pods(sb)[pod]
    cid = next(c for c in p["status"]["containerStatuses"])["containerID"].removeprefix("docker://")
    return sb.testinfra()[p["spec"]["nodeName"]], cid


def test_an_exec_liveness_probe_restarts_the_container_with_no_kcli_running(sb, tmp_path):
    f = write_manifest(
        tmp_path,
        "alive.yaml",
        """apiVersion: v1
kind: Pod
metadata: {name: alive}
spec:
  containers:
    - name: app
      image: kcli.local/busybox:1
      imagePullPolicy: Never
      command: ["sh", "-c", "touch /tmp/healthy; exec sleep 3600"]
      livenessProbe: {exec: {command: [cat, /tmp/healthy]}, periodSeconds: 2, failureThreshold: 2}
""",
    )
    sb("apply", "-f", f)
    host, cid = host_of(sb, "alive")
    restarts = f"docker inspect -f '{{{{.RestartCount}}}}' {cid}"
    time.sleep(5)
    assert host.check_output(restarts) == "0"  # healthy: left alone
    sb("exec", "alive", "--", "sh", "-c", "rm /tmp/healthy")  # (the helper appends -i INVENTORY: sh ignores it)
    started = time.monotonic()
    while host.check_output(restarts) == "0":  # from here on no kcli process runs: dockerd's healthcheck acts
        assert time.monotonic() - started < 2 * 2 + 10, "the liveness probe did not restart the container"
        time.sleep(0.5)
    assert int(pods(sb)["alive"]["status"]["containerStatuses"][0]["restartCount"]) >= 1
    sb("delete", "-f", f)


def test_startup_tcp_and_named_port_probes_on_an_image_without_a_shell(sb, tmp_path):
    # an image of one static binary: busybox as /httpd (no sh, no wget, no curl inside)
    root = tmp_path / "img"
    (root / "www").mkdir(parents=True)
    (root / "www" / "index.html").write_text("static\n")
    busybox = next(p for p in ("/bin/busybox", "/usr/bin/busybox") if Path(p).exists())
    shutil.copy2(busybox, root / "httpd")
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(
        [
            "docker",
            "import",
            "-c",
            'ENTRYPOINT ["/httpd", "-f", "-p", "8080", "-h", "/www"]',
            "-",
            "kcli.local/static-httpd:1",
        ],
        stdin=tar.stdout,
        check=True,
        capture_output=True,
    )
    tar.wait()
    sb("image", "load", "kcli.local/static-httpd:1")
    f = write_manifest(
        tmp_path,
        "static.yaml",
        """apiVersion: v1
kind: Pod
metadata: {name: static}
spec:
  containers:
    - name: web
      image: kcli.local/static-httpd:1
      imagePullPolicy: Never
      ports: [{containerPort: 8080, name: http}]
      startupProbe: {tcpSocket: {port: 8080}, periodSeconds: 1, failureThreshold: 30}
      readinessProbe: {httpGet: {path: /index.html, port: http}, initialDelaySeconds: 3, periodSeconds: 1}
      livenessProbe: {tcpSocket: {port: http}, periodSeconds: 2}
""",
    )
    sb("apply", "-f", f)
    row = lambda: next(ln.split() for ln in sb("get", "pods").stdout.splitlines() if ln.startswith("static "))  # noqa: E731
    assert row()[1] == "0/1"  # the readiness probe waits its initial delay
    deadline = time.monotonic() + 20
    while row()[1] != "1/1":
        assert time.monotonic() < deadline, sb("describe", "pod", "static").stdout
        time.sleep(1)
    assert "Ready             True" in sb("describe", "pod", "static").stdout
    host, cid = host_of(sb, "static")
    assert host.check_output(f"docker inspect -f '{{{{.RestartCount}}}}' {cid}") == "0"  # alive
    sb("delete", "-f", f)


def test_a_pre_stop_hook_runs_before_the_container_stops(sb, tmp_path):
    f = write_manifest(
        tmp_path,
        "hook.yaml",
        """apiVersion: v1
kind: Pod
metadata: {name: hooked}
spec:
  nodeSelector: {kubernetes.io/hostname: node2}
  terminationGracePeriodSeconds: 5
  containers:
    - name: app
      image: kcli.local/busybox:1
      imagePullPolicy: Never
      command: ["sleep", "3600"]
      lifecycle: {preStop: {exec: {command: [sh, -c, "echo drained > /out/bye"]}}}
      volumeMounts: [{name: out, mountPath: /out}]
  volumes: [{name: out, hostPath: {path: /tmp/kcli-e2e-hook, type: DirectoryOrCreate}}]
""",
    )
    sb("apply", "-f", f)
    host = sb.testinfra()["node2"]
    host.run("rm -f /tmp/kcli-e2e-hook/bye")
    sb("delete", "-f", f)
    assert host.check_output("cat /tmp/kcli-e2e-hook/bye") == "drained"  # the hook ran in the container first
    host.run("rm -rf /tmp/kcli-e2e-hook")


def node_line(sb, name: str) -> str:
    return next(ln for ln in sb("get", "nodes").stdout.splitlines() if ln.split()[0] == name)


def test_drain_moves_service_pods_with_no_failed_request_then_uncordon(sb, tmp_path):
    sb("apply", "-f", write_manifest(tmp_path, "drain.yaml", app("drain")))
    web = {n: p for n, p in pods(sb).items() if n.startswith("web-")}
    on_node2 = {n for n, p in web.items() if p["spec"]["nodeName"] == "node2"}
    assert len(web) == 3 and on_node2  # spread: one of them runs on node2
    host, cid = start_load(sb)
    time.sleep(2)
    res = sb("drain", "node2", "--ignore-daemonsets")
    assert "node/node2 cordoned" in res.stdout and "node/node2 drained" in res.stdout
    assert all(f"pod/{n} evicted" in res.stdout for n in on_node2)
    web = {n: p for n, p in pods(sb).items() if n.startswith("web-")}
    assert len(web) == 3 and all(p["spec"]["nodeName"] != "node2" for p in web.values())
    assert all(p["status"]["phase"] == "Running" for p in web.values())
    ok, fail = load_result(host, cid)
    assert (ok, fail) == (REQUESTS, 0), f"{fail} of {ok + fail} requests failed during the drain"
    assert node_line(sb, "node2").split()[1] == "Ready,SchedulingDisabled"
    sb("scale", "deploy/web", "--replicas", "5")
    assert all(p["spec"]["nodeName"] != "node2" for n, p in pods(sb).items() if n.startswith("web-"))  # cordoned
    assert sb("uncordon", "node2").stdout.strip() == "node/node2 uncordoned"
    assert node_line(sb, "node2").split()[1] == "Ready"
    sb("scale", "deploy/web", "--replicas", "8")
    assert any(p["spec"]["nodeName"] == "node2" for n, p in pods(sb).items() if n.startswith("web-"))
    sb("scale", "deploy/web", "--replicas", "3")
