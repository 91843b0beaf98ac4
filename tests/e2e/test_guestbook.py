"""Issue 12, item 4: a stateful app end to end. The guestbook demo (manifests/demo/guestbook.yaml: a
busybox CGI frontend behind a NodePort, Redis built here from Debian packages, its data on a
local-path claim) keeps its entries across a deletion of the Redis pod and a reboot of its node."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from .conftest import bootstrapped_sandbox

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
GUESTBOOK = str(ROOT / "manifests" / "demo" / "guestbook.yaml")
NODE_PORT = 30082
URL = f"http://{{address}}:{NODE_PORT}/cgi-bin/guestbook"


@pytest.fixture(scope="module")
def sb(kcli):
    yield from bootstrapped_sandbox(kcli, "e2e-guestbook")


def redis_pod(sb) -> dict:
    items = json.loads(sb("get", "pods", "-n", "guestbook", "-l", "app=redis", "-o", "json").stdout)["items"]
    (pod,) = [p for p in items if p["status"]["phase"] == "Running"]
    return pod


def http_get(address: str, query: str = "") -> str:
    url = URL.format(address=address) + (f"?{query}" if query else "")
    return urllib.request.urlopen(url, timeout=15).read().decode()


def write(sb, msg: str, timeout: float = 30) -> str:
    """One entry through node1's NodePort; retried only when nothing reached Redis (no connection)."""
    address = next(iter(sb.hosts().values()))["address"]
    deadline = time.monotonic() + timeout
    while True:
        try:
            body = http_get(address, urllib.parse.urlencode({"msg": msg})).strip()
        except (ConnectionError, TimeoutError, urllib.error.URLError) as exc:
            body = f"request failed: {exc}"
        if body != "error: redis answered: nothing" and not body.startswith("request failed"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(2)


def entries_everywhere(sb, expected: list[str], timeout: float = 90) -> None:
    """The list read through the NodePort of every node equals expected (retried while Redis or the
    frontends come back: a replaced pod replays its append-only file, endpoints follow readiness)."""
    deadline = time.monotonic() + timeout
    for name, h in sb.hosts().items():
        while True:
            try:
                body = http_get(h["address"])
            except OSError as exc:
                body = f"request failed: {exc}"
            if body.splitlines() == expected:
                break
            assert time.monotonic() < deadline, (name, body)
            time.sleep(2)


def test_the_guestbook_keeps_its_entries_across_a_redis_pod_deletion_and_a_node_reboot(sb):
    # the Redis image: built here once from Debian packages (cached by content hash), shipped to nodes
    loaded = sb("image", "load", "kcli.local/redis:7").stdout
    assert [ln.split()[1] for ln in loaded.splitlines()[1:]] == ["loaded"] * 3, loaded
    again = sb("image", "load", "kcli.local/redis:7").stdout
    assert [ln.split()[1] for ln in again.splitlines()[1:]] == ["unchanged"] * 3, again

    sb("apply", "-f", GUESTBOOK)
    claims = sb("get", "pvc", "-n", "guestbook").stdout.splitlines()
    assert claims[1].split()[:2] == ["redis-data", "Bound"] and claims[1].split()[3:6] == [
        "1Gi",
        "RWO",
        "local-path",
    ], claims
    volume = claims[1].split()[2]
    entries_everywhere(sb, [])

    assert write(sb, "hello from kcli") == "added entry 1: hello from kcli"
    # user input: only [A-Za-z0-9 _.-] reaches Redis (as a RESP bulk string of the right length)
    assert write(sb, "second; rm -rf / $(id) `x`\r\n*1") == "added entry 2: second rm -rf  id x1"
    expected = ["hello from kcli", "second rm -rf  id x1"]
    entries_everywhere(sb, expected)

    first = redis_pod(sb)
    node = first["spec"]["nodeName"]
    host = sb.testinfra()[node]
    data_dir = f"/opt/local-path-provisioner/{volume}_guestbook_redis-data"
    assert host.file(f"{data_dir}/appendonlydir").is_directory  # Redis's append-only file, on the claim

    # deleting the database pod: its Deployment replaces it, on the claim's node, with the same data
    assert "deleted" in sb("delete", "pod", first["metadata"]["name"], "-n", "guestbook").stdout
    second = redis_pod(sb)
    assert second["metadata"]["name"] != first["metadata"]["name"] and second["spec"]["nodeName"] == node
    entries_everywhere(sb, expected)

    # a reboot of the database's node: bootstrap restores its overlay (as in the tutorial), the next
    # apply its pods (each retried while the node's sshd and docker come back)
    sb.kcli("sandbox", "stop-node", node, "--name", sb.name)
    sb.kcli("sandbox", "start-node", node, "--name", sb.name)
    for step in (("bootstrap",), ("apply", "-f", GUESTBOOK)):
        deadline = time.monotonic() + 120
        while sb(*step, check=False).returncode != 0:
            assert time.monotonic() < deadline, f"kcli {step[0]} did not succeed after the node restart"
            time.sleep(3)
    after = redis_pod(sb)
    assert after["spec"]["nodeName"] == node
    entries_everywhere(sb, expected)
    assert write(sb, "after the reboot") == "added entry 3: after the reboot"
    entries_everywhere(sb, [*expected, "after the reboot"])

    sb("delete", "-f", GUESTBOOK)
