"""kcli.core.planner driven without SSH: an in-memory cluster that 'executes' plans the way the
hosts would, through create, scale, replace, delete, prune, cascade, services, drift, lost
nodes, failures with back-off, and the recorded state."""

from __future__ import annotations

import base64
import dataclasses
import re
import textwrap

import pytest
import yaml

from kcli.core.cluster import ClusterView
from kcli.core.controllers.pod import ObservedPod, OwnerRef
from kcli.core.eviction import stale_pods_step
from kcli.core.facts.node import NodeFacts
from kcli.core.facts.pods import PodView
from kcli.core.inventory import Host, Inventory
from kcli.core.iptables import JUMP_RULES, quote
from kcli.core.network import ClusterNetwork, NodeLease
from kcli.core.objects import Document, ObjectKey, Source
from kcli.core.planner import (
    Policy,
    add_unknown_pods,
    changes_objects,
    desired_from,
    object_changes,
    object_results,
    plan,
    record,
    require_bootstrapped,
)
from kcli.core.progress import no_progress
from kcli.core.servicesync import dns_hosts, hairpin_line, node_rules
from kcli.core.state import empty_state, with_cordon, with_network, with_node
from kcli.core.validate import validate_documents
from kcli.errors import ManifestError, PlanError
from kcli.shell.apply import ApplyReport, Wave, converge

KEY = b"unit-test-cluster-secret-key-000"
NODES = ("n1", "n2", "n3")
INV = Inventory("t", tuple(Host(n, f"192.168.5.{i + 1}") for i, n in enumerate(NODES)))
NET = ClusterNetwork()


def bootstrapped() -> dict:
    state = with_network(empty_state("t"), NET)
    for i, n in enumerate(NODES):
        state = with_node(
            state, NodeLease(n, f"10.244.{i + 1}.0/24", f"192.168.5.{i + 1}", f"aa:00:00:00:00:0{i}"), None, "T0"
        )
    return state


def objs(text: str):
    chunks = [textwrap.dedent(c) for c in re.split(r"(?m)^\s*---\s*$", text) if c.strip()]
    docs = [Document(Source("m.yaml", i + 1), yaml.safe_load(c)) for i, c in enumerate(chunks)]
    res = validate_documents(docs)
    assert not res.errors, res.errors
    return list(res.objects)


def deployment(
    name="web", replicas=3, image="kcli.local/busybox:1", ns="default", env="a", strategy="RollingUpdate"
) -> str:
    return f"""
    apiVersion: apps/v1
    kind: Deployment
    metadata: {{name: {name}, namespace: {ns}}}
    spec:
      replicas: {replicas}
      strategy: {{type: {strategy}}}
      selector: {{matchLabels: {{app: {name}}}}}
      template:
        metadata: {{labels: {{app: {name}}}}}
        spec:
          containers:
            - name: main
              image: {image}
              env: [{{name: MODE, value: "{env}"}}]
              resources: {{requests: {{cpu: 10m}}}}
    """


SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
"""


def programmed(rules) -> str:
    """What iptables-save shows after the rules unit ran: both payloads plus kube-proxy's jumps."""
    text = ""
    for table, payload in (("nat", rules.nat), ("filter", rules.filter)):
        jumps = [f"-A {chain} " + " ".join(quote(a) for a in args) for t, chain, args in JUMP_RULES if t == table]
        text += payload.replace("COMMIT", "\n".join([*jumps, "COMMIT"]))
    return text


