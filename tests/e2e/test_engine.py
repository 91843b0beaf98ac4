"""Issue 9 on a real sandbox: a lost node does not stop an apply; deleting a Namespace cascades."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
import yaml

from .conftest import bootstrapped_sandbox, write_manifest

pytestmark = pytest.mark.e2e
NAME = "e2e-engine"


@pytest.fixture(scope="module")
def sb(kcli):
    yield from bootstrapped_sandbox(kcli, NAME)


def deployment(name: str, replicas: int, namespace: str = "default") -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: main
          image: kcli.local/busybox:1
          command: ["sleep", "3600"]
          resources: {{requests: {{cpu: 10m}}}}
"""


def pods(sb) -> dict[str, dict]:
    items = json.loads(sb("get", "pods", "-A", "-o", "json").stdout or '{"items": []}').get("items", [])
    return {i["metadata"]["name"]: i for i in items}


def pod_containers(sb, nodes=None) -> Counter:
    """Containers holding a pod (its pause container, or its one container) per pod name across the
    reachable nodes: 1 each, never 2."""
    out: Counter = Counter()
    for n, h in sb.testinfra().items():
        if nodes is None or n in nodes:
            out.update(
                h.check_output("docker ps -a --filter label=io.kcli.node --format '{{.Label \"io.kcli.pod\"}}'").split()
            )
    return out


def test_an_unreachable_node_does_not_stop_an_apply(sb, tmp_path):
    spread = write_manifest(tmp_path, "spread.yaml", deployment("spread", 3))
    sb("apply", "-f", spread)
    on_node3 = [n for n, p in pods(sb).items() if p["spec"]["nodeName"] == "node3"]
    assert on_node3, "the spread Deployment should have a pod on node3"
    sb.kcli("sandbox", "stop-node", "node3", "--name", NAME)
    try:
        new = write_manifest(tmp_path, "new.yaml", deployment("fresh", 2))
        res = sb("apply", "-f", new)
        assert res.returncode == 0 and "node node3 is unreachable" in res.stderr
        assert sb("apply", "-f", new, "--strict", check=False).returncode == 5
        now = pods(sb)
        fresh = [p for n, p in now.items() if n.startswith("fresh-")]
        assert len(fresh) == 2 and {p["spec"]["nodeName"] for p in fresh} <= {"node1", "node2"}
        assert all(p["status"]["phase"] == "Running" for p in fresh)
        assert {n: now[n]["status"]["phase"] for n in on_node3} == {n: "Unknown" for n in on_node3}
        assert len([n for n in now if n.startswith("spread-")]) == 3  # Unknown pods are not replaced
        table = sb("get", "pods").stdout
        assert all("Unknown" in line for line in table.splitlines() if line.split()[0] in on_node3)
        node3 = next(line for line in sb("get", "nodes").stdout.splitlines() if line.startswith("node3"))
        assert "NotReady" in node3
    finally:
        sb.kcli("sandbox", "start-node", "node3", "--name", NAME)
    sb("bootstrap")
    sb("apply", "-f", spread)
    sb("apply", "-f", new)
    counts = pod_containers(sb)
    assert counts and max(counts.values()) == 1
    now = pods(sb)
    assert (
        len([n for n in now if n.startswith("spread-")]) == 3 and len([n for n in now if n.startswith("fresh-")]) == 2
    )
    assert all(p["status"]["phase"] == "Running" for p in now.values())
    sb("delete", "-f", spread)
    sb("delete", "-f", new)


def test_deleting_a_namespace_removes_everything_in_it(sb, tmp_path):
    f = write_manifest(
        tmp_path,
        "shop.yaml",
        """apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {mode: test}
---
apiVersion: v1
kind: Service
metadata: {name: front, namespace: shop}
spec: {selector: {app: front}, ports: [{port: 80}]}
---
"""
        + deployment("front", 2, "shop"),
    )
    sb("apply", "-f", f)
    hosts = sb.testinfra()
    assert any("front.shop.svc" in h.check_output("cat /var/lib/kcli/dns/cluster.hosts") for h in hosts.values())
    sb("delete", "ns", "shop")
    for h in hosts.values():
        assert h.check_output("docker ps -aq --filter label=io.kcli.namespace=shop") == ""
        assert "shop/front" not in h.check_output("iptables-save")
        assert "shop" not in h.check_output("cat /var/lib/kcli/dns/cluster.hosts")
    state = yaml.safe_load((sb.state / "cluster.yaml").read_text())
    assert not [k for k in (state.get("objects") or {}) if "/shop/" in k or k.endswith("/shop")]
    assert not [k for k in (state.get("pods") or {}) if k.startswith("shop/")]
    sb("apply", "-f", write_manifest(tmp_path, "ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"))
    assert [n for n, p in pods(sb).items() if p["metadata"]["namespace"] == "shop"] == []
    assert all(h.check_output("docker ps -aq --filter label=io.kcli.namespace=shop") == "" for h in hosts.values())
    sb("delete", "ns", "shop")


