"""Issue 8 on a real sandbox: hostile manifests, a lost lock, Secrets off command lines, failed pods
that stay visible, allocations checked against the hosts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

from .conftest import bootstrapped_sandbox, write_manifest

pytestmark = pytest.mark.e2e
NAME = "e2e-sec"
SECRET_VALUE = "s3cr3t-Only-In-The-Container-4711"


@pytest.fixture(scope="module")
def sb(kcli):
    yield from bootstrapped_sandbox(kcli, NAME)


def markers(sb, pattern: str) -> dict[str, str]:
    """Marker files matching pattern on every node and on this machine."""
    out = {n: h.run(f"ls -d {pattern} 2>/dev/null").stdout.strip() for n, h in sb.testinfra().items()}
    out["local"] = subprocess.run(
        f"ls -d {pattern} 2>/dev/null", shell=True, capture_output=True, text=True
    ).stdout.strip()
    return {k: v for k, v in out.items() if v}


def pod_rows(sb, *args: str) -> dict[str, dict]:
    items = json.loads(sb("get", "pods", *args, "-o", "json").stdout or '{"items": []}').get("items", [])
    return {i["metadata"]["name"]: i for i in items}


def pod(name: str, image: str, extra_spec: str = "", policy: str = "Never") -> str:
    return f"""apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers:
    - name: main
      image: "{image}"
      imagePullPolicy: {policy}
      command: ["sleep", "3600"]
{extra_spec}"""


def test_hostile_image_and_host_path_never_run_on_a_node(sb, tmp_path):
    tag = f"PWN-{os.getpid()}"
    image = f"x:1'; touch /tmp/{tag}-img; echo '"
    res = sb(
        "apply", "-f", write_manifest(tmp_path, "img.yaml", pod("hostile-img", image.replace('"', '\\"'))), check=False
    )
    assert res.returncode == 3, res.stderr
    assert "spec.containers[0].image" in res.stderr
    path = f"/tmp/dir'; touch /tmp/{tag}-hp; echo '"
    spec = f"""      volumeMounts: [{{name: h, mountPath: /h}}]
  volumes:
    - name: h
      hostPath: {{path: "{path}", type: Directory}}
"""
    res = sb(
        "apply", "-f", write_manifest(tmp_path, "hp.yaml", pod("hostile-hp", "kcli.local/busybox:1", spec)), check=False
    )
    if res.returncode == 0:  # accepted: the path arrived literally, the pod cannot start (no such directory)
        row = next(line for line in sb("get", "pods").stdout.splitlines() if line.startswith("hostile-hp"))
        assert "CreateContainerError" in row
        assert "is not a Directory" in sb("describe", "pod", "hostile-hp").stdout
        sb("delete", "pod", "hostile-hp")
    else:
        assert res.returncode == 3 and "hostPath.path" in res.stderr, res.stderr
    assert markers(sb, f"/tmp/{tag}*") == {}


def test_missing_image_shows_err_image_never_pull_and_other_pods_run(sb, tmp_path):
    f = write_manifest(
        tmp_path, "two.yaml", pod("no-image", "kcli.local/absent:9") + "---\n" + pod("fine", "kcli.local/busybox:1")
    )
    res = sb("apply", "-f", f)
    assert res.returncode == 0 and "failed to start" in res.stderr
    table = sb("get", "pods").stdout
    row = next(line for line in table.splitlines() if line.startswith("no-image"))
    assert "ErrImageNeverPull" in row
    assert "Running" in next(line for line in table.splitlines() if line.startswith("fine"))
    desc = sb("describe", "pod", "no-image").stdout
    assert "ErrImageNeverPull" in desc and "kcli.local/absent:9" in desc
    again = sb("apply", "-f", f, "--strict", check=False)  # inside the back-off: not retried, still listed
    assert again.returncode == 0 and "back-off" in again.stderr
    sb("delete", "-f", f)
    assert "no-image" not in sb("get", "pods").stdout


def test_secret_values_are_on_no_command_line_and_not_in_git(sb, tmp_path):
    f = write_manifest(
        tmp_path,
        "secret.yaml",
        f"""apiVersion: v1
kind: Secret
metadata: {{name: db}}
stringData: {{password: "{SECRET_VALUE}"}}
---
"""
        + pod(
            "uses-secret",
            "kcli.local/busybox:1",
            """      env:
        - name: DB_PASSWORD
          valueFrom: {secretKeyRef: {name: db, key: password}}
