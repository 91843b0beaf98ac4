"""kcli.core.facts.pods: kcli's pods re-read from one ``docker inspect`` of every managed container.

``fixtures/pods/running.json`` is a full-shaped (hand-written) ``docker inspect`` of a running pod;
the other cases are built inline with ``ctr()``, which keeps only the fields the parser reads.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kcli.core.controllers.pod import ObservedPod, OwnerRef
from kcli.core.facts.pods import (
    PODS_SNIPPET,
    ContainerView,
    container_running,
    inspected,
    parse_pods,
    parse_time,
    pod_network_ips,
)
from kcli.core.facts.sections import Section
from kcli.core.scheduler import HostPort

FIXTURES = Path(__file__).parent / "fixtures" / "pods"
ZERO = "0001-01-01T00:00:00Z"
T0 = "2024-05-01T12:00:00.000000000Z"


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def ctr(
    kind: str,
    name: str,
    status: str = "running",
    *,
    uid: str = "uid-1",
    exit_code: int = 0,
    restarts: int = 0,
    started: str = "2024-05-01T12:00:01Z",
    finished: str = ZERO,
    restarting: bool = False,
    ip: str = "",
    labels: dict | None = None,
    pod: str = "web",
    ns: str = "default",
) -> dict:
    lab = {
        "io.kcli.managed": "true",
        "io.kcli.pod-uid": uid,
        "io.kcli.type": kind,
        "io.kcli.container": name,
        "io.kcli.pod": pod,
        "io.kcli.namespace": ns,
        "io.kcli.applied": f"Pod/{pod}",
        "io.kcli.spec-hash": "h1",
    }
    lab.update(labels or {})
    doc = {
        "Id": f"{name}-0123456789abcdef",
        "Created": "2024-05-01T12:00:00Z",
        "RestartCount": restarts,
        "State": {
            "Status": "restarting" if restarting else status,
            "Running": status == "running",
            "Restarting": restarting,
            "ExitCode": exit_code,
            "StartedAt": started,
            "FinishedAt": finished,
        },
        "Config": {"Image": "busybox:1.36", "Labels": lab},
        "NetworkSettings": {"Networks": {"kcli-pods": {"IPAddress": ip}} if ip else {}},
    }
    return doc


def sandbox(
    *,
    apps: str = "app",
    inits: str = "",
    policy: str = "Always",
    status: str = "running",
    started: str = "2024-05-01T12:00:00Z",
    labels: dict | None = None,
    **kw,
) -> dict:
    return ctr(
        "sandbox",
        "POD",
        status,
        started=started,
        ip="10.244.1.7",
        labels={
            "io.kcli.containers": apps,
            "io.kcli.init-containers": inits,
            "io.kcli.restart-policy": policy,
            **(labels or {}),
        },
        **kw,
    )


def parse(*docs: dict, node: str = "node1"):
    return parse_pods(node, Section(json.dumps(list(docs)), 0))


def one(*docs: dict):
    (pod,) = parse(*docs)
    return pod


def state(pod) -> tuple:
    """(kubectl STATUS, controller state, exit code, detail)."""
    return pod.status, pod.observed.state, pod.observed.exit_code, pod.observed.detail


# --------------------------------------------------------------------------- parse_time


class TestParseTime:
    def test_nanoseconds_are_truncated_to_microseconds(self):
        assert parse_time("2024-05-01T12:00:00.123456789Z") == ts("2024-05-01T12:00:00.123456+00:00")

    def test_offsets_and_no_fraction(self):
        assert parse_time("2024-05-01T14:00:00+02:00") == ts("2024-05-01T12:00:00+00:00")
        assert parse_time("2024-05-01T12:00:00.5Z") == ts("2024-05-01T12:00:00.5+00:00")
        assert parse_time("2024-05-01T12:00:00Z") == datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp()

    @pytest.mark.parametrize("value", [ZERO, "0001-01-01T00:00:00.000000000Z", "", "yesterday", "2024-05-01 12:00:00"])
    def test_zero_empty_and_garbage_are_zero(self, value):
        assert parse_time(value) == 0.0


# --------------------------------------------------------------------------- the fixture


class TestRunningFixture:
    def test_full_docker_inspect(self):
        (pod,) = parse_pods("node1", Section((FIXTURES / "running.json").read_text(), 0))
        assert (pod.namespace, pod.name, pod.node, pod.uid, pod.ip) == (
            "prod",
            "web-7d9f8-abcde",
            "node1",
            "8c1f2e3d-1111-2222-3333-444455556666",
            "10.244.1.7",
        )
        assert (pod.status, pod.ready, pod.total, pod.restarts) == ("Running", 1, 1, 2)
        assert pod.created_at == ts("2024-05-01T12:00:00.100000+00:00")
        assert pod.labels == {"app": "web", "pod-template-hash": "7d9f8"}
        assert (pod.applied, pod.owner, pod.spec_hash, pod.restart_policy) == (
            "Deployment/web",
            "ReplicaSet/web-7d9f8",
            "a1b2c3d4e5",
            "Always",
        )
        assert pod.requests == {"cpu": 100, "memory": 67108864}
        assert pod.ports == ({"name": "http", "containerPort": 80, "protocol": "TCP"},)
        assert pod.containers == (
            ContainerView(
                "POD",
                "sandbox",
                "kcli.local/pause:3.10",
                "running",
                0,
                0,
                ts("2024-05-01T12:00:00.5+00:00"),
                0.0,
                "3f1c0a9b8e7d",
            ),
            ContainerView(
                "httpd",
                "container",
                "busybox:1.36",
                "running",
                0,
                2,
                ts("2024-05-01T12:00:01.25+00:00"),
                ts("2024-05-01T11:59:00+00:00"),
                "9e8d7c6b5a4f",
            ),
        )
        assert pod.observed == ObservedPod(
            namespace="prod",
            name="web-7d9f8-abcde",
            node="node1",
            applied=OwnerRef("Deployment", "web"),
            owner=OwnerRef("ReplicaSet", "web-7d9f8"),
            spec_hash="a1b2c3d4e5",
            state="running",
            exit_code=None,
            restart_count=2,
            ready=True,
            created_at=ts("2024-05-01T12:00:00.100000+00:00"),
            detail="",
            labels={"app": "web", "pod-template-hash": "7d9f8"},
            cpu_milli=100,
            memory=67108864,
            host_ports=(HostPort(8080, "TCP", ""),),
        )


# --------------------------------------------------------------------------- pod states


class TestStates:
    def test_running(self):
        pod = one(sandbox(apps="a,b"), ctr("container", "b"), ctr("container", "a", restarts=1))
        assert state(pod) == ("Running", "running", None, "")
        assert (pod.ready, pod.total, pod.restarts, pod.observed.ready) == (2, 2, 1, True)
        assert [c.name for c in pod.containers] == ["POD", "b", "a"]  # as docker listed them
        assert pod.ip == "10.244.1.7"

    def test_restarting_is_crash_loop_back_off(self):
        pod = one(sandbox(), ctr("container", "app", "running", restarting=True, exit_code=1, restarts=4))
        assert state(pod) == ("CrashLoopBackOff", "restarting", None, "docker is restarting a container")
        assert pod.containers[1].status == "restarting"
        assert (pod.ready, pod.restarts, pod.observed.ready) == (0, 4, False)

    def test_sandbox_missing_is_broken(self):
        pod = one(ctr("container", "app"))
        assert state(pod) == ("Unknown", "broken", None, "sandbox container is gone")
        assert pod.ip == "" and pod.total == 1  # expected containers fall back to those found

    def test_sandbox_stopped_is_broken(self):
        pod = one(sandbox(status="exited"), ctr("container", "app"))
        assert state(pod) == ("Unknown", "broken", None, "sandbox is exited")

    def test_app_container_missing_is_broken(self):
        pod = one(sandbox(apps="a,b,c"), ctr("container", "b"))
        assert state(pod) == ("Unknown", "broken", None, "container a, c is gone")
        assert (pod.ready, pod.total, pod.observed.ready) == (1, 3, False)

    def test_app_started_before_the_sandbox_restarted_is_broken(self):
        pod = one(sandbox(started="2024-05-01T13:00:00Z"), ctr("container", "app", started="2024-05-01T12:00:01Z"))
        assert state(pod) == (
            "Unknown",
            "broken",
            None,
            "container app is attached to a network namespace that no longer exists",
        )

    def test_one_second_of_slack_is_allowed(self):
        pod = one(sandbox(started="2024-05-01T12:00:01.900Z"), ctr("container", "app", started="2024-05-01T12:00:01Z"))
        assert state(pod)[:2] == ("Running", "running")

    @pytest.mark.parametrize(
        ("policy", "code", "expected"),
        [
            ("Never", 0, ("Completed", "exited", 0, "")),
            ("Never", 1, ("Error", "exited", 1, "")),
            ("OnFailure", 0, ("Completed", "exited", 0, "")),
            ("OnFailure", 3, ("Error", "broken", 3, "containers were stopped")),
            ("Always", 0, ("Completed", "broken", 0, "containers were stopped")),
            ("Always", 137, ("Error", "broken", 137, "containers were stopped")),
        ],
    )
    def test_exited(self, policy, code, expected):
        pod = one(sandbox(policy=policy), ctr("container", "app", "exited", exit_code=code, finished=T0))
        assert state(pod) == expected
        assert pod.restart_policy == policy and pod.observed.ready is False

    def test_first_non_zero_exit_code_wins(self):
        pod = one(
            sandbox(apps="a,b,c", policy="Never"),
            ctr("container", "a", "exited"),
            ctr("container", "b", "exited", exit_code=2),
            ctr("container", "c", "dead", exit_code=9),
        )
        assert state(pod) == ("Error", "exited", 2, "")

    def test_some_exited_is_not_ready(self):
        pod = one(sandbox(apps="a,b"), ctr("container", "a"), ctr("container", "b", "exited", exit_code=1))
        assert state(pod) == ("NotReady", "running", None, "some containers exited")
        assert pod.observed.ready is False

    def test_created_is_container_creating(self):
        pod = one(sandbox(apps="a,b"), ctr("container", "a"), ctr("container", "b", "created", started=ZERO))
        assert state(pod) == ("ContainerCreating", "created", None, "")

    def test_init_container_failed(self):
        pod = one(sandbox(inits="setup"), ctr("init", "setup", "exited", exit_code=1, finished=T0))
        assert state(pod) == ("Init:Error", "exited", 1, "init container setup exited 1")
        assert pod.total == 1 and pod.ready == 0

    def test_init_container_failed_with_the_sandbox_gone_too(self):
        pod = one(ctr("init", "setup", "exited", exit_code=2, labels={"io.kcli.init-containers": "setup"}))
        assert state(pod) == ("Unknown", "broken", None, "sandbox container is gone")

    def test_init_progress(self):
        pod = one(sandbox(inits="one,two,three"), ctr("init", "one", "exited"))
        assert state(pod) == ("Init:1/3", "created", None, "init containers running")

    def test_last_init_container_still_running_is_not_broken(self):
        pod = one(sandbox(inits="wait-for-db"), ctr("init", "wait-for-db", "running"))
        assert state(pod) == ("Init:0/1", "created", None, "init containers running")

    def test_init_done_apps_running(self):
        pod = one(sandbox(inits="setup"), ctr("init", "setup", "exited", finished=T0), ctr("container", "app"))
        assert state(pod) == ("Running", "running", None, "")
        assert pod.restarts == 0 and pod.total == 1


# --------------------------------------------------------------------------- grouping and bad input


class TestParsePods:
    def test_pods_are_grouped_by_uid_and_sorted(self):
        pods = parse(
            sandbox(uid="u2", pod="zeta"),
            ctr("container", "app", uid="u2", pod="zeta"),
            sandbox(uid="u1", pod="alpha", ns="prod"),
            ctr("container", "app", uid="u1", pod="alpha", ns="prod"),
            sandbox(uid="u3", pod="beta"),
            ctr("container", "app", uid="u3", pod="beta"),
            {"Config": {"Labels": {"io.kcli.managed": "true", "io.kcli.system": "dns"}}},  # kcli-dns: no pod uid
        )
        assert [(p.namespace, p.name, p.uid) for p in pods] == [
            ("default", "beta", "u3"),
            ("default", "zeta", "u2"),
            ("prod", "alpha", "u1"),
        ]
        assert all(p.node == "node1" and p.observed.node == "node1" for p in pods)

    def test_ip_falls_back_to_any_network(self):
        sb = sandbox()
        sb["NetworkSettings"]["Networks"] = {"bridge": {"IPAddress": ""}, "other": {"IPAddress": "172.17.0.5"}}
        assert one(sb, ctr("container", "app")).ip == "172.17.0.5"

    def test_bad_labels_degrade_to_empty(self):
        sb = sandbox(labels={"io.kcli.pod-labels": "{not json", "io.kcli.requests": "[", "io.kcli.owner": "noslash"})
        pod = one(sb, ctr("container", "app"))
        assert pod.labels == {} and pod.requests == {} and pod.ports == ()
        assert pod.observed.owner is None and pod.observed.cpu_milli == 0 and pod.observed.host_ports == ()

    @pytest.mark.parametrize(
        "section",
        [
            None,
            Section("[]", 0),
            Section("", 0),
            Section("not json", 0),
            Section("Cannot connect to the Docker daemon", 1),
            Section("sh: docker: not found", 127),
        ],
    )
    def test_nothing_to_parse(self, section):
        assert parse_pods("node1", section) == []

    def test_snippet_reads_only_managed_containers(self):
        assert "--filter label=io.kcli.managed=true" in PODS_SNIPPET
        assert "docker inspect kcli-pods kcli-dns $ids 2>/dev/null" in PODS_SNIPPET

    def test_the_same_inspect_gives_the_pod_networks_addresses_and_the_dns_server(self):
        network = {
            "Name": "kcli-pods",
            "IPAM": {},
            "Containers": {
                "a": {"Name": "k8s_POD_x", "IPv4Address": "10.244.1.7/24"},
                "b": {"Name": "other", "IPv4Address": "10.244.1.9/24"},
            },
        }
        dns = {"Name": "/kcli-dns", "State": {"Running": True}, "Config": {"Labels": {}}}
        items = inspected(Section(json.dumps([network, dns, sandbox(), ctr("container", "app")]), 0))
        assert pod_network_ips(items) == {"10.244.1.7", "10.244.1.9"}
        assert container_running(items, "kcli-dns")
        assert [p.name for p in parse_pods("node1", items)] == [
            "web"
        ]  # neither the network nor the DNS server is a pod
        assert not container_running([network], "kcli-dns") and pod_network_ips([dns]) == set()


def single(status: str = "running", *, policy: str = "Always", ip: str = "10.244.1.9", **kw) -> dict:
    """A pod of the single layout: its one container carries the pod's network and labels."""
    doc = ctr(
        "container",
        "app",
        status,
        ip=ip if status == "running" else "",
        labels={
            "io.kcli.layout": "single",
            "io.kcli.containers": "app",
            "io.kcli.init-containers": "",
            "io.kcli.restart-policy": policy,
            "io.kcli.pod-labels": '{"app": "web"}',
            "io.kcli.requests": '{"cpu": 100, "memory": 0}',
            "io.kcli.host-ports": '[{"port": 8080, "protocol": "TCP", "ip": ""}]',
        },
        **kw,
    )
    doc["NetworkSettings"]["Networks"].setdefault("kcli-pods", {})["IPAMConfig"] = {"IPv4Address": "10.244.1.9"}
    return doc