def test_a_single_container_pod_keeps_its_address_across_a_restart(sb, tmp_path):
    f = write_manifest(tmp_path, "solo.yaml", deployment("solo", 1))
    sb("apply", "-f", f)
    ((name, pod),) = [(n, p) for n, p in pods(sb).items() if n.startswith("solo-")]
    ip, host = pod["status"]["podIP"], sb.testinfra()[pod["spec"]["nodeName"]]
    ids = host.check_output(f"docker ps -aq --filter label=io.kcli.pod={name}").split()
    assert len(ids) == 1  # the pod is its one container: no pause container
    inspect = (
        "docker inspect -f '{{.RestartCount}} {{.State.Running}} "
        '{{(index .NetworkSettings.Networks "kcli-pods").IPAddress}}\' ' + ids[0]
    )
    assert host.check_output(inspect).split() == ["0", "true", ip]
    host.check_output(f"kill -9 $(docker inspect -f '{{{{.State.Pid}}}}' {ids[0]})")  # the app dies: docker restarts it
    deadline = time.monotonic() + 60
    while host.check_output(inspect).split()[:2] != ["1", "true"]:
        assert time.monotonic() < deadline, host.check_output(inspect)
        time.sleep(0.5)
    assert host.check_output(inspect).split()[2] == ip  # same container, same address
    after = pods(sb)[name]
    assert after["status"]["podIP"] == ip and after["status"]["containerStatuses"][0]["restartCount"] == 1
    assert "0 pod change(s)" in sb("apply", "-f", f).stderr  # nothing to repair
    sb("delete", "-f", f)
    assert not host.check_output(f"docker ps -aq --filter label=io.kcli.pod={name}").strip()


def test_delete_with_cascade_orphan_leaves_the_pods_running(sb, tmp_path):
    f = write_manifest(tmp_path, "orphans.yaml", deployment("orphans", 2))
    sb("apply", "-f", f)
    names = sorted(n for n in pods(sb) if n.startswith("orphans-"))
    assert len(names) == 2
    assert sb("delete", "deployment", "orphans", "--cascade=sideways", check=False).returncode == 2
    sb("delete", "deployment", "orphans", "--cascade=orphan")
    assert "orphans" not in sb("get", "deployments").stdout
    running = {n: p["status"]["phase"] for n, p in pods(sb).items() if n.startswith("orphans-")}
    assert running == {n: "Running" for n in names}  # kept, as Kubernetes keeps orphaned pods
    sb("apply", "-f", f)  # the Deployment again adopts them: nothing is replaced
    assert sorted(n for n in pods(sb) if n.startswith("orphans-")) == names
    sb("delete", "-f", f)
    assert not [n for n in pods(sb) if n.startswith("orphans-")]


def _observe(sb, snippets: dict) -> tuple[dict, dict]:
    """Every node's sections of ``snippets`` (kcli.shell.observe, a fresh pool) and its stats."""
    from kcli.shell.config import load_inventory
    from kcli.shell.observe import observe
    from kcli.shell.transport import SshPool

    inv = load_inventory(str(sb.inventory))
    with SshPool(inv) as pool:
        res = observe(pool, list(inv.hosts), snippets)
        assert not res.errors, res.errors
        return dict(res.values), pool.stats()