class Sim:
    """Hosts in memory: facts for every node, pods as PodViews; ``run`` executes a plan's units."""

    def __init__(self) -> None:
        self.view = ClusterView()
        for n in NODES:
            self.view.facts[n] = NodeFacts(hostname=n, cpus=2, memory_kib=4 << 20, now=1000, docker_version="20.10")
            self.view.pods[n] = []
            self.view.iptables[n] = ""
            self.view.dns_file[n] = None
            self.view.dns_running[n] = False
        self.state = bootstrapped()
        self.fail: set[str] = set()  # unit names that fail on their node
        self.fail_image = ""  # creates of pods with this image fail (ErrImageNeverPull)
        self.clock = 0.0  # the loop's monotonic clock, advanced by its sleeps
        self.slept: list[float] = []
        self.draining: frozenset[str] = frozenset()  # kcli drain
        self.deleting: frozenset[tuple[str, str]] = frozenset()  # kcli delete pod (a controller's pod)
        self.seen: dict[str, float] = {}  # node → when it last answered
        self.reclaimed: list[tuple[str, tuple[str, ...]]] = []  # (node, lines) of reclaim units run

    def policy(self, now: float = 1000) -> Policy:
        return Policy(seed="t", secret_key=KEY, now=now, draining=self.draining, seen=self.seen, deleting=self.deleting)

    def execute(self, units) -> Wave:
        """Run a wave's units as the hosts would: pods start (or fail), rules and DNS get written."""
        results, touched = {}, set()
        for node, node_units in units.items():
            touched.add(node)
            for u in node_units:
                verb, _, key = u.name.partition(" ")
                if verb == "delete":  # one unit deletes several pods of a node: its results name them
                    keys = {label.partition(" ")[2] for label in u.results}
                    self.view.pods[node] = [x for x in self.view.pods[node] if f"{x.namespace}/{x.name}" not in keys]
                    results.update({label: ("ok", "") for label in u.results})
                    continue
                elif verb == "create" and (
                    u.name in self.fail or (self.fail_image and any(self.fail_image in ln for ln in u.lines))
                ):
                    results[u.name] = ("failed", "ErrImageNeverPull: image is not present")
                    continue
                elif verb == "reclaim":  # a deleted claim's directory
                    self.reclaimed.append((node, u.lines))
                    results[u.name] = ("ok", "")
                    continue
                elif verb == "create":
                    c = self.pending_creates[u.name]
                    obs = ObservedPod(
                        c.namespace,
                        c.name,
                        c.node,
                        OwnerRef(*c.applied.split("/", 1)),
                        OwnerRef(*c.owner.split("/", 1)) if c.owner else None,
                        c.spec_hash,
                        labels=dict(c.labels),
                    )
                    self.view.pods[node].append(
                        PodView(
                            c.namespace,
                            c.name,
                            c.node,
                            c.uid,
                            c.ip,
                            "Running",
                            1,
                            1,
                            0,
                            1000.0,
                            dict(c.labels),
                            c.applied,
                            c.owner,
                            c.spec_hash,
                            "Always",
                            (),
                            obs,
                        )
                    )
                else:
                    p = self.pending_services
                    self.view.iptables[node] = programmed(
                        node_rules(p.specs, p.endpoints, NET.pod_cidr, self.view.iptables[node])
                    )
                    self.view.dns_file[node] = dns_hosts(
                        p.specs,
                        p.endpoints,
                        {(x.namespace, x.name): x.dns_host for x in self.view.all_pods() if x.dns_host},
                    )
                    self.view.dns_running[node] = True
                results[u.name if verb != "services" else f"services {node}"] = ("ok", "")
        fields = ("facts", "pods", "used_ips", "iptables", "dns_file", "dns_running")
        observed = ClusterView(**{f: {n: v for n, v in getattr(self.view, f).items() if n in touched} for f in fields})
        return Wave(results, observed, {})

    def converge(
        self,
        objects,
        *,
        prune=False,
        delete=(),
        applyset="s",
        now=1000,
        orphan=False,
        converged=True,
        wait=True,
        progress=no_progress,
    ):
        """The shell's converge loop over this in-memory cluster, then the recorded state."""
        desired = desired_from(self.state, objects, applyset=applyset, prune=prune, delete=delete, orphan=orphan)
        add_unknown_pods(self.view, self.state.get("pods") or {})
        first = plan(desired, self.view, self.state, INV, self.policy(now))
        report = ApplyReport(plans=[first], objects=object_changes(self.state, desired, KEY))

        def execute(units):
            last = report.plans[-1]
            self.pending_creates = {c.unit.name: c for c in last.creates}
            self.pending_services = last
            return self.execute(units)

        def sleep(seconds):
            self.clock += seconds
            self.slept.append(seconds)

        view, outcome = converge(
            desired,
            self.view,
            self.state,
            INV,
            self.policy(now),
            first,
            execute,
            report,
            sleep=sleep,
            clock=lambda: self.clock,
            wait=wait,
            progress=progress,
        )
        self.report = report
        if converged:
            assert report.last.empty and not report.unconverged, "did not converge"
        self.view = view
        self.state, message = record(self.state, desired, report.last, outcome, view, KEY, "T1")
        return first, report.waves, outcome, message

    def pods(self, prefix=""):
        return sorted((p.name, p.node) for p in self.view.all_pods() if p.name.startswith(prefix))


def guard_endpoints(sim: Sim, node: str, at_least: int = 0) -> None:
    """Wrap the sim's execute: a wave must never delete a pod the rules on ``node`` still send to,
    and must leave ``at_least`` web pods."""
    served: list[set[str]] = []  # after each wave: the pods the rules on ``node`` send to
    real = sim.execute

    def execute(units):
        for node_units in units.values():
            for u in node_units:
                if u.name.startswith("delete"):
                    keys = {label.partition(" ")[2].split("/", 1)[1] for label in u.results}
                    assert not keys & (served[-1] if served else set()), "deleted while in service"
        wave = real(units)
        rules = sim.view.iptables[node]
        served.append({p.name for p in sim.view.all_pods() if p.ip and f"-d {p.ip}" not in rules and p.ip in rules})
        assert len([p for p in sim.view.all_pods() if p.name.startswith("web-")]) >= at_least
        return wave

    sim.execute = execute


def test_create_spreads_then_services_follow_then_nothing_to_do():
    sim = Sim()
    first, waves, _, message = sim.converge(objs(deployment() + "---" + SERVICE))
    assert len(first.creates) == 3 and {c.node for c in first.creates} == set(NODES)
    assert all(c.reason for c in first.creates) and first.services == ()  # rules wait for the pods
    assert waves == 2  # pods, then rules/DNS (with the new endpoints)
    assert sim.state["services"]["default/web"]["clusterIP"]
    (addrs,) = sim.state["endpoints"]["default/web"].values()
    assert sorted(a.split(":")[0] for a in addrs) == sorted(p.ip for p in sim.view.all_pods())
    assert "deployment.apps/web created" in message and "service/web created" in message
    again, waves, _, _ = sim.converge(objs(deployment() + "---" + SERVICE))
    assert again.empty and waves == 0


def test_scale_up_and_down():
    sim = Sim()
    sim.converge(objs(deployment(replicas=3)))
    up, _, _, _ = sim.converge(objs(deployment(replicas=5)))
    assert len(up.creates) == 5 - 3 and not up.deletes
    down, _, _, _ = sim.converge(objs(deployment(replicas=2)))
    assert len(down.deletes) == 3 and not down.creates
    assert len(sim.pods("web-")) == 2