class TestSingleLayout:
    def test_running(self):
        pod = one(single())
        assert (pod.status, pod.ready, pod.total, pod.ip) == ("Running", 1, 1, "10.244.1.9")
        assert pod.observed.state == "running" and pod.observed.ready
        assert pod.labels == {"app": "web"} and pod.observed.cpu_milli == 100
        assert pod.observed.host_ports == (HostPort(8080, "TCP", ""),)

    def test_restarting_keeps_its_address(self):
        pod = one(single("running", restarting=True, ip=""))
        assert pod.status == "CrashLoopBackOff" and pod.ip == "10.244.1.9" and not pod.observed.ready

    @pytest.mark.parametrize(
        ("policy", "code", "state", "status"),
        [
            ("Never", 0, "exited", "Completed"),
            ("Never", 3, "exited", "Error"),
            ("OnFailure", 0, "exited", "Completed"),
            ("Always", 0, "broken", "Completed"),
            ("OnFailure", 2, "broken", "Error"),
        ],
    )
    def test_exited(self, policy, code, state, status):
        pod = one(single("exited", policy=policy, exit_code=code))
        assert (pod.observed.state, pod.status) == (state, status)
        assert pod.ip == "10.244.1.9"  # still reserved for it while the container exists


class TestProbeReadiness:
    def probed(self, output: str | None, status: str = "healthy"):
        sb = sandbox(labels={"io.kcli.probes": "app"})
        if output is not None:
            sb["State"]["Health"] = {"Status": status, "FailingStreak": 0, "Log": [{"ExitCode": 0, "Output": output}]}
        return one(sb, ctr("container", "app"))

    def test_ready_when_the_probe_says_so(self):
        pod = self.probed('{"containers":{"app":{"ready":true,"failure":""}}}\n')
        assert pod.ready == 1 and pod.observed.ready and pod.status == "Running"

    def test_not_ready_with_the_failure_as_detail(self):
        pod = self.probed(
            '{"containers":{"app":{"ready":false,"failure":"HTTP probe failed with statuscode: 503"}}}\n',
            status="unhealthy",
        )
        assert pod.ready == 0 and not pod.observed.ready and pod.status == "Running"
        assert pod.observed.detail == "Readiness probe failed: HTTP probe failed with statuscode: 503"

    def test_not_ready_before_the_first_probe(self):
        pod = self.probed(None)
        assert pod.ready == 0 and not pod.observed.ready
        assert pod.observed.detail == "readiness probe has not passed yet"


