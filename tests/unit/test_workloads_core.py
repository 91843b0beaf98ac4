"""kcli.core.workloads: the state record of applied objects, pod IP allocation and the per-node pod script.

The pod script is also run for real with ``sh``, but only with units made of harmless commands
(``true``, ``echo``, ``false``) and with its /run/kcli scratch directory moved into tmp_path.
"""

from __future__ import annotations

import copy
import textwrap

import pytest
import yaml

from kcli.core.network import NodeLease
from kcli.core.objects import ObjectKey, build_object
from kcli.core.workloads import (
    EVENTS_KEPT,
    add_events,
    allocate_pod_ips,
    cascade,
    created_at,
    failure_reason,
    failure_record,
    forget_objects,
    in_backoff,
    known_keys,
    object_id,
    record_objects,
    record_pods,
    redacted_manifest,
    sealed_secrets,
    state_objects,
)

KEY = b"unit-test-cluster-secret-key-000"

MANIFESTS = """
apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: page, namespace: prod}
data: {index.html: hello}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: prod}
data: {token: czNjcmV0}
stringData: {password: hunter2}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: prod}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: httpd
        image: busybox:1.36
        env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: creds, key: token}}}]
"""


def objects(text: str = MANIFESTS) -> list:
    return [build_object(d) for d in yaml.safe_load_all(textwrap.dedent(text)) if d]


def by_kind(objs, kind):
    return next(o for o in objs if o.kind == kind)


# --------------------------------------------------------------------------- redaction and records