def test_recreate_on_template_change_frees_and_reuses_addresses():
    sim = Sim()
    sim.converge(objs(deployment(env="a", strategy="Recreate")))
    old = {p.name for p in sim.view.all_pods()}
    ips = {p.ip for p in sim.view.all_pods()}
    change, waves, _, _ = sim.converge(objs(deployment(env="b", strategy="Recreate")))
    assert {d.name for d in change.deletes} == old and not change.creates  # Recreate: all old pods first
    assert all("spec-hash" in d.reason for d in change.deletes) and waves == 2
    assert {p.ip for p in sim.view.all_pods()} == ips  # freed by the deletes, reused
    assert not old & {p.name for p in sim.view.all_pods()}


def test_a_rolling_update_never_deletes_a_pod_its_services_still_send_to():
    sim = Sim()
    sim.converge(objs(deployment(env="a") + "---" + SERVICE))
    old = {p.name for p in sim.view.all_pods()}
    guard_endpoints(sim, "n1")
    first, waves, _, _ = sim.converge(objs(deployment(env="b") + "---" + SERVICE))
    assert len(first.creates) == 1 and not first.deletes  # maxSurge 25% of 3 → 1, maxUnavailable → 0
    assert waves >= 6  # per old pod: a new one, the rules without the old one, then its delete
    now = sim.view.all_pods()
    assert len(now) == 3 and not old & {p.name for p in now}
    (addrs,) = sim.state["endpoints"]["default/web"].values()
    assert sorted(a.split(":")[0] for a in addrs) == sorted(p.ip for p in now)


def test_delete_and_prune():
    sim = Sim()
    sim.converge(objs(deployment("a") + "---" + deployment("b")), applyset="set1")
    pruned, _, _, _ = sim.converge(objs(deployment("a")), prune=True, applyset="set1")
    assert {d.name.split("-", 1)[0] for d in pruned.deletes} == {"b"}
    assert "Deployment/default/b" not in sim.state["objects"]
    deleted, _, _, _ = sim.converge([], delete=[ObjectKey("Deployment", "default", "a")])
    assert len(deleted.deletes) == 3 and sim.pods() == []
    assert all("was deleted" in d.reason for d in deleted.deletes)


def test_deleting_a_namespace_cascades_to_pods_services_and_configs():
    sim = Sim()
    shop = """
    apiVersion: v1
    kind: Namespace
    metadata: {name: shop}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: c, namespace: shop}
    data: {a: b}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: front, namespace: shop}
    spec: {selector: {app: front}, ports: [{port: 80}]}
    ---""" + deployment("front", 2, ns="shop")
    sim.converge(objs(shop))
    assert "shop/front" in sim.state["services"]
    plan_, _, _, _ = sim.converge([], delete=[ObjectKey("Namespace", "", "shop")])
    assert len(plan_.deletes) == 2 and sim.pods() == []
    assert not [k for k in sim.state["objects"] if "shop" in k] and "services" not in sim.state
    assert all("shop" not in (sim.view.dns_file[n] or "") for n in NODES)


def test_unknown_namespace_and_unbootstrapped_cluster_are_refused():
    with pytest.raises(ManifestError, match='namespaces "nowhere" not found'):
        desired_from(bootstrapped(), objs(deployment(ns="nowhere")))
    with pytest.raises(PlanError, match="not bootstrapped"):
        require_bootstrapped(empty_state("t"), "t")


def test_drift_a_removed_pod_comes_back_and_service_drift_is_repaired():
    sim = Sim()
    sim.converge(objs(deployment() + "---" + SERVICE))
    gone = sim.view.pods["n2"].pop()
    sim.view.iptables["n3"] = ""  # someone flushed the rules
    repair, waves, _, _ = sim.converge(objs(deployment() + "---" + SERVICE))
    assert [c.node for c in repair.creates] and len(sim.pods("web-")) == 3
    assert gone.name in {c.name for c in repair.creates}  # the same name comes back (stable per cluster seed)
    assert waves == 2
    sim.view.dns_running["n1"] = False
    only_dns, waves, _, _ = sim.converge(objs(deployment() + "---" + SERVICE))
    assert [s.node for s in only_dns.services] == ["n1"] and only_dns.services[0].reasons == ("DNS server not running",)


def test_an_unreachable_node_keeps_its_pods_unknown_and_gets_nothing():
    sim = Sim()
    sim.converge(objs(deployment(replicas=3)))
    lost = sim.view.pods["n3"][0].name
    for attr in ("facts", "pods", "iptables", "dns_file", "dns_running"):
        getattr(sim.view, attr).pop("n3")
    sim.view.errors["n3"] = "timed out"
    add_unknown_pods(sim.view, sim.state["pods"])
    assert [(p.name, p.status) for p in sim.view.pods["n3"]] == [(lost, "Unknown")]
    fresh, _, _, _ = sim.converge(objs(deployment(replicas=3) + "---" + deployment("fresh", 2)))
    assert {c.node for c in fresh.creates} <= {"n1", "n2"} and len(
        fresh.creates
    ) == 2  # the Unknown pod is not replaced
    changed = plan(
        desired_from(sim.state, objs(deployment(replicas=3, env="z", strategy="Recreate"))),
        sim.view,
        sim.state,
        INV,
        sim.policy(),
    )
    assert [w.name for w in changed.deferred] == [lost] and "n3 is unreachable" in changed.deferred[0].reason
    assert lost not in {d.name for d in changed.deletes}


