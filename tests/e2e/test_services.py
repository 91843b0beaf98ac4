"""Issue 5: ClusterIP/NodePort services, kube-proxy rules, endpoints, DNS, env, verify — on a sandbox."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from kcli.core.iptables import service_chain, service_port_name

from .conftest import make_sandbox

pytestmark = pytest.mark.e2e
NAME = "e2e-svc"
M = Path(__file__).parent / "manifests"
ROOT = Path(__file__).resolve().parents[2]
CLIENT = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: client}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      containers:
        - name: client
          image: kcli.local/busybox:1
          command: ["sleep", "1000000"]
"""


@pytest.fixture(scope="module")
def sb(kcli, tmp_path_factory):
    sandbox = make_sandbox(kcli, NAME, 3)
    try:
        sandbox("bootstrap")  # ships pause, dnsmasq and busybox
        sandbox("apply", "-f", str(M / "svc.yaml.j2"), "--set", "replicas=3")
        client = tmp_path_factory.mktemp("client") / "client.yaml"
        client.write_text(CLIENT)
        sandbox("apply", "-f", str(client))
        yield sandbox
    finally:
        sandbox.down()


def clients(sb) -> dict[str, str]:
    items = json.loads(sb("get", "pods", "-l", "app=client", "-o", "json").stdout)["items"]
    return {p["spec"]["nodeName"]: p["metadata"]["name"] for p in items}


def in_pod(sb, pod: str, script: str) -> str:
    return sb("exec", pod, "--", "sh", "-c", script).stdout


def web_pods(sb) -> set[str]:
    return {p["metadata"]["name"] for p in json.loads(sb("get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]}


def cluster_ip(sb, name: str) -> str:
    rows = {r.split()[0]: r.split() for r in sb("get", "svc").stdout.splitlines()[1:]}
    return rows[name][2]


@pytest.mark.parametrize("target", ["VIP", "web.default.svc.cluster.local", "web"])
def test_requests_from_every_node_reach_all_backends_evenly(sb, target):
    host = cluster_ip(sb, "web") if target == "VIP" else target
    backends = web_pods(sb)
    for node, pod in sorted(clients(sb).items()):
        out = in_pod(sb, pod, f"for i in $(seq 300); do wget -qO- http://{host}/; done")
        counts = Counter(out.split())
        assert set(counts) == backends, (node, counts)
        assert sum(counts.values()) == 300
        assert max(counts.values()) <= 150, (node, counts)


def test_nodeport_answers_on_every_node_from_here(sb):
    backends = web_pods(sb)
    for name, h in sb.hosts().items():
        body = urllib.request.urlopen(f"http://{h['address']}:30080/", timeout=5).read().decode().strip()
        assert body in backends, (name, body)


def test_service_env_vars_are_injected_at_pod_start(sb):
    pod = next(iter(clients(sb).values()))
    env = in_pod(sb, pod, "env")
    ip = cluster_ip(sb, "web")
    assert f"WEB_SERVICE_HOST={ip}" in env and "WEB_SERVICE_PORT=80" in env and "WEB_SERVICE_PORT_HTTP=80" in env
    assert f"WEB_PORT=tcp://{ip}:80" in env and f"WEB_PORT_80_TCP_ADDR={ip}" in env


def test_headless_service_resolves_to_pod_ips(sb):
    pod = next(iter(clients(sb).values()))
    out = in_pod(sb, pod, "nslookup web-headless.default.svc.cluster.local")
    ips = {json.loads(sb("get", "pods", p, "-o", "json").stdout)["status"]["podIP"] for p in web_pods(sb)}
    answered = {ln.split()[-1] for ln in out.splitlines() if ln.startswith("Address") and "127.0.0.11" not in ln}
    assert answered == ips


def test_service_without_endpoints_refuses_at_once(sb):
    pod = next(iter(clients(sb).values()))
    ip = cluster_ip(sb, "nothing")
    res = sb("exec", pod, "--", "sh", "-c", f"nc -w 10 {ip} 80 </dev/null", check=False)
    assert res.returncode != 0
    assert "refused" in (res.stdout + res.stderr)


def test_scale_up_reaches_all_five_and_keeps_the_service(sb):
    ip = cluster_ip(sb, "web")
    spn = service_port_name("default", "web", "http")
    chain = service_chain(spn, "tcp")
    sb("apply", "-f", str(M / "svc.yaml.j2"), "--set", "replicas=5")
    assert cluster_ip(sb, "web") == ip
    for name, h in sb.testinfra().items():
        assert h.check_output(f"iptables-save -t nat | grep -c '^-A {chain} ' || true") not in ("", "0"), name
    backends = web_pods(sb)
    assert len(backends) == 5
    pod = next(iter(clients(sb).values()))
    counts = Counter(in_pod(sb, pod, f"for i in $(seq 300); do wget -qO- http://{ip}/; done").split())
    assert set(counts) == backends


def test_verify_passes_and_then_names_the_broken_node(sb):
    ok = sb("verify")
    assert "FAIL" not in ok.stdout and "OK" in ok.stdout
    sb.testinfra()["node2"].check_output("iptables -t nat -F KUBE-SERVICES")
    bad = sb("verify", check=False)
    assert bad.returncode != 0
    failing = {ln.split()[0] for ln in bad.stdout.splitlines() if "FAIL" in ln}
    assert failing == {"node2"}
    diff = sb("diff", "-f", str(M / "svc.yaml.j2"), "--set", "replicas=5", check=False)
    assert diff.returncode == 1 and "node/node2" in diff.stdout
    sb("apply", "-f", str(M / "svc.yaml.j2"), "--set", "replicas=5")
    assert sb("verify").returncode == 0


def test_deleted_service_leaves_no_chain_on_any_node(sb):
    eps = [ln.split()[1] for ln in sb("get", "endpoints", "web").stdout.splitlines()[1:]][0].split(",")
    spn = service_port_name("default", "web", "http")
    chains = [service_chain(spn, "tcp")]
    sb("delete", "service", "web")
    for name, h in sb.testinfra().items():
        saved = h.check_output("iptables-save -t nat")
        for c in chains:
            assert c not in saved, (name, c)
        assert "default/web:http" not in saved, name
        assert "KUBE-SEP-" not in "\n".join(ln for ln in saved.splitlines() if "default/web:http" in ln)
        assert "web.default.svc.cluster.local" not in h.check_output("cat /var/lib/kcli/dns/cluster.hosts")
    assert eps


def test_two_tier_demo_app_works_end_to_end(sb):
    sb("apply", "-f", str(ROOT / "manifests" / "demo" / "two-tier.yaml"))
    for name, h in sb.hosts().items():
        body = urllib.request.urlopen(f"http://{h['address']}:30081/cgi-bin/app", timeout=10).read().decode()
        assert body.startswith("frontend frontend-") and "-> backend backend-" in body, (name, body)