""",
        ),
    )
    hosts = sb.testinfra()
    stop = threading.Event()
    seen: list[str] = []

    def watch(h):
        while not stop.is_set():
            out = h.run("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '").stdout
            if SECRET_VALUE in out:
                seen.append(out)

    threads = [threading.Thread(target=watch, args=(h,)) for h in hosts.values()]
    for t in threads:
        t.start()
    try:
        sb("apply", "-f", f)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert seen == []
    node = json.loads(sb("get", "pod", "uses-secret", "-o", "json").stdout)
    node = (node.get("items") or [node])[0]["spec"]["nodeName"]
    host = hosts[node]
    assert SECRET_VALUE not in host.run("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '").stdout
    # the value did arrive, in the container's environment only
    assert SECRET_VALUE in sb("exec", "uses-secret", "--", "sh", "-c", "echo $DB_PASSWORD").stdout
    assert host.run("find /run/kcli -type f 2>/dev/null").stdout.strip() == ""  # no env file left behind
    log = subprocess.run(["git", "-C", str(sb.state), "log", "-p"], capture_output=True, text=True).stdout
    assert SECRET_VALUE not in log and "contentHash" in log
    assert (
        hosts["node1"].check_output("stat -c %a /var/lib/kcli/secret.key") == "600"
    )  # the HMAC key: lock node, root only
    sb("delete", "-f", f)


def test_an_apply_that_lost_its_lock_writes_nothing(sb, tmp_path):
    a = write_manifest(tmp_path, "a.yaml", pod("from-a", "kcli.local/busybox:1"))
    b = write_manifest(
        tmp_path,
        "b.yaml",
        pod("from-b", "kcli.local/busybox:1").replace(
            "metadata: {name: from-b}", "metadata: {name: from-b, labels: {app: b}}"
        )
        + """---
apiVersion: v1
kind: Service
metadata: {name: svc-b}
spec: {selector: {app: b}, ports: [{port: 80}]}
""",
    )
    env = {**sb.kcli.env, "KCLI_LOCK_TTL": "3", "KCLI_FAILPOINT": "before-execute"}
    first = subprocess.Popen(
        [sys.executable, "-m", "kcli", "apply", "-f", a, "-i", str(sb.inventory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until it stopped itself at the failpoint
            with open(f"/proc/{first.pid}/stat") as fh:
                if fh.read().split(") ", 1)[1].startswith("T"):
                    break
            time.sleep(0.1)
        else:
            raise AssertionError("the first apply never reached its failpoint")
        time.sleep(4)  # past the lock's expiry
        sb("apply", "-f", b, "--lock-wait", "10")
        head_b = subprocess.run(
            ["git", "-C", str(sb.state), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout
    finally:
        first.send_signal(signal.SIGCONT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 6, err
    assert "lost the cluster lock" in err
    rows = pod_rows(sb)
    assert "from-a" not in rows and "from-b" in rows
    assert all("from-a" not in h.run("docker ps -a --format '{{.Names}}'").stdout for h in sb.testinfra().values())
    assert (
        subprocess.run(["git", "-C", str(sb.state), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
        == head_b
    )
    for h in sb.testinfra().values():
        assert "default/svc-b" in h.check_output("iptables-save")
    sb("delete", "-f", b)


def test_allocations_never_collide_with_what_the_hosts_hold(sb, tmp_path):
    other = tmp_path / "other-state"
    shutil.copytree(sb.state, other)  # a second state directory for the same cluster, not pulled
    svc = """apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec: {{type: NodePort, selector: {{app: {name}}}, ports: [{{port: 80}}]}}
"""
    a = write_manifest(tmp_path, "svc-a.yaml", svc.format(name="alloc-a"))
    sb("apply", "-f", a)
    held = yaml.safe_load((sb.state / "cluster.yaml").read_text())["services"]["default/alloc-a"]
    b = write_manifest(tmp_path, "svc-b.yaml", svc.format(name="alloc-b"))
    behind = sb("apply", "-f", b, "--state", str(other), check=False)  # the cluster knows a newer state
    assert behind.returncode == 7 and "behind the cluster" in behind.stderr, behind.stderr
    assert all("alloc-b" not in h.check_output("iptables-save") for h in sb.testinfra().values())
    # a cluster that lost that record (every lock node's copy gone, say): the hosts' rules still guard allocations
    for h in sb.testinfra().values():
        h.check_output("rm -f /var/lib/kcli/state.generation")
    sb("apply", "-f", b, "--state", str(other))
    allocated = yaml.safe_load((other / "cluster.yaml").read_text())["services"]["default/alloc-b"]
    assert allocated["clusterIP"] != held["clusterIP"]
    assert not set(allocated["nodePorts"].values()) & set(held["nodePorts"].values())
    rules = sb.testinfra()["node1"].check_output("iptables-save")  # no endpoints: filter REJECT rules
    assert f"-d {allocated['clusterIP']}/32" in rules and "default/alloc-b" in rules


LOCKED_DOWN = """apiVersion: v1
kind: Pod
metadata: {name: locked}
spec:
  securityContext: {runAsUser: 1000, runAsGroup: 1000}
  containers:
    - name: main
      image: kcli.local/busybox:1
      command: ["sleep", "3600"]
      securityContext:
        readOnlyRootFilesystem: true
        allowPrivilegeEscalation: false
        capabilities: {drop: [ALL]}