def test_the_grace_period_and_pre_stop_hook_are_read_back():
    def labelled(**extra):
        doc = single()
        doc["Config"]["Labels"].update(extra)
        return one(doc)

    pod = labelled(**{"io.kcli.grace": "7", "io.kcli.pre-stop": '{"exec": ["nginx", "-s", "quit"]}'})
    assert pod.grace == 7 and pod.containers[0].pre_stop == {"exec": ["nginx", "-s", "quit"]}
    bad = labelled(**{"io.kcli.grace": "x", "io.kcli.pre-stop": "{not json"})
    assert bad.grace is None and bad.containers[0].pre_stop is None


def test_probe_failures_become_events():
    sb = sandbox(labels={"io.kcli.probes": "app"})
    fail = '{"containers":{"app":{"ready":false,"failure":"HTTP probe failed with statuscode: 503"}}}'
    killed = (
        '{"containers":{"app":{"ready":false,"failure":"command exited with 1:  '
        '(container killed: liveness probe failed 2 times)"}}}'
    )
    sb["State"]["Health"] = {
        "Status": "unhealthy",
        "Log": [
            {"Start": "2024-05-01T12:00:01.5Z", "Output": fail},
            {"Start": "2024-05-01T12:00:02.5Z", "Output": fail},
            {"Start": "2024-05-01T12:00:03.5Z", "Output": killed},
        ],
    }
    pod = one(sb, ctr("container", "app"))
    assert pod.probe_events == (
        ("2024-05-01T12:00:01", "Unhealthy", "container app: probe failed: HTTP probe failed with statuscode: 503"),
        (
            "2024-05-01T12:00:03",
            "Killing",
            "container app: probe failed: command exited with 1:  (container killed: liveness probe failed 2 times)",
        ),
    )


def test_a_pod_whose_secret_volume_files_are_gone_is_broken():
    doc = single()
    doc["Config"]["Labels"]["io.kcli.secret-volumes"] = "creds"
    section = Section(json.dumps([doc]), 0)
    (present,) = parse_pods("node1", section, {"/run/kcli/pods/uid-1/secret/.creds.ok"})
    assert present.observed.state == "running"
    (gone,) = parse_pods("node1", section, set())  # the node rebooted: its tmpfs is empty
    assert gone.observed.state == "broken" and "secret volume creds" in gone.observed.detail
    (unread,) = parse_pods("node1", section)  # not observed: nothing is concluded
    assert unread.observed.state == "running"
    from kcli.core.facts.view_script import SECRET_VOLUMES
    from kcli.core.podrun import SECRET_DIR

    assert SECRET_DIR == SECRET_VOLUMES
