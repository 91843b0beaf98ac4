"""kcli-probe (kcli/assets/pause/probe.c), compiled here and run against a local HTTP server on
loopback, as dockerd's healthcheck runs it in a pod: kubelet's thresholds, the startup gate, headers."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "kcli" / "assets" / "pause" / "probe.c"
seen_headers: list[dict] = []


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        seen_headers.append(dict(self.headers))
        self.send_response(200 if self.path.startswith("/ok") else 503)
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("probe") / "kcli-probe"
    subprocess.run([cc, "-O1", "-Wall", "-o", str(out), str(SRC)], check=True)
    return out


@pytest.fixture(scope="module")
def server():
    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(probe, state, *words) -> tuple[int, dict]:
    res = subprocess.run([str(probe), str(state), *map(str, words)], capture_output=True, text=True, timeout=10)
    return res.returncode, json.loads(res.stdout)["containers"]


def spec(kind, port, path="/ok", success=1, failure=3, period=1, delay=0, headers="-", type_="http", container="app"):
    return [kind, container, type_, port, path, 1, period, delay, success, failure, headers]


def test_ready_after_success_threshold_and_not_after_failure_threshold(probe, server, tmp_path):
    state = tmp_path / "s"
    rc, out = run(probe, state, *spec("r", server, success=2))
    assert rc == 1 and out == {"app": {"ready": False, "failure": ""}}  # one success of 2
    time.sleep(0.6)
    rc, out = run(probe, state, *spec("r", server, success=2))
    assert rc == 0 and out["app"]["ready"]
    for _ in range(2):  # the page now fails: still ready until 3 failures in a row
        time.sleep(0.6)
        rc, out = run(probe, state, *spec("r", server, path="/fail", success=2))
        assert rc == 0
    time.sleep(0.6)
    rc, out = run(probe, state, *spec("r", server, path="/fail", success=2))
    assert rc == 1 and out["app"] == {"ready": False, "failure": "HTTP probe failed with statuscode: 503"}


def test_probes_run_at_their_period_after_their_initial_delay(probe, server, tmp_path):
    state = tmp_path / "s"
    rc, out = run(probe, state, *spec("r", server, delay=1))
    assert rc == 1  # inside the initial delay: not probed, not ready
    time.sleep(1.1)
    assert run(probe, state, *spec("r", server, delay=1))[0] == 0


def test_a_startup_probe_gates_readiness_and_tcp_failures_are_reported(probe, server, tmp_path):
    state = tmp_path / "s"
    port = closed_port()
    rc, out = run(probe, state, *spec("s", port, type_="tcp", failure=30), *spec("r", server))
    assert rc == 1 and out["app"]["failure"] == f"dial tcp 127.0.0.1:{port}: Connection refused"
    # once the startup probe passes, readiness is probed (in the same run, as it comes after it)
    assert run(probe, tmp_path / "s2", *spec("s", server, type_="tcp"), *spec("r", server))[0] == 0


def test_headers_reach_the_server_and_every_container_is_reported(probe, server, tmp_path):
    seen_headers.clear()
    rc, out = run(
        probe,
        tmp_path / "s",
        *spec("r", server, headers="X-Probe: yes\nX-Other: 2"),
        *spec("r", server, path="/fail", container="side", failure=1),
    )
    assert rc == 1 and out["app"]["ready"] and not out["side"]["ready"]
    assert any(
        h.get("X-Probe") == "yes" and h.get("X-Other") == "2" and h.get("User-Agent", "").startswith("kube-probe/")
        for h in seen_headers
    )


def test_bad_arguments_exit_2(probe, tmp_path):
    assert subprocess.run([str(probe), str(tmp_path / "s"), "r"], capture_output=True).returncode == 2


@pytest.fixture
def container(tmp_path):
    """A process standing for the container "app": KCLI_CONTAINER=app in its environment."""
    proc = subprocess.Popen(["sleep", "60"], env={"KCLI_CONTAINER": "app", "PATH": "/usr/bin:/bin"})
    yield proc
    proc.kill()
    proc.wait()


@pytest.mark.skipif(
    not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() != 0,
    reason="an exec probe chroots into the container's root: root only",
)
def test_an_exec_probe_runs_in_the_containers_root_and_liveness_kills_it(probe, tmp_path, container):
    flag = tmp_path / "healthy"
    flag.write_text("ok")
    check = f"test\x1f-e\x1f{flag}"  # words separated by \x1f
    rc, out = run(
        probe,
        tmp_path / "s",
        *spec("l", 0, path=check, type_="exec", failure=2),
        *spec("r", 0, path=check, type_="exec"),
    )
    assert rc == 0 and out["app"]["ready"] and container.poll() is None
    flag.unlink()
    time.sleep(0.6)
    rc, out = run(
        probe,
        tmp_path / "s",
        *spec("l", 0, path=check, type_="exec", failure=2),
        *spec("r", 0, path=check, type_="exec", failure=1),
    )
    assert rc == 1 and out["app"]["failure"].startswith("command exited with 1") and container.poll() is None
    time.sleep(0.6)  # the second liveness failure in a row: the container is killed
    rc, out = run(
        probe,
        tmp_path / "s",
        *spec("l", 0, path=check, type_="exec", failure=2),
        *spec("r", 0, path=check, type_="exec", failure=1),
    )
    assert "container killed: liveness probe failed 2 times" in out["app"]["failure"]
    assert container.wait(timeout=5) == -9