---
apiVersion: v1
kind: Pod
metadata: {name: rootless}
spec:
  securityContext: {runAsNonRoot: true}
  containers:
    - {name: main, image: kcli.local/busybox:1, command: ["sleep", "3600"]}
"""


def test_security_context_runs_as_the_user_without_capabilities_and_refuses_a_root_image(sb, tmp_path):
    f = write_manifest(tmp_path, "locked.yaml", LOCKED_DOWN)
    res = sb("apply", "-f", f)
    assert "rootless" in res.stderr  # its create failed: reported, the rest applied
    assert sb("exec", "locked", "--", "sh", "-c", "id -u").stdout.strip() == "1000"
    wrote = sb("exec", "locked", "--", "sh", "-c", "echo x > /f", check=False)
    assert wrote.returncode != 0 and "Read-only file system" in wrote.stdout + wrote.stderr
    caps = sb("exec", "locked", "--", "sh", "-c", "grep CapEff /proc/self/status").stdout.split()
    assert caps[-1] == "0000000000000000"
    rows = {ln.split()[0]: ln.split() for ln in sb("get", "pods").stdout.splitlines()[1:]}
    assert rows["locked"][2] == "Running" and rows["rootless"][2] == "CreateContainerConfigError"
    assert "container has runAsNonRoot and image will run as root" in sb("describe", "pod", "rootless").stdout
    for h in sb.testinfra().values():  # never started
        assert (
            h.check_output("docker ps -aq --filter label=io.kcli.pod=rootless --filter label=io.kcli.type=container")
            == ""
        )
    sb("delete", "-f", f)


SIDECAR = """apiVersion: v1
kind: Pod
metadata: {name: with-sidecar}
spec:
  initContainers:
    - {name: proxy, image: kcli.local/busybox:1, restartPolicy: Always, command: [sleep, "3600"]}
    - {name: setup, image: kcli.local/busybox:1, command: [sh, -c, "echo ready > /shared/flag"],
       volumeMounts: [{name: shared, mountPath: /shared}]}
  containers:
    - {name: app, image: kcli.local/busybox:1, command: [sleep, "3600"], volumeMounts: [{name: shared, mountPath: /shared}]}
  volumes: [{name: shared, emptyDir: {}}]
"""


def test_a_native_sidecar_runs_beside_the_app_and_the_apply_returns(sb, tmp_path):
    f = write_manifest(tmp_path, "sidecar.yaml", SIDECAR)
    sb("apply", "-f", f, "--timeout", "90")
    row = next(ln.split() for ln in sb("get", "pods").stdout.splitlines() if ln.startswith("with-sidecar"))
    assert row[2] == "Running", row
    assert sb("exec", "with-sidecar", "--", "sh", "-c", "cat /shared/flag").stdout == "ready\n"
    node = pod_rows(sb)["with-sidecar"]["spec"]["nodeName"]
    running = (
        sb.testinfra()[node]
        .check_output("docker ps --filter label=io.kcli.pod=with-sidecar --format '{{.Label \"io.kcli.container\"}}'")
        .split()
    )
    assert sorted(running) == ["POD", "app", "proxy"]
    sb("delete", "-f", f)


DNS_POD = """apiVersion: v1
kind: Pod
metadata: {name: own-dns}
spec:
  dnsPolicy: "None"
  dnsConfig:
    nameservers: [192.0.2.53]
    searches: [corp.example]
    options: [{name: ndots, value: "2"}, {name: edns0}]
  containers:
    - {name: main, image: kcli.local/busybox:1, command: [sleep, "3600"]}
"""


def test_dns_policy_none_and_dns_config_make_the_pod_s_resolv_conf(sb, tmp_path):
    f = write_manifest(tmp_path, "dns.yaml", DNS_POD)
    sb("apply", "-f", f)
    conf = sb("exec", "own-dns", "--", "sh", "-c", "cat /etc/resolv.conf").stdout
    lines = [ln for ln in conf.splitlines() if ln and not ln.startswith("#")]
    # on a user-defined network the pod's resolv.conf names docker's embedded resolver (127.0.0.11),
    # which forwards to the pod's nameservers: docker holds them in the container's config
    assert "search corp.example" in lines, conf
    node = pod_rows(sb)["own-dns"]["spec"]["nodeName"]
    servers = sb.testinfra()[node].check_output(
        "docker inspect -f '{{json .HostConfig.Dns}}' $(docker ps -q --filter label=io.kcli.pod=own-dns)"
    )
    assert json.loads(servers) == ["192.0.2.53"], servers
    assert any(ln.startswith("options") and "ndots:2" in ln and "edns0" in ln for ln in lines), conf
    assert not any("cluster.local" in ln for ln in lines)  # dnsPolicy None: nothing of the cluster's
    sb("delete", "-f", f)
