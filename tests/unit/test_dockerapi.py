"""The docker API's part of an observation (kcli.core.facts.dockerapi): the HTTP/1.1 reader and the
sections built from dockerd's answers, which must read as the CLI snippets' output does."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from kcli.core.cluster import view_from_sections
from kcli.core.facts.dockerapi import (
    DNS,
    LIST_MANAGED,
    NETWORK,
    HttpError,
    Response,
    first_requests,
    parse_response,
    request,
    section,
    served,
    then_requests,
)
from kcli.core.facts.host import parse_host_facts
from kcli.core.facts.sections import Section
from kcli.core.facts.view_script import PODNET_SNIPPET, PODS_SNIPPET, VIEW_SNIPPETS
from kcli.core.inventory import Host


def http(status: int, body: bytes, *, chunked: bool = False, reason: str = "OK") -> bytes:
    if not chunked:
        return f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    chunks = b"".join(
        f"{len(body[i : i + 7]):x}\r\n".encode() + body[i : i + 7] + b"\r\n" for i in range(0, len(body), 7)
    )
    return f"HTTP/1.1 {status} {reason}\r\nTransfer-Encoding: chunked\r\n\r\n".encode() + chunks + b"0\r\n\r\n"


def test_a_request_is_one_http11_get_kept_open():
    raw = request("/networks/kcli-pods")
    assert raw.startswith(b"GET /networks/kcli-pods HTTP/1.1\r\n") and raw.endswith(b"\r\n\r\n")
    assert b"Connection: close" not in raw and b"Host: docker" in raw


@pytest.mark.parametrize("chunked", [False, True])
def test_pipelined_responses_are_read_in_order_however_the_bytes_arrive(chunked):
    stream = http(200, b'{"a": 1}', chunked=chunked) + http(404, b'{"message": "gone"}', chunked=chunked)
    for cut in range(len(stream)):  # every way of splitting the stream into two reads
        buf, got = stream[:cut], []
        rest = stream[cut:]
        while len(got) < 2:
            parsed = parse_response(buf)
            if parsed is None:
                assert rest, "complete stream not parsed"
                buf, rest = buf + rest, b""
                continue
            got.append(parsed[0])
            buf = parsed[1]
        assert [r.status for r in got] == [200, 404]
        assert got[0].json() == {"a": 1} and got[1].message() == "gone"
        assert buf == b""


def test_chunked_trailers_and_bodiless_statuses():
    body = b"4\r\nabcd\r\n0\r\nX-Trailer: 1\r\n\r\nnext"
    parsed = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    assert parsed is not None and parsed[0].body == b"abcd" and parsed[1] == b"next"
    parsed = parse_response(b"HTTP/1.1 204 No Content\r\n\r\nrest")
    assert parsed is not None and parsed[0] == Response(204, b"") and parsed[1] == b"rest"


def test_the_server_header_is_kept():
    parsed = parse_response(b"HTTP/1.1 200 OK\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\nContent-Length: 2\r\n\r\nOK")
    assert parsed is not None and parsed[0] == Response(200, b"OK", "Docker/20.10.24+dfsg1 (linux)")


def test_a_body_without_length_ends_with_the_connection():
    raw = b"HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\npartial"
    assert parse_response(raw) is None
    parsed = parse_response(raw, eof=True)
    assert parsed is not None and parsed[0] == Response(500, b"partial")


@pytest.mark.parametrize(
    "raw",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_what_is_not_http_is_refused(raw):
    with pytest.raises(HttpError):
        parse_response(raw)


@pytest.mark.parametrize("raw", [b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", b"HTTP/1.1 200", b""])
def test_a_response_cut_short_is_an_error_at_eof(raw):
    assert parse_response(raw) is None
    with pytest.raises(HttpError):
        parse_response(raw, eof=True)


def test_only_the_snippets_it_can_answer_go_to_the_api():
    snippets = {**VIEW_SNIPPETS, "podnet": PODNET_SNIPPET, "other": "docker ps"}
    assert served(snippets) == {"pods": "pods", "podnet": "podnet"}
    assert served({"pods": PODS_SNIPPET + " "}) == {}  # an edited snippet stays in the script


def container(cid: str, name: str, ip: str, running: bool = True) -> dict:
    labels = {
        "io.kcli.managed": "true",
        "io.kcli.pod": name,
        "io.kcli.namespace": "default",
        "io.kcli.container": "app",
        "io.kcli.type": "container",
        "io.kcli.layout": "single",
        "io.kcli.containers": "app",
        "io.kcli.spec-hash": "1",
        "io.kcli.pod-uid": "uid-" + name,
    }
    return {
        "Id": cid,
        "Name": "/k8s_app_" + name,
        "Config": {"Labels": labels, "Image": "busybox"},
        "State": {
            "Running": running,
            "Status": "running" if running else "exited",
            "StartedAt": "2026-01-01T00:00:00Z",
        },
        "RestartCount": 0,
        "NetworkSettings": {"Networks": {"kcli-pods": {"IPAddress": ip}}},
    }


def test_the_pods_section_reads_as_docker_inspect_of_network_dns_and_containers():
    net = {"Name": "kcli-pods", "IPAM": {}, "Containers": {"x": {"IPv4Address": "10.244.1.5/24"}}}
    c1, c2 = container("a" * 64, "web-1", "10.244.1.5"), container("b" * 64, "web-2", "10.244.1.6")
    listed = Response(200, json.dumps([{"Id": c1["Id"]}, {"Id": c2["Id"]}, {"Id": "../x"}]).encode())
    first = [listed, Response(200, json.dumps(net).encode()), Response(404, b'{"message": "No such container"}')]
    assert first_requests("pods") == [LIST_MANAGED, NETWORK, DNS]
    assert then_requests("pods", first) == [f"/containers/{'a' * 64}/json", f"/containers/{'b' * 64}/json"]
    then = [Response(200, json.dumps(c1).encode()), Response(404, b"{}")]  # c2 removed in between: left out
    api = section("pods", first, then)
    cli = Section(json.dumps([net, c1], indent=4), 0)  # what `docker inspect kcli-pods kcli-dns $ids` printed
    assert api.rc == 0
    by_api = view_from_sections({"n1": {"pods": api}})
    by_cli = view_from_sections({"n1": {"pods": cli}})
    assert by_api.pods == by_cli.pods and [p.name for p in by_api.pods["n1"]] == ["web-1"]
    assert by_api.used_ips == by_cli.used_ips == {"n1": {"10.244.1.5"}}


def test_a_failed_list_is_docker_not_answering():
    first = [Response(500, b'{"message": "daemon is shutting down"}'), Response(200, b"{}"), Response(200, b"{}")]
    assert then_requests("pods", first) == []
    sec = section("pods", first, [])
    assert sec.rc != 0 and "daemon is shutting down" in sec.text
    view = view_from_sections({"n1": {"pods": sec}})
    assert view.facts["n1"].docker_error and "daemon is shutting down" in view.facts["n1"].docker_error


def test_the_podnet_section_reads_as_docker_network_inspect():
    net = {"Name": "kcli-pods", "IPAM": {"Config": [{"Subnet": "10.244.1.0/24"}]}}
    ok = section("podnet", [Response(200, json.dumps(net).encode())], [])
    assert ok.rc == 0 and parse_host_facts({"podnet": ok}).pod_network == net
    missing = section("podnet", [Response(404, b'{"message": "network kcli-pods not found"}')], [])
    assert missing.rc == 1 and "No such network" in missing.text  # overlay drift, not a docker failure
    assert parse_host_facts({"podnet": missing}).pod_network is None
    broken = section("podnet", [Response(500, b'{"message": "boom"}')], [])
    assert broken.rc == 1 and "boom" in broken.text and "No such network" not in broken.text


def test_hosts_reached_through_sudo_keep_to_the_cli_and_a_refusal_is_remembered(monkeypatch, tmp_path: Path):
    from kcli.shell.dockerapi import known_off, remember_off

    monkeypatch.setenv("KCLI_HOME", str(tmp_path))
    assert known_off(Host(name="a", address="10.0.0.1", user="deploy", sudo=True))
    root = Host(name="b", address="10.0.0.2")
    assert not known_off(root)
    remember_off(root)
    assert known_off(root) and not known_off(Host(name="c", address="10.0.0.3"))


def test_the_api_client_reads_pipelined_answers_from_a_stream(monkeypatch):
    """DockerApi over a socket pair: the requests go out together, the answers come back in
    order, split into small writes and chunked, as dockerd sends them."""
    from kcli.shell.dockerapi import ApiUnavailable, DockerApi

    ours, theirs = socket.socketpair()
    got = bytearray()

    def server() -> None:
        while got.count(b"\r\n\r\n") < 2:
            got.extend(theirs.recv(4096))
        out = http(200, b'{"one": 1}', chunked=True) + http(200, b'{"two": 2}')
        for i in range(0, len(out), 5):
            theirs.sendall(out[i : i + 5])
        theirs.close()

    thread = threading.Thread(target=server)
    thread.start()
    api = DockerApi(ours, timeout=5)  # type: ignore[arg-type]  # a socket stands in for the SSH channel
    answers = api.get(["/one", "/two"])
    thread.join()
    assert [a.json() for a in answers] == [{"one": 1}, {"two": 2}]
    assert got.startswith(b"GET /one HTTP/1.1\r\n") and b"GET /two HTTP/1.1\r\n" in got
    assert api.exchanges == 1
    with pytest.raises(ApiUnavailable):  # the other end is gone
        api.get(["/three"])


class _RefusedConn:
    """The parts of SshConnection that read_sections uses, for a host whose sshd refused the
    channel (the SSH side of that is tested on the sandbox, tests/e2e/test_engine.py)."""

    def __init__(self, host: Host) -> None:
        from kcli.shell.transport import HostStats

        self.host, self.stats, self.docker_api_refused = host, HostStats(), True

    def connect(self) -> None:
        pass

    def docker_api_off(self) -> bool:
        return False

    def docker_api(self) -> None:
        return None

    def docker_api_failed(self, exc: BaseException) -> None:
        pass


@pytest.mark.parametrize("docker_answers", [True, False])
def test_a_refusal_is_remembered_only_when_docker_answered_the_cli(monkeypatch, tmp_path: Path, docker_answers):
    """Forwarding disabled (docker answers the CLI): remembered. dockerd down (the CLI fails too,
    and OpenSSH refuses the channel with the same reason code): asked again next time."""
    from kcli.shell.dockerapi import known_off, read_sections

    monkeypatch.setenv("KCLI_HOME", str(tmp_path))
    host = Host(name="a", address="10.0.0.9")
    runs: list[dict] = []

    def run_script(snippets):
        runs.append(dict(snippets))
        return {
            n: Section("[]" if docker_answers else "Cannot connect to the Docker daemon", 0 if docker_answers else 1)
            for n in snippets
        }

    got = read_sections(_RefusedConn(host), {"pods": PODS_SNIPPET, "now": "date +%s"}, run_script)  # type: ignore[arg-type]
    assert runs == [{"now": "date +%s"}, {"pods": PODS_SNIPPET}]  # the script without the API's part, then that part
    assert set(got) == {"pods", "now"}
    assert known_off(host) is docker_answers