def test_the_docker_api_and_the_docker_cli_observe_the_same_pods(sb, tmp_path, monkeypatch):
    """The observation asks each node's dockerd over an SSH channel to its socket (kcli.shell.dockerapi);
    what it reads must be what the CLI snippets read: the same pods, addresses, DNS server and network."""
    from kcli.core.cluster import view_from_sections
    from kcli.core.facts.host import parse_host_facts
    from kcli.core.facts.view_script import DOCKER_VERSION_SNIPPET, PODNET_SNIPPET, VIEW_SNIPPETS

    sb("apply", "-f", write_manifest(tmp_path, "same.yaml", deployment("same-view", 4)))
    snippets = {**VIEW_SNIPPETS, "podnet": PODNET_SNIPPET, "docker": DOCKER_VERSION_SNIPPET}
    monkeypatch.setenv("KCLI_HOME", str(tmp_path / "home"))  # no remembered refusal
    by_api, api_stats = _observe(sb, snippets)
    monkeypatch.setenv("KCLI_DOCKER_API", "0")
    by_cli, cli_stats = _observe(sb, snippets)
    assert all(s.api_exchanges == 2 and s.round_trips == 1 for s in api_stats.values()), api_stats
    assert all(s.api_exchanges == 0 and s.round_trips == 1 for s in cli_stats.values()), cli_stats
    api, cli = view_from_sections(by_api), view_from_sections(by_cli)
    assert sum(len(p) for p in api.pods.values()) >= 4
    assert api.pods == cli.pods
    assert api.used_ips == cli.used_ips and api.dns_running == cli.dns_running
    assert all(api.dns_running.values())
    for node in by_api:
        net_api = parse_host_facts(by_api[node]).pod_network
        assert net_api is not None and net_api == parse_host_facts(by_cli[node]).pod_network
        assert not api.facts[node].docker_error
        assert api.facts[node].docker_version and api.facts[node].docker_version == cli.facts[node].docker_version


def test_a_refused_docker_socket_channel_falls_back_to_the_cli(sb, tmp_path, monkeypatch):
    """sshd refuses the channel because nothing answers at that path (a socket elsewhere): the
    observation reads the same through the CLI, and as docker answered there the next command
    goes to the CLI at once."""
    from kcli.core.cluster import view_from_sections
    from kcli.core.facts import dockerapi
    from kcli.core.facts.view_script import VIEW_SNIPPETS

    monkeypatch.setenv("KCLI_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(dockerapi, "SOCKET", "/run/kcli-no-such-docker.sock")
    first, stats = _observe(sb, VIEW_SNIPPETS)
    assert all(s.api_exchanges == 0 and s.round_trips == 2 for s in stats.values()), stats  # script, then the CLI part
    assert all(view_from_sections(first).dns_running.values())
    again, stats = _observe(sb, VIEW_SNIPPETS)
    assert all(s.api_exchanges == 0 and s.round_trips == 1 for s in stats.values()), stats  # remembered
    assert view_from_sections(again).pods == view_from_sections(first).pods
    assert len(list((tmp_path / "home" / "cache" / "docker-api-off").iterdir())) == 3


def test_a_channel_sshd_prohibits_is_remembered(sb, tmp_path, monkeypatch):
    """`AllowStreamLocalForwarding no` on a node: its observation reads docker through the CLI, and
    the next command goes to the CLI at once (one round trip), while the other nodes keep the API."""
    from kcli.core.cluster import view_from_sections
    from kcli.core.facts.view_script import VIEW_SNIPPETS

    node1 = sb.testinfra()["node1"]
    conf = "/etc/ssh/sshd_config.d/zz-kcli-test.conf"
    reload = "kill -HUP $(cat /run/sshd.pid) && sleep 1"
    monkeypatch.setenv("KCLI_HOME", str(tmp_path / "home"))
    node1.check_output(f"echo 'AllowStreamLocalForwarding no' > {conf} && {reload}")
    try:
        first, stats = _observe(sb, VIEW_SNIPPETS)
        assert (stats["node1"].round_trips, stats["node1"].api_exchanges) == (2, 0), stats
        assert all(s.round_trips == 1 and s.api_exchanges >= 1 for n, s in stats.items() if n != "node1"), stats
        again, stats = _observe(sb, VIEW_SNIPPETS)
        assert (stats["node1"].round_trips, stats["node1"].api_exchanges) == (1, 0), stats  # remembered
        assert view_from_sections(again).pods == view_from_sections(first).pods
        assert len(list((tmp_path / "home" / "cache" / "docker-api-off").iterdir())) == 1
    finally:
        node1.check_output(f"rm -f {conf} && {reload}")