def test_a_failed_create_is_recorded_and_backs_off():
    sim = Sim()
    bare = """
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec: {containers: [{name: c, image: kcli.local/absent:1, imagePullPolicy: Never}]}
    """
    sim.fail = {"create default/p"}
    first, waves, outcome, _ = sim.converge(objs(bare))
    assert [c.name for p in outcome.plans for c in p.creates] == ["p"]  # tried once, then left to its back-off
    assert outcome.failed[("default", "p")]["reason"] == "ErrImageNeverPull"
    rec = sim.state["pods"]["default/p"]
    assert rec["phase"] == "Failed" and rec["attempts"] == 1 and rec["retryAfter"] == 1010
    waiting, waves, _, _ = sim.converge(objs(bare), now=1005)  # inside the back-off: not retried
    assert waves == 0 and [w.name for w in waiting.backing_off] == ["p"]
    assert sim.state["pods"]["default/p"]["attempts"] == 1  # kept while waiting
    retry, waves, outcome, _ = sim.converge(objs(bare), now=1011)
    assert [c.name for c in retry.creates] == ["p"] and sim.state["pods"]["default/p"]["attempts"] == 2
    sim.fail = set()
    sim.converge(objs(bare), now=2000)
    assert sim.state["pods"]["default/p"].get("phase") is None and sim.pods() == [("p", sim.pods()[0][1])]


def test_pending_pods_are_recorded_with_the_scheduler_reason():
    sim = Sim()
    huge = deployment(replicas=1).replace("cpu: 10m", "cpu: 64")
    first, _, _, _ = sim.converge(objs(huge))
    assert first.pending and "Insufficient cpu" in first.pending[0].reason
    (rec,) = [r for r in sim.state["pods"].values()]
    assert rec["phase"] == "Pending" and "Insufficient cpu" in rec["reason"]
    assert any(e["reason"] == "FailedScheduling" for e in sim.state["events"])


def test_allocations_avoid_what_the_hosts_hold():
    sim = Sim()
    sim.converge(objs(SERVICE))
    held_ip = sim.state["services"]["default/web"]["clusterIP"]
    other = Sim()  # a second state for the same hosts, that never saw web
    other.view = sim.view
    other.converge(objs(SERVICE.replace("name: web", "name: api")))
    assert other.state["services"]["default/api"]["clusterIP"] != held_ip


def test_object_results_and_secret_changes_are_seen_through_the_keyed_hash():
    sim = Sim()
    secret = """
    apiVersion: v1
    kind: Secret
    metadata: {name: s}
    stringData: {k: first-value}
    """
    sim.converge(objs(secret))
    d = desired_from(sim.state, objs(secret))
    assert object_results(sim.state, d, KEY) == [("secret/s", "unchanged")]
    d2 = desired_from(sim.state, objs(secret.replace("first-value", "second-value")))
    assert object_results(sim.state, d2, KEY) == [("secret/s", "configured")]
    assert "first-value" not in yaml.safe_dump(sim.state)


def test_units_are_ordered_deletes_creates_then_services_per_node():
    sim = Sim()
    sim.converge(objs(deployment(env="a")))
    p = plan(desired_from(sim.state, objs(deployment(env="b"))), sim.view, sim.state, INV, sim.policy())
    for _node, units in p.units().items():
        kinds = [u.name.split(" ")[0] for u in units]
        assert kinds == sorted(kinds, key=["delete", "create", "services"].index)
    assert dataclasses.replace(p, deletes=(), creates=(), services=()).empty


def test_a_nodes_deletes_are_one_unit_and_creates_check_each_image_once():
    sim = Sim()
    first, _, _, _ = sim.converge(objs(deployment(replicas=6)))
    for _node, units in first.units().items():
        assert len(units) == 2 and all(u.prelude == units[0].prelude for u in units)
        (image_check,) = units[0].prelude  # the batch asks docker once per image, not once per pod
        assert "docker image inspect kcli.local/busybox:1" in image_check
        assert all(u.lines[-1] == hairpin_line() for u in units)  # no rules wave just for hairpin
    p = plan(desired_from(sim.state, objs(deployment(replicas=0))), sim.view, sim.state, INV, sim.policy())
    units = p.units()
    assert set(units) == set(NODES)
    for node, (unit,) in units.items():
        mine = sorted(f"delete {d.namespace}/{d.name}" for d in p.deletes if d.node == node)
        assert unit.name == "delete 2 pods" and sorted(unit.results) == mine and len(mine) == 2
        assert sum(line.startswith("rm -rf ") for line in unit.lines) == 1
    sim.converge(objs(deployment(replicas=0)))
    assert sim.pods("web-") == []


def test_whether_a_command_certainly_changes_the_record():
    sim = Sim()
    web = objs(deployment())
    assert changes_objects(sim.state, desired_from(sim.state, web))  # new
    sim.converge(web)
    assert not changes_objects(sim.state, desired_from(sim.state, web))  # the same again: only the hosts can tell
    assert changes_objects(sim.state, desired_from(sim.state, objs(deployment(env="b"))))  # edited
    assert changes_objects(sim.state, desired_from(sim.state, [], delete=[web[0].key]))  # deleted


