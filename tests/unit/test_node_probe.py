"""get nodes on a bootstrapped node: docker's answer read from the pod network probe, the version
from the last bootstrap's record (one docker CLI call per node, not two)."""

from __future__ import annotations

from kcli.core.facts.node import NODE_SNIPPETS, NODE_SNIPPETS_BOOTSTRAPPED, NodeFacts, docker_from_podnet
from kcli.core.facts.sections import Section
from kcli.shell.state_hooks import recorded_docker_versions
from kcli.shell.statestore import StateStore

FACTS = NodeFacts(hostname="n1", docker_error="docker not probed")


def test_the_bootstrapped_probe_asks_docker_once():
    assert "docker" in NODE_SNIPPETS and "docker" not in NODE_SNIPPETS_BOOTSTRAPPED
    assert set(NODE_SNIPPETS) - set(NODE_SNIPPETS_BOOTSTRAPPED) == {"docker"}


def test_docker_answers_when_the_pod_network_was_read():
    f = docker_from_podnet(FACTS, Section("[{}]", 0), "24.0.7")
    assert (f.docker_version, f.docker_error) == ("24.0.7", None)


def test_a_missing_pod_network_is_drift_not_a_docker_failure():
    f = docker_from_podnet(FACTS, Section("Error: No such network: kcli-pods", 1), None)
    assert (f.docker_version, f.docker_error) == ("unknown", None)


def test_docker_not_answering_is_its_error():
    msg = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
    f = docker_from_podnet(FACTS, Section(msg, 1), "24.0.7")
    assert (f.docker_version, f.docker_error) == (None, msg)
    assert docker_from_podnet(FACTS, None, "24.0.7").docker_error == "docker not probed"


def test_recorded_versions_come_from_the_state(tmp_path):
    store = StateStore(tmp_path / "st", "c")
    nodes = {
        "n1": {"facts": {"containerRuntime": "docker://24.0.7"}},
        "n2": {"facts": {"containerRuntime": "<unknown>"}},
        "n3": {},
    }
    store.save({**store.load(), "nodes": nodes}, "nodes")
    assert recorded_docker_versions(store) == {"n1": "24.0.7"}
