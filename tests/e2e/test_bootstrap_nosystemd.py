"""Issue 3 on nodes without systemd (plain entrypoint, dockerd supervised by a loop)."""

from __future__ import annotations

import pytest

from kcli.shell.localimages import build_busybox

from .conftest import fetch_from_pod, make_sandbox, start_web_container

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sb(kcli):
    sandbox = make_sandbox(kcli, "e2e-nosd", 2, init="none")
    try:
        build_busybox()
        sandbox("image", "load", "kcli.local/busybox:1")
        yield sandbox
    finally:
        sandbox.down()


def test_bootstrap_without_systemd(sb):
    hosts = sb.testinfra()
    assert hosts["node1"].run("test -d /run/systemd/system").rc != 0
    pid_before = hosts["node1"].check_output("cat /var/run/docker.pid")
    sb("bootstrap")
    assert hosts["node1"].check_output("cat /var/run/docker.pid") != pid_before  # daemon.json applied by a restart
    assert '"max-size": "10m"' in hosts["node1"].file("/etc/docker/daemon.json").content_string
    ip2 = start_web_container(hosts["node2"], "web-b")
    ip1 = start_web_container(hosts["node1"], "web-a")
    assert fetch_from_pod(hosts["node1"], f"http://{ip2}/cgi-bin/who").split()[0] == "web-b"
    assert fetch_from_pod(hosts["node2"], f"http://{ip1}/cgi-bin/who").split()[0] == "web-a"
    pid = hosts["node1"].check_output("cat /var/run/docker.pid")
    assert "bootstrap: 0 change(s)" in sb("bootstrap").stderr
    assert hosts["node1"].check_output("cat /var/run/docker.pid") == pid
    sb("reset", "--all", "--yes")
    assert not hosts["node1"].file("/etc/docker/daemon.json").exists
    sb("image", "load", "kcli.local/busybox:1")


def test_host_gw_backend(sb):
    """Same L2 segment: routes via the peers' addresses instead of vxlan."""
    out = sb("bootstrap", "--backend", "host-gw").stderr
    assert "state committed" in out
    hosts = sb.testinfra()
    assert not hosts["node1"].interface("flannel.1").exists
    addr2 = sb.hosts()["node2"]["address"]
    assert f"via {addr2} dev" in hosts["node1"].check_output("ip route")
    ip2 = start_web_container(hosts["node2"], "web-b2")
    assert fetch_from_pod(hosts["node1"], f"http://{ip2}/cgi-bin/who").split()[0] == "web-b2"
    assert "bootstrap: 0 change(s)" in sb("bootstrap").stderr