def test_owner_references_cascade_unless_orphaned():
    sim = Sim()
    owned = """
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: web-config
      ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: u-1}]
    data: {a: b}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: web-config-child
      ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: web-config, uid: u-2}]
    data: {a: b}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: shared
      ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: u-1},
                        {apiVersion: apps/v1, kind: Deployment, name: other, uid: u-3}]
    data: {a: b}
    ---"""
    web = ObjectKey("Deployment", "default", "web")
    sim.converge(objs(owned + deployment() + "---" + deployment("other", 1)))
    kept = sim.state
    # orphan: the Deployment goes, its pods and dependents stay
    plan_, _, _, message = sim.converge([], delete=[web], orphan=True)
    assert not plan_.deletes and len(sim.pods("web-")) == 3
    assert (
        "Deployment/default/web" not in sim.state["objects"] and "ConfigMap/default/web-config" in sim.state["objects"]
    )
    # background (the default): dependents, transitively; an object with another live owner stays
    sim.state = kept
    sim.converge(objs(deployment()))
    plan_, _, _, message = sim.converge([], delete=[web])
    assert len(plan_.deletes) == 3 and sim.pods("web-") == []
    assert not {"ConfigMap/default/web-config", "ConfigMap/default/web-config-child"} & set(sim.state["objects"])
    assert "ConfigMap/default/shared" in sim.state["objects"]


