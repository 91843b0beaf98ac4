"""get nodes' docker facts: `docker version --format '{{json .Server}}'` or, over the node's socket,
dockerd's /version answer, read the same way (kcli.core.facts.node, kcli.core.facts.dockerapi)."""

from __future__ import annotations

import json

from kcli.core.facts.dockerapi import PING, VERSION, Response, first_requests, section, served, then_requests
from kcli.core.facts.node import NODE_SNIPPETS, parse_node_facts
from kcli.core.facts.sections import Section

SERVER = {"Version": "20.10.24+dfsg1", "ApiVersion": "1.41", "Os": "linux", "Arch": "amd64"}


def test_every_node_probe_asks_docker_and_the_api_answers_it():
    assert served(NODE_SNIPPETS) == {"docker": "version"}
    assert first_requests("version") == [PING]


def test_the_version_comes_from_the_ping_header_and_reads_as_the_cli_output():
    by_cli = parse_node_facts({"docker": Section(json.dumps(SERVER), 0)})
    ping = Response(200, b"OK", "Docker/20.10.24+dfsg1 (linux)")
    assert then_requests("version", [ping]) == []  # /version (runc, docker-init spawned) not needed
    by_api = parse_node_facts({"docker": section("version", [ping], [])})
    assert by_api == by_cli and by_api.container_runtime == "docker://20.10.24+dfsg1" and not by_api.docker_error


def test_without_the_header_the_daemon_version_is_asked():
    ping = Response(200, b"OK", "")
    assert then_requests("version", [ping]) == [VERSION]
    by_api = parse_node_facts({"docker": section("version", [ping], [Response(200, json.dumps(SERVER).encode())])})
    assert by_api.docker_version == "20.10.24+dfsg1"


def test_docker_not_answering_is_its_error():
    msg = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
    assert parse_node_facts({"docker": Section(msg, 1)}).docker_error == msg
    failed = section("version", [Response(500, b'{"message": "starting up"}')], [])
    assert then_requests("version", [Response(500, b"")]) == []
    facts = parse_node_facts({"docker": failed})
    assert facts.docker_version is None and facts.docker_error == "Error response from daemon: starting up"
    assert parse_node_facts({}).docker_error == "docker not probed"