class TestRedaction:
    def test_secret_values_are_replaced_by_a_placeholder(self):
        secret = by_kind(objects(), "Secret")
        before = copy.deepcopy(dict(secret.manifest))
        assert redacted_manifest(secret) == {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "prod"},
            "data": {"token": "<redacted>"},
            "stringData": {"password": "<redacted>"},
        }
        assert secret.manifest == before  # the object itself is untouched

    def test_no_secret_value_survives_anywhere_in_the_record(self):
        state = record_objects({}, objects(), "kcli-abc", "2024-01-01T00:00:00Z", KEY)
        text = yaml.safe_dump(state)
        assert "hunter2" not in text and "czNjcmV0" not in text and "s3cret" not in text

    @pytest.mark.parametrize("kind", ["Namespace", "ConfigMap", "Service", "Deployment"])
    def test_other_kinds_are_untouched_copies(self, kind):
        obj = by_kind(objects(), kind)
        m = redacted_manifest(obj)
        assert m == obj.manifest
        m["metadata"]["name"] = "changed"
        assert obj.manifest["metadata"]["name"] != "changed"

    def test_secret_without_string_data(self):
        secret = build_object({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque"})
        assert redacted_manifest(secret) == {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "type": "Opaque",
        }


class TestRecords:
    def test_object_id(self):
        assert object_id(ObjectKey("Namespace", "", "prod")) == "Namespace/prod"
        assert object_id(ObjectKey("Deployment", "prod", "web")) == "Deployment/prod/web"

    def test_record_objects(self):
        objs = objects()
        state = {"nodes": {"n1": {}}, "objects": {"ConfigMap/prod/old": {"applyset": "x"}}}
        out = record_objects(state, objs, "kcli-abc", "T1", KEY)
        assert state == {"nodes": {"n1": {}}, "objects": {"ConfigMap/prod/old": {"applyset": "x"}}}  # not mutated
        assert out["nodes"] == {"n1": {}}
        assert sorted(out["objects"]) == [
            "ConfigMap/prod/old",
            "ConfigMap/prod/page",
            "Deployment/prod/web",
            "Namespace/prod",
            "Secret/prod/creds",
            "Service/prod/web",
        ]
        secret = by_kind(objs, "Secret")
        rec = dict(out["objects"]["Secret/prod/creds"])
        sealed = rec.pop("sealed")
        assert rec == {
            "applyset": "kcli-abc",
            "lastApplied": redacted_manifest(secret),
            "createdAt": "T1",
            "contentHash": secret.content_hash(KEY),
        }
        assert sealed.startswith("v1:") and all(v.decode() not in sealed for v in secret.data.values())
        assert record_objects(out, objs, "kcli-abc", "T2", KEY)["objects"]["Secret/prod/creds"]["sealed"] == sealed
        (opened,) = sealed_secrets(out, [secret.key], KEY)
        assert opened.data == secret.data and opened.content_hash(KEY) == secret.content_hash(KEY)
        assert sealed_secrets(out, [secret.key], b"another-cluster-key-00000000000000") == []
        assert out["objects"]["Service/prod/web"] == {
            "applyset": "kcli-abc",
            "lastApplied": by_kind(objs, "Service").manifest,
            "createdAt": "T1",
        }

    def test_created_at_is_kept_from_the_old_record(self):
        first = record_objects({}, objects(), "set-a", "T1", KEY)
        changed = objects(MANIFESTS.replace("replicas: 2", "replicas: 5"))
        second = record_objects(first, changed, "set-b", "T2", KEY)
        rec = second["objects"]["Deployment/prod/web"]
        assert rec["createdAt"] == "T1"
        assert rec["applyset"] == "set-b"
        assert rec["lastApplied"]["spec"]["replicas"] == 5
        assert created_at(second, ObjectKey("Deployment", "prod", "web")) == "T1"
        assert created_at(second, ObjectKey("Deployment", "prod", "nope")) == ""
        fresh = record_objects(
            forget_objects(second, [ObjectKey("Deployment", "prod", "web")]), changed, "s", "T3", KEY
        )
        assert fresh["objects"]["Deployment/prod/web"]["createdAt"] == "T3"

    def test_forget_objects(self):
        state = record_objects({"x": 1}, objects(), "s", "T1", KEY)
        out = forget_objects(state, [ObjectKey("Secret", "prod", "creds"), ObjectKey("Namespace", "", "prod")])
        assert sorted(out["objects"]) == ["ConfigMap/prod/page", "Deployment/prod/web", "Service/prod/web"]
        assert out["x"] == 1 and len(state["objects"]) == 5

    def test_known_keys(self):
        state = record_objects({}, objects(), "s", "T1", KEY)
        state["objects"]["ConfigMap/default/bare"] = {
            "lastApplied": {"kind": "ConfigMap", "metadata": {"name": "bare"}}
        }
        assert known_keys(state) == {
            ObjectKey("Namespace", "", "prod"),
            ObjectKey("ConfigMap", "prod", "page"),
            ObjectKey("Secret", "prod", "creds"),
            ObjectKey("Service", "prod", "web"),
            ObjectKey("Deployment", "prod", "web"),
            ObjectKey("ConfigMap", "default", "bare"),
        }
        assert known_keys({}) == set() and known_keys({"objects": None}) == set()


class TestStateObjects:
    def test_round_trip(self):
        objs = objects()
        state = record_objects({}, objs, "kcli-abc", "T1", KEY)
        state["objects"]["Service/prod/web"]["applyset"] = "other"
        back, secret_hashes, applysets = state_objects(yaml.safe_load(yaml.safe_dump(state)))  # as read from disk
        assert sorted(o.key for o in back) == sorted(o.key for o in objs if o.kind != "Secret")
        for o in back:
            assert o == next(x for x in objs if x.key == o.key)  # same typed object, field by field
            assert o.manifest == next(x for x in objs if x.key == o.key).manifest
        secret = by_kind(objs, "Secret")
        assert secret_hashes == {secret.key: secret.content_hash(KEY)}
        assert applysets == {o.key: ("other" if o.kind == "Service" else "kcli-abc") for o in objs}

    def test_secrets_come_back_only_as_hashes(self):
        state = record_objects({}, objects(), "s", "T1", KEY)
        back, secret_hashes, _ = state_objects(state)
        assert not any(o.kind == "Secret" for o in back)
        assert list(secret_hashes) == [ObjectKey("Secret", "prod", "creds")]

    def test_unreadable_records_are_skipped(self):
        state = {
            "objects": {
                "Widget/default/w": {
                    "applyset": "s",
                    "lastApplied": {"apiVersion": "example.com/v1", "kind": "Widget"},
                },
                "Secret/default/s": {"lastApplied": {"kind": "Secret", "metadata": {"name": "s"}}},
            }
        }
        back, secret_hashes, applysets = state_objects(state)
        assert back == []
        assert secret_hashes == {ObjectKey("Secret", "default", "s"): ""}
        assert applysets == {ObjectKey("Secret", "default", "s"): ""}

    def test_empty_state(self):
        assert state_objects({}) == ([], {}, {})


class TestPodsAndEvents:
    def test_record_pods(self):
        class View:
            def __init__(self, ns, name, node, ip):
                self.namespace, self.name, self.node, self.ip = ns, name, node, ip
                self.applied, self.spec_hash, self.owner, self.uid = (
                    "Deployment/web",
                    "abc",
                    "ReplicaSet/web-1",
                    "u-" + name,
                )
                self.labels = {"app": "web"}

        failed = {("prod", "web-d"): failure_record(None, "n1", "Deployment/web", "abc", "ErrImageNeverPull: x", 1000)}
        out = record_pods(
            {"x": 1},
            [View("prod", "web-b", "n2", "10.244.2.2"), View("prod", "web-a", "n1", "10.244.1.2")],
            {("prod", "web-c"): ("Deployment/web", "0/2 nodes are available: 2 Insufficient cpu.")},
            failed,
        )
        common = {"applied": "Deployment/web", "owner": "ReplicaSet/web-1", "specHash": "abc", "labels": {"app": "web"}}
        assert out == {
            "x": 1,
            "pods": {
                "prod/web-a": {"node": "n1", "ip": "10.244.1.2", "uid": "u-web-a", **common},
                "prod/web-b": {"node": "n2", "ip": "10.244.2.2", "uid": "u-web-b", **common},
                "prod/web-c": {
                    "node": "",
                    "applied": "Deployment/web",
                    "phase": "Pending",
                    "reason": "0/2 nodes are available: 2 Insufficient cpu.",
                },
                "prod/web-d": failed[("prod", "web-d")],
            },
        }
        assert list(out["pods"]) == sorted(out["pods"])

    def test_failed_pods_back_off_exponentially_per_spec(self):
        first = failure_record(None, "n1", "Pod/p", "h1", "x\nErrImageNeverPull: img is not present", 1000)
        assert (first["reason"], first["attempts"], first["retryAfter"]) == ("ErrImageNeverPull", 1, 1010)
        second = failure_record(first, "n1", "Pod/p", "h1", "docker: Error response", 1010)
        assert (second["reason"], second["attempts"], second["retryAfter"]) == ("CreateContainerError", 2, 1030)
        assert in_backoff(second, "h1", 1029) and not in_backoff(second, "h1", 1030)
        assert not in_backoff(second, "h2", 1000)  # a new spec is tried at once
        assert failure_record(second, "n1", "Pod/p", "h2", "e", 2000)["attempts"] == 1
        many = first
        for _ in range(20):
            many = failure_record(many, "n1", "Pod/p", "h1", "e", 0)
        assert many["retryAfter"] == 300
        assert failure_reason("init container migrate failed") == "Init:Error"

    def test_deleting_a_namespace_cascades_to_everything_in_it(self):
        keys = [
            ObjectKey("Deployment", "shop", "web"),
            ObjectKey("Secret", "shop", "db"),
            ObjectKey("ConfigMap", "other", "c"),
            ObjectKey("Namespace", "", "shop"),
            ObjectKey("Namespace", "", "other"),
        ]
        assert cascade([ObjectKey("Namespace", "", "shop")], keys) == {
            ObjectKey("Namespace", "", "shop"),
            ObjectKey("Deployment", "shop", "web"),
            ObjectKey("Secret", "shop", "db"),
        }
        assert cascade([ObjectKey("Deployment", "shop", "web")], keys) == {ObjectKey("Deployment", "shop", "web")}

    def test_add_events_keeps_the_last_ones(self):
        state = {"events": [{"n": str(i)} for i in range(EVENTS_KEPT)]}
        out = add_events(state, [{"n": "new"}])
        assert len(out["events"]) == EVENTS_KEPT
        assert out["events"][0] == {"n": "1"} and out["events"][-1] == {"n": "new"}
        assert add_events(state, []) == state and len(state["events"]) == EVENTS_KEPT


# --------------------------------------------------------------------------- pod IPs


def lease(node: str, subnet: str) -> NodeLease:
    return NodeLease(node, subnet, "192.168.56.11", "02:00:00:00:00:01")


class TestPodIps:
    LEASES = {"n1": lease("n1", "10.244.1.0/24"), "n2": lease("n2", "10.244.2.0/24")}

    def test_lowest_free_per_node_skipping_used(self):
        got = allocate_pod_ips(
            {"n1": [("default", "a"), ("default", "b"), ("prod", "c")], "n2": [("default", "d")]},
            {"n1": ["10.244.1.2", "10.244.1.4", ""], "n2": []},
            self.LEASES,
        )
        assert got == {
            ("default", "a"): "10.244.1.3",
            ("default", "b"): "10.244.1.5",
            ("prod", "c"): "10.244.1.6",
            ("default", "d"): "10.244.2.2",
        }

    def test_gateway_and_broadcast_are_never_handed_out(self):
        leases = {"n1": lease("n1", "10.244.1.0/29")}  # pods: .2 .. .6
        got = allocate_pod_ips({"n1": [("d", str(i)) for i in range(5)]}, {}, leases)
        assert sorted(got.values()) == [f"10.244.1.{i}" for i in range(2, 7)]

    def test_full_subnet_raises(self):
        leases = {"n1": lease("n1", "10.244.1.0/29")}
        used = {"n1": ["10.244.1.2", "10.244.1.3", "10.244.1.5", "10.244.1.6"]}
        assert allocate_pod_ips({"n1": [("d", "a")]}, used, leases) == {("d", "a"): "10.244.1.4"}
        with pytest.raises(ValueError, match=r"node n1: pod subnet 10\.244\.1\.0/29 is full"):
            allocate_pod_ips({"n1": [("d", "a"), ("d", "b")]}, used, leases)

    def test_nothing_wanted(self):
        assert allocate_pod_ips({}, {"n1": ["10.244.1.2"]}, self.LEASES) == {}


def test_secret_content_hash_is_keyed_and_still_sees_changes():
    import hashlib
    import hmac

    from kcli.core.objects import build_object

    def secret(name, value):
        return build_object(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": {"k": value}}
        )

    a, c = secret("a", "letmein"), secret("a", "letmein2")
    assert a.content_hash(KEY) != c.content_hash(KEY)  # a changed value is seen
    assert a.content_hash(KEY) == secret("b", "letmein").content_hash(KEY)  # content only: renaming changes nothing
    assert a.content_hash(KEY) != a.content_hash(b"another-cluster-key-0123456789ab")  # no key, no guess
    payload = b'{"data":{"k":"letmein"},"type":"Opaque"}'
    for guess_key in (b"", b"default/a", b"kcli-secret/default/a"):
        assert a.content_hash(KEY) != hmac.new(guess_key, payload, hashlib.sha256).hexdigest()[:16]
    assert a.content_hash(KEY) != hashlib.sha256(payload).hexdigest()[:16]
    with pytest.raises(ValueError):
        a.content_hash(b"")