def test_revisions_are_recorded_per_pod_template_as_upstream_numbers_them():
    sim = Sim()
    sim.converge(objs(deployment(env="a")))
    sim.converge(objs(deployment(env="b")))
    revs = sim.state["revisions"]["Deployment/default/web"]
    assert [r["revision"] for r in revs] == [1, 2]
    assert revs[0]["template"]["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "a"}]
    sim.converge(objs(deployment(env="b")))  # nothing new
    assert [r["revision"] for r in sim.state["revisions"]["Deployment/default/web"]] == [1, 2]
    sim.converge(objs(deployment(env="a")))  # back to the first template: it becomes revision 3
    revs = sim.state["revisions"]["Deployment/default/web"]
    assert [(r["revision"], r["template"]["spec"]["containers"][0]["env"][0]["value"]) for r in revs] == [
        (2, "b"),
        (3, "a"),
    ]
    limited = deployment(env="c").replace("replicas: 3", "replicas: 3\n      revisionHistoryLimit: 1")
    sim.converge(objs(limited))
    assert [r["revision"] for r in sim.state["revisions"]["Deployment/default/web"]] == [3, 4]
    sim.converge([], delete=[ObjectKey("Deployment", "default", "web")])
    assert "revisions" not in sim.state


def test_a_rollout_that_cannot_finish_waits_for_its_progress_deadline_and_keeps_the_old_pods():
    sim = Sim()
    sim.converge(objs(deployment(env="a") + "---" + SERVICE))
    old = {p.name for p in sim.view.all_pods()}
    sim.fail_image = "kcli.local/broken:1"
    broken = deployment(env="b", image="kcli.local/broken:1").replace(
        "replicas: 3", "replicas: 3\n      progressDeadlineSeconds: 60"
    )
    sim.converge(objs(broken + "---" + SERVICE), converged=False)
    report = sim.report
    assert report.rollout_errors == ['deployment "web" exceeded its progress deadline']
    assert "1 out of 3 new replicas" in report.unconverged or "0 out of 3 new replicas" in report.unconverged
    assert {p.name for p in sim.view.all_pods()} == old  # maxUnavailable 0: every old pod still serves
    assert 60 < sim.clock <= 60 + 10 and len(sim.slept) >= 3  # retried with back-off (10 s, 20 s, …) until then
    (addrs,) = sim.state["endpoints"]["default/web"].values()
    assert len(addrs) == 3


def test_wait_false_leaves_a_rollout_after_its_first_wave():
    sim = Sim()
    sim.converge(objs(deployment(env="a")))
    first, waves, _, _ = sim.converge(objs(deployment(env="b")), converged=False, wait=False)
    assert waves == 1 and len(first.creates) == 1 and sim.report.unconverged.startswith("--wait=false: ")
    assert len(sim.view.all_pods()) == 4  # one new pod beside the three old ones
    sim.converge(objs(deployment(env="b")))  # `rollout status` (or apply) finishes it
    assert len(sim.view.all_pods()) == 3


def test_a_revision_records_when_and_by_whom():
    from kcli.core.workloads import record_revisions

    sim = Sim()
    sim.converge(objs(deployment()))
    statuses = plan(
        desired_from(sim.state, objs(deployment(env="z"))), sim.view, sim.state, INV, sim.policy()
    ).pods.reconciliation.statuses
    new = record_revisions(
        {}, objs(deployment(env="z")), statuses, "2026-12-03T02:30:00+00:00", "ana@laptop pid 1 (apply)"
    )
    (rev,) = new["revisions"]["Deployment/default/web"]
    assert (rev["revision"], rev["at"], rev["by"]) == (1, "2026-12-03T02:30:00+00:00", "ana@laptop pid 1 (apply)")


def test_a_cordoned_node_gets_no_new_pod_and_a_drain_moves_its_pods_surge_first():
    sim = Sim()
    sim.converge(objs(deployment(replicas=3) + "---" + SERVICE))
    sim.state = with_cordon(sim.state, "n1", True)
    up, _, _, _ = sim.converge(objs(deployment(replicas=6) + "---" + SERVICE))
    assert len(up.creates) == 3 and all(c.node != "n1" for c in up.creates)  # cordoned: nothing new there
    sim.converge(objs(deployment(replicas=3) + "---" + SERVICE))
    on_n1 = {n for n, node in sim.pods("web-") if node == "n1"}
    assert on_n1
    guard_endpoints(sim, "n2", at_least=3)
    sim.draining = frozenset({"n1"})
    first, waves, _, _ = sim.converge([])  # kcli drain: the recorded objects, no manifest
    assert len(first.creates) == len(on_n1) and not first.deletes  # replacements first
    assert all(c.node != "n1" for c in first.creates) and all("drain" not in c.reason for c in first.creates)
    pods = sim.pods("web-")
    assert len(pods) == 3 and all(node != "n1" for _, node in pods)
    (addrs,) = sim.state["endpoints"]["default/web"].values()
    assert sorted(a.split(":")[0] for a in addrs) == sorted(p.ip for p in sim.view.all_pods())
    reasons = {a.reason for pl in sim.report.plans for a in pl.pods.reconciliation.actions if a.verb == "delete"}
    assert reasons == {"drain: evicted from node n1"}
    sim.draining = frozenset()
    again, waves, _, _ = sim.converge([])
    assert again.empty and waves == 0


def test_a_drain_waits_while_the_replacements_are_not_ready():
    sim = Sim()
    sim.converge(objs(deployment(replicas=1)))
    ((name, node),) = sim.pods("web-")
    sim.state = with_cordon(sim.state, node, True)
    sim.draining = frozenset({node})
    real = sim.execute

    def execute(units):  # the replacement starts but never becomes ready
        wave = real(units)
        for views in sim.view.pods.values():
            for i, p in enumerate(views):
                if p.name != name:
                    views[i] = dataclasses.replace(p, observed=dataclasses.replace(p.observed, ready=False))
        return wave

    sim.execute = execute
    first, _, _, _ = sim.converge([], converged=False)
    assert len(first.creates) == 1 and not first.deletes
    assert name in {n for n, _ in sim.pods("web-")}  # the only ready pod stays while its replacement is not ready
    assert sim.report.rollout_errors == [
        'deployment "web" exceeded its progress deadline'
    ]  # 600 s, then the drain fails
    assert all(r.key.kind == "Node" or r.key.name == "web" for r in sim.report.last.rollouts)
    assert any(f'node "{node}" to drain' in r.line for r in sim.report.last.rollouts)


def lose(sim: Sim, node: str) -> list[str]:
    """``node`` stops answering: its pods become the state's Unknown ones. Returns their names."""
    names = [p.name for p in sim.view.pods[node]]
    saved = {
        attr: getattr(sim.view, attr).pop(node) for attr in ("facts", "pods", "iptables", "dns_file", "dns_running")
    }
    sim.view.errors[node] = "timed out"
    add_unknown_pods(sim.view, sim.state["pods"])
    sim.saved = saved
    return names


def test_a_lost_node_s_pods_are_evicted_after_their_toleration_and_deleted_first_when_it_returns():
    sim = Sim()
    tolerant = deployment(replicas=6).replace(
        "          containers:",
        "          tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, "
        "tolerationSeconds: 10}]\n          containers:",
    )
    manifest = objs(tolerant + "---" + SERVICE)
    sim.converge(manifest)
    stale = lose(sim, "n3")
    assert len(stale) == 2
    sim.seen = {"n1": 1000.0, "n2": 1000.0, "n3": 995.0}
    early, _, _, _ = sim.converge([], now=1004)  # 9 s unreachable: tolerated
    assert not early.creates and not early.deletes and not early.evicted  # (rules drop the Unknown pods)
    sim.seen["n3"] = 990.0
    first, _, _, _ = sim.converge([], now=1001)  # 11 s: evicted and replaced on the others
    assert set(first.evicted) == {("default", n) for n in stale}
    assert "n3 unreachable for 11s (tolerationSeconds 10)" in next(iter(first.evicted.values()))
    assert len(first.creates) == 2 and {c.node for c in first.creates} <= {"n1", "n2"}
    assert {w.name for w in first.deferred} == set(stale)  # deleted once n3 answers again
    assert all(sim.state["pods"][f"default/{n}"]["evicted"] for n in stale)
    # the node repair on its return removes them before anything else is done there
    step = stale_pods_step("n3", sim.state["pods"])
    uids = {sim.state["pods"][f"default/{n}"]["uid"] for n in stale}
    assert step is not None and step.name == "stale-pods" and all(any(u in ln for ln in step.lines) for u in uids)
    assert stale_pods_step("n1", sim.state["pods"]) is None
    running = [p for p in sim.view.all_pods() if p.status == "Running"]
    assert len(running) == 6 and {p.node for p in running} == {"n1", "n2"}
    (addrs,) = sim.state["endpoints"]["default/web"].values()
    assert sorted(a.split(":")[0] for a in addrs) == sorted(p.ip for p in running)
    # n3 answers again with its stale pods still running: they go first, never serving
    sim.view.errors.pop("n3")
    for attr, value in sim.saved.items():
        getattr(sim.view, attr)["n3"] = value
    back, _, _, _ = sim.converge([], now=1100)
    assert {d.name for p in sim.report.plans for d in p.deletes} == set(stale)
    assert not back.creates
    assert len(sim.pods("web-")) == 6 and all(n != "n3" for _, n in sim.pods("web-"))
    assert not any(r.get("evicted") for r in sim.state["pods"].values())


def test_toleration_seconds_default_forever_and_daemonsets():
    from kcli.core.eviction import toleration_seconds
    from kcli.core.objects import Toleration

    assert toleration_seconds(()) == 300
    assert toleration_seconds((Toleration("node.kubernetes.io/unreachable", "Exists", "", "NoExecute", 7),)) == 7
    assert toleration_seconds((Toleration("node.kubernetes.io/unreachable", "Exists", "", "NoExecute"),)) is None
    assert toleration_seconds((Toleration("", "Exists"),)) is None  # tolerates everything
    assert toleration_seconds((Toleration("other", "Exists", "", "NoExecute", 1),)) == 300


SECRET_APP = """
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: hunter2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 2
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
        - name: main
          image: kcli.local/busybox:1
          env: [{name: PW, valueFrom: {secretKeyRef: {name: creds, key: password}}}]
"""


def test_a_pod_reading_a_secret_is_recreated_without_the_secret_being_applied_again():
    from kcli.core.state import render_state

    sim = Sim()
    sim.converge(objs(SECRET_APP))
    assert "hunter2" not in render_state(sim.state) and sim.state["objects"]["Secret/default/creds"]["sealed"]
    lost = next(p for ps in sim.view.pods.values() for p in ps if p.name.startswith("app-"))
    sim.view.pods[lost.node].remove(lost)  # docker rm -f on its node
    first, _, _, _ = sim.converge([])  # reconcile: no manifest, no Secret given
    (create,) = first.creates
    env_file = next(ln for ln in create.unit.lines if "container-0.env" in ln and "base64 -d" in ln)
    assert (
        "PW=hunter2" in base64.b64decode(env_file.split("printf %s ")[1].split()[0]).decode()
    )  # reaches the node again
    assert create.spec_hash == lost.spec_hash  # same template, same Secret content: the same pod spec
    assert "hunter2" not in render_state(sim.state)


CLAIM = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"""


def with_claim(text: str, claim: str = "data") -> str:
    return text.replace(
        "          containers:",
        f"          volumes: [{{name: d, persistentVolumeClaim: {{claimName: {claim}}}}}]\n          containers:",
    )


def test_a_claim_binds_to_its_first_pod_s_node_and_keeps_its_pods_there():
    from kcli.core.volumes import provisioned_path

    sim = Sim()
    first, _, _, _ = sim.converge(objs(with_claim(deployment(replicas=1)) + "---" + CLAIM))
    (create,) = first.creates
    node = create.node
    rec = sim.state["claims"]["default/data"]
    assert rec["node"] == node and rec["path"] == provisioned_path("default", "data") and rec["capacity"] == 1 << 30
    assert rec["reclaimPolicy"] == "Delete" and rec["volume"].startswith("pvc-")
    assert any(f"mkdir -p {rec['path']}" in ln for ln in create.unit.lines)  # the directory, made at first use
    # kcli delete pod: it is replaced, on the claim's node, whatever the scheduler would prefer
    sim.deleting = frozenset({("default", create.name)})
    again, _, _, _ = sim.converge(objs(with_claim(deployment(replicas=1)) + "---" + CLAIM))
    assert [d.name for d in again.deletes] == [create.name] and [c.node for c in again.creates] == [node]
    assert [n for _, n in sim.pods("web-")] == [node] and create.name not in {p for p, _ in sim.pods("web-")}
    sim.deleting = frozenset()
    sim.view.pods[node] = []  # lost outside kcli: the same
    assert [c.node for c in sim.converge(objs(with_claim(deployment(replicas=1)) + "---" + CLAIM))[0].creates] == [node]
    # scaled to 3 (ReadWriteOnce: one node, several pods): all on that node
    sim.converge(objs(with_claim(deployment(replicas=3)) + "---" + CLAIM))
    assert {n for _, n in sim.pods("web-")} == {node}


def test_two_new_pods_of_one_unbound_claim_never_land_apart():
    sim = Sim()
    first, _, _, _ = sim.converge(objs(with_claim(deployment(replicas=2)) + "---" + CLAIM), converged=False)
    nodes = {c.node for p in sim.report.plans for c in p.creates}
    assert len(nodes) == 1 and sim.state["claims"]["default/data"]["node"] in nodes


def test_deleting_a_claim_removes_its_directory_once_no_pod_uses_it_and_retain_keeps_it():
    sim = Sim()
    manifest = objs(with_claim(deployment(replicas=1)) + "---" + CLAIM)
    sim.converge(manifest)
    node = sim.state["claims"]["default/data"]["node"]
    path = sim.state["claims"]["default/data"]["path"]
    from kcli.core.objects import ObjectKey

    sim.converge(
        [], delete=[ObjectKey("Deployment", "default", "web"), ObjectKey("PersistentVolumeClaim", "default", "data")]
    )
    assert sim.reclaimed == [(node, (f"rm -rf {path}",))]
    assert "claims" not in sim.state and not sim.pods("web-")
    # a pre-created volume with Retain: kept, Released, never removed
    pv = """
    apiVersion: v1
    kind: PersistentVolume
    metadata: {name: keep}
    spec: {capacity: {storage: 2Gi}, accessModes: [ReadWriteOnce], persistentVolumeReclaimPolicy: Retain,
           hostPath: {path: /srv/keep}}
    """
    claim = CLAIM.replace("resources:", "volumeName: keep, storageClassName: '', resources:")
    sim.converge(objs(with_claim(deployment(replicas=1)) + "---" + claim + "---" + pv))
    assert sim.state["claims"]["default/data"]["path"] == "/srv/keep"
    sim.reclaimed.clear()
    sim.converge(
        [], delete=[ObjectKey("Deployment", "default", "web"), ObjectKey("PersistentVolumeClaim", "default", "data")]
    )
    assert not sim.reclaimed and sim.state["claims"]["default/data"]["released"] is True


def statefulset(replicas=3, env="a", policy="OrderedReady", partition=0) -> str:
    return f"""
    apiVersion: apps/v1
    kind: StatefulSet
    metadata: {{name: db}}
    spec:
      replicas: {replicas}
      serviceName: db
      podManagementPolicy: {policy}
      updateStrategy: {{type: RollingUpdate, rollingUpdate: {{partition: {partition}}}}}
      selector: {{matchLabels: {{app: db}}}}
      template:
        metadata: {{labels: {{app: db}}}}
        spec:
          containers:
            - name: db
              image: kcli.local/busybox:1
              env: [{{name: GEN, value: "{env}"}}]
              volumeMounts: [{{name: data, mountPath: /data}}]
      volumeClaimTemplates:
        - metadata: {{name: data}}
          spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}
    """


def sts_waves(sim: Sim) -> list[list[str]]:
    """Per wave of the last converge: its pod actions, 'create db-0', 'delete db-2', ..."""
    return [
        [f"{'delete'} {d.name}" for d in p.deletes] + [f"create {c.name}" for c in p.creates]
        for p in sim.report.plans
        if p.deletes or p.creates
    ]


def test_a_statefulset_creates_its_ordinals_in_order_each_with_its_claim():
    sim = Sim()
    sim.converge(objs(statefulset()))
    assert sts_waves(sim) == [["create db-0"], ["create db-1"], ["create db-2"]]
    pods = dict(sim.pods("db-"))
    claims = sim.state["claims"]
    assert {k: (r["node"], r["template"]) for k, r in claims.items()} == {
        f"default/data-db-{i}": (pods[f"db-{i}"], "StatefulSet/db") for i in range(3)
    }
    create = sim.report.plans[0].creates[0]
    assert any("--hostname db-0" in ln for ln in create.unit.lines)
    assert any("io.kcli.dns-host=db-0.db" in ln for ln in create.unit.lines)
    # Parallel: all at once
    par = Sim()
    par.converge(objs(statefulset(policy="Parallel")))
    assert sts_waves(par) == [["create db-0", "create db-1", "create db-2"]]


def test_a_statefulset_pod_comes_back_under_its_name_on_its_claim_s_node_and_scale_keeps_the_claims():
    sim = Sim()
    sim.converge(objs(statefulset()))
    nodes = dict(sim.pods("db-"))
    sim.deleting = frozenset({("default", "db-1")})
    sim.converge(objs(statefulset()))
    sim.deleting = frozenset()
    assert sts_waves(sim) == [["delete db-1"], ["create db-1"]] and dict(sim.pods("db-")) == nodes
    sim.converge(objs(statefulset(replicas=1)))
    assert sts_waves(sim) == [["delete db-2"], ["delete db-1"]]  # highest first, one at a time
    assert [n for n, _ in sim.pods("db-")] == ["db-0"] and len(sim.state["claims"]) == 3  # claims are kept
    sim.converge(objs(statefulset(replicas=3)))
    assert dict(sim.pods("db-")) == nodes  # back on the nodes that hold their data


def test_a_statefulset_rolls_out_from_the_highest_ordinal_down_to_its_partition():
    sim = Sim()
    sim.converge(objs(statefulset()))
    sim.converge(objs(statefulset(env="b", partition=1)))
    assert sts_waves(sim) == [["delete db-2"], ["create db-2"], ["delete db-1"], ["create db-1"]]
    st = sim.report.last.pods.reconciliation.statuses[next(k for k in sim.report.last.pods.reconciliation.statuses)]
    assert (st.updated, st.ready) == (2, 3)
    sim.converge(objs(statefulset(env="b")))
    assert sts_waves(sim) == [["delete db-0"], ["create db-0"]]


def test_a_revision_whose_pods_keep_dying_fails_at_its_progress_deadline_not_as_no_progress():
    """docker may stop restarting a container that crashes at once (its restart manager is still
    busy): the pod is replaced again and again with the same name; that is the rollout failing."""
    sim = Sim()
    sim.converge(objs(deployment()))
    real = sim.execute

    def stopped(pods):
        return [
            dataclasses.replace(p, observed=dataclasses.replace(p.observed, state="broken", ready=False))
            if p.spec_hash != old_hash
            else p
            for p in pods
        ]

    def execute(units):
        wave = real(units)
        for view in (sim.view, wave.observed):  # every pod of the new revision is found stopped
            view.pods = {node: stopped(pods) for node, pods in view.pods.items()}
        return wave

    old_hash = sim.view.all_pods()[0].spec_hash
    sim.execute = execute
    bad = deployment(env="b").replace("      replicas: 3", "      replicas: 3\n      progressDeadlineSeconds: 15")
    sim.converge(objs(bad), converged=False)
    assert sim.report.rollout_errors == ['deployment "web" exceeded its progress deadline'], sim.report.unconverged
    assert len([p for p in sim.view.all_pods() if p.spec_hash == old_hash]) >= 2  # the old pods kept serving
