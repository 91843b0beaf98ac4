"""Controllers: Deployment → ReplicaSet → pods, DaemonSet, Job, bare Pods; plan converges."""

from __future__ import annotations

import dataclasses
import functools
import textwrap

import yaml

from kcli.core.controllers import ObservedPod, OwnerRef, PodPlan
from kcli.core.controllers import plan_pods as _plan_pods
from kcli.core.controllers import reconcile as _reconcile
from kcli.core.controllers.deployment import RSState, resolve_fenceposts, rolling_step
from kcli.core.controllers.pod import pick_victims
from kcli.core.objects import DeploymentStrategy, Document, ObjectKey, Source, pod_template_hash
from kcli.core.scheduler import Node, Taint
from kcli.core.validate import validate_documents

KEY = b"unit-test-cluster-secret-key-000"
plan_pods = functools.partial(_plan_pods, secret_key=KEY)
reconcile = functools.partial(_reconcile, secret_key=KEY)

GI = 2**30
NODES = [Node(f"node{i}", 2000, 4 * GI) for i in (1, 2, 3)]
ALPHABET = set("bcdfghjklmnpqrstvwxz2456789")

WEB = """
apiVersion: v1
kind: ConfigMap
metadata: {name: page}
data: {index.html: hello}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {token: s3cret}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 6
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: httpd
        image: busybox:1.36
        command: [httpd, -f, -h, /www]
        env: [{name: TOKEN, valueFrom: {secretKeyRef: {name: creds, key: token}}}]
        resources: {requests: {cpu: 100m, memory: 64Mi}}
        volumeMounts: [{name: page, mountPath: /www}]
      volumes: [{name: page, configMap: {name: page}}]
"""


def objects(text: str):
    docs = [Document(Source("m.yaml", i + 1), d) for i, d in enumerate(yaml.safe_load_all(textwrap.dedent(text)))]
    objs, errors, _ = validate_documents(docs, known=set())
    assert errors == (), errors
    return list(objs)


def replace(objs, kind, **changes):
    return [dataclasses.replace(o, **changes) if o.kind == kind else o for o in objs]


def run(plan: PodPlan, observed=(), state: str = "running") -> list[ObservedPod]:
    """What the hosts look like after the shell executed ``plan``."""
    deleted = {a.name for a in plan.deletes}
    out = [p for p in observed if p.name not in deleted]
    for a, node in plan.creates:
        out.append(
            ObservedPod(
                a.namespace,
                a.name,
                node,
                a.pod.applied,
                a.pod.owner,
                a.pod.spec_hash,
                state=state,
                labels=a.pod.labels,
                created_at=len(out),
            )
        )
    return out


def per_node(observed) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in observed:
        out[p.node] = out.get(p.node, 0) + 1
    return out


# --------------------------------------------------------------------------- Deployment


def test_deployment_creates_replicaset_named_pods_spread_over_nodes():
    objs = objects(WEB)
    plan = plan_pods(objs, [], NODES)
    deployment = objs[2]
    rs = plan.reconciliation.statuses[ObjectKey("Deployment", "default", "web")].new_replica_set
    assert rs.startswith("web-") and set(rs[4:]) <= ALPHABET
    assert len(plan.creates) == 6 and plan.deletes == () and plan.pending == ()
    for action, _ in plan.creates:
        prefix, suffix = action.name.rsplit("-", 1)
        assert prefix == rs and len(suffix) == 5 and set(suffix) <= ALPHABET
        assert action.reason == "scale web 0→6"
        assert action.pod.owner == OwnerRef("ReplicaSet", rs) and action.pod.applied == OwnerRef("Deployment", "web")
        assert action.pod.labels == {"app": "web", "pod-template-hash": rs[4:]}
    assert per_node(run(plan)) == {"node1": 2, "node2": 2, "node3": 2}
    assert plan_pods(objs, [], NODES) == plan  # deterministic
    assert rs[4:] != pod_template_hash(deployment.template)  # config hashes are folded in


def test_second_apply_changes_nothing():
    objs = objects(WEB)
    observed = run(plan_pods(objs, [], NODES))
    again = plan_pods(objs, observed, NODES)
    assert again.reconciliation.actions == ()
    assert again.placements == {p.key: p.node for p in observed}


def test_scale_down_removes_pods_and_keeps_the_spread():
    objs = objects(WEB)
    observed = run(plan_pods(objs, [], NODES))
    plan = plan_pods(replace(objs, "Deployment", replicas=3), observed, NODES)
    assert [a.reason for a in plan.deletes] == ["scale web 6→3"] * 3 and plan.creates == ()
    assert per_node(run(plan, observed)) == {"node1": 1, "node2": 1, "node3": 1}


def roll(objs, observed, known_configs=None, now=0.0, state="running"):
    """Plan and run until nothing is left to do: the steps' (creates, deletes), the hosts after."""
    steps = []
    while True:
        plan = plan_pods(objs, observed, NODES, known_configs=known_configs, now=now)
        if not plan.reconciliation.actions:
            return steps, observed
        steps.append((len(plan.creates), len(plan.deletes)))
        observed = run(plan, observed, state)
        assert len(steps) < 50


def with_image(objs, image):
    dep = next(o for o in objs if o.kind == "Deployment")
    c = dep.template.spec.containers[0]
    new_spec = dataclasses.replace(dep.template.spec, containers=(dataclasses.replace(c, image=image),))
    return replace(objs, "Deployment", template=dataclasses.replace(dep.template, spec=new_spec))


def test_image_change_rolls_out_through_a_new_replicaset():
    objs = objects(WEB)  # 6 replicas, default strategy: maxSurge 25% → 2 (rounds up), maxUnavailable 25% → 1 (down)
    observed = run(plan_pods(objs, [], NODES))
    old_hash = observed[0].spec_hash
    changed = with_image(objs, "busybox:1.37")
    first = plan_pods(changed, observed, NODES)
    new_hash = first.creates[0][0].pod.spec_hash
    assert len(first.creates) == 2 and not first.deletes  # a step that grows the new ReplicaSet does nothing else
    assert {a.reason for a, _ in first.creates} == {f"spec-hash {old_hash}→{new_hash}; scale web 0→2"}
    assert first.creates[0][0].pod.owner != observed[0].owner
    status = first.reconciliation.statuses[ObjectKey("Deployment", "default", "web")]
    assert [(s.replicas, s.current) for s in status.replica_sets] == [(6, 0), (0, 6)]
    assert (
        status.rollout == 'Waiting for deployment "web" rollout to finish: 0 out of 6 new replicas have been updated...'
    )
    second = plan_pods(changed, run(first, observed), NODES)
    assert not second.creates and len(second.deletes) == 3  # 8 pods, at least 5 available: 3 old ones go
    assert {a.reason for a in second.deletes} == {
        f"spec-hash {old_hash}→{new_hash}: RollingUpdate of web, {observed[0].owner.name} 6→3"
    }
    steps, after = roll(changed, observed)
    for creates, deletes in steps:  # never below 6 - 1 available, never above 6 + 2 pods
        assert not (creates and deletes)
    assert sum(c for c, _ in steps) == 6 and sum(d for _, d in steps) == 6
    assert len(after) == 6 and {p.spec_hash for p in after} == {new_hash}
    done = plan_pods(changed, after, NODES).reconciliation.statuses[ObjectKey("Deployment", "default", "web")]
    assert done.rollout == "" and done.updated == done.available == 6


def test_rolling_update_never_goes_below_min_available_nor_above_max_surge():
    for surge, unavailable in ((1, 0), (0, 1), ("50%", "0%"), (3, 2)):
        objs = [
            dataclasses.replace(o, strategy=DeploymentStrategy("RollingUpdate", surge, unavailable))
            if o.kind == "Deployment"
            else o
            for o in objects(WEB)
        ]
        observed = run(plan_pods(objs, [], NODES))
        changed = with_image(objs, "busybox:1.37")
        s, u = resolve_fenceposts(surge, unavailable, 6)
        while True:
            plan = plan_pods(changed, observed, NODES)
            if not plan.reconciliation.actions:
                break
            observed = run(plan, observed)
            assert len(observed) <= 6 + s and len(observed) >= 6 - u, (surge, unavailable, len(observed))
        assert len(observed) == 6 and len({p.spec_hash for p in observed}) == 1


def test_recreate_deletes_every_old_pod_before_the_new_replicaset_starts():
    objs = [
        dataclasses.replace(o, strategy=DeploymentStrategy("Recreate")) if o.kind == "Deployment" else o
        for o in objects(WEB)
    ]
    observed = run(plan_pods(objs, [], NODES))
    steps, after = roll(with_image(objs, "busybox:1.37"), observed)
    assert steps == [(0, 6), (6, 0)]


def test_new_pods_count_as_available_only_after_min_ready_seconds():
    objs = [dataclasses.replace(o, min_ready_seconds=30) if o.kind == "Deployment" else o for o in objects(WEB)]
    observed = run(plan_pods(objs, [], NODES))
    changed = with_image(objs, "busybox:1.37")
    first = plan_pods(changed, observed, NODES, now=1000)
    fresh = [dataclasses.replace(p, created_at=990) for p in run(first, [])]  # 10 s old
    waiting = plan_pods(changed, observed + fresh, NODES, now=1000)
    status = waiting.reconciliation.statuses[ObjectKey("Deployment", "default", "web")]
    assert len(waiting.deletes) == 1  # only what maxUnavailable (1) allows while the new pods are not available
    later = plan_pods(changed, observed + fresh, NODES, now=1021)
    assert len(later.deletes) == 3  # available now
    assert status.available == 6  # the old ones (created at 0..5) are long available


def test_changed_configmap_or_secret_rolls_out_the_pods_that_use_them():
    objs = objects(WEB)
    observed = run(plan_pods(objs, [], NODES))
    for changed in (
        replace(objs, "ConfigMap", data={"index.html": "bye"}),
        replace(objs, "Secret", data={"token": b"other"}),
    ):
        steps, after = roll(changed, observed)
        assert sum(d for _, d in steps) == 6 and len(after) == 6
        assert not {p.name for p in after} & {p.name for p in observed}
    unrelated = objs + objects("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {a: b}\n")
    assert plan_pods(unrelated, observed, NODES).reconciliation.actions == ()


def test_configs_known_in_the_cluster_are_part_of_the_hash():
    objs = [o for o in objects(WEB) if o.kind == "Deployment"]
    known = {ObjectKey("ConfigMap", "default", "page"): "h1", ObjectKey("Secret", "default", "creds"): "h2"}
    observed = run(plan_pods(objs, [], NODES, known_configs=known))
    assert plan_pods(objs, observed, NODES, known_configs=known).reconciliation.actions == ()
    changed = {**known, ObjectKey("ConfigMap", "default", "page"): "h3"}
    steps, after = roll(objs, observed, known_configs=changed)
    assert sum(d for _, d in steps) == 6


def test_broken_pod_is_replaced():
    objs = objects(WEB)
    observed = run(plan_pods(objs, [], NODES))
    broken = dataclasses.replace(observed[0], state="broken", detail="container httpd is missing")
    plan = plan_pods(objs, [broken] + observed[1:], NODES)
    assert [a.describe() for a in plan.deletes] == [
        f"delete pod default/{broken.name} on node1 (Deployment/web): pod {broken.name} is broken: "
        "container httpd is missing"
    ]
    ((create, node),) = plan.creates
    assert create.reason == f"replaces pod {broken.name} is broken: container httpd is missing"
    assert node == "node1" and create.name != broken.name


def test_pick_victims_follows_upstream_ranking():
    def p(name, node, **kw):
        return ObservedPod("default", name, node, None, **kw)

    pods = [
        p("old-running", "a", created_at=1),
        p("new-running", "a", created_at=9),
        p("crashy", "b", restart_count=5, created_at=1),
        p("calm", "b", created_at=1),
        p("unready", "c", ready=False),
        p("starting", "c", state="created"),
    ]
    assert [v.name for v in pick_victims(pods, 6)] == [
        "starting",
        "unready",
        "crashy",
        "new-running",
        "calm",
        "old-running",
    ]
    assert pick_victims(pods, 0) == []


def test_generated_names_never_collide_with_existing_pods():
    objs = objects(WEB)
    plan = plan_pods(objs, [], NODES, name_suffix=lambda base, attempt: "bbbbb" if attempt < 3 else f"x{attempt:04d}")
    names = sorted(a.name.rsplit("-", 1)[1] for a, _ in plan.creates)
    assert names == ["bbbbb", "x0003", "x0004", "x0005", "x0006", "x0007"]
    seeded = plan_pods(objs, [], NODES, seed="cluster-a")
    assert {a.name for a, _ in seeded.creates} != {a.name for a, _ in plan_pods(objs, [], NODES).creates}


# --------------------------------------------------------------------------- DaemonSet

DS = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {role: worker}
      containers: [{name: a, image: busybox, resources: {requests: {memory: 1Gi}}}]
"""


def workers(*names, **kw) -> list[Node]:
    return [Node(n, 2000, 4 * GI, labels={"role": "worker"}, **kw) for n in names]


def test_daemonset_runs_one_pod_per_eligible_node_and_follows_nodes():
    objs = objects(DS)
    nodes = workers("w1", "w2") + [
        Node("cp", 2000, 4 * GI, labels={"role": "worker"}, taints=(Taint("cp"),)),
        Node("other", 2000, 4 * GI),
        Node("cordoned", 2000, 4 * GI, labels={"role": "worker"}, unschedulable=True),
    ]
    plan = plan_pods(objs, [], nodes)
    assert sorted(n for _, n in plan.creates) == ["cordoned", "w1", "w2"]
    assert {a.reason for a, _ in plan.creates} == {
        "node cordoned has no agent pod",
        "node w1 has no agent pod",
        "node w2 has no agent pod",
    }
    observed = run(plan)
    assert plan_pods(objs, observed, nodes).reconciliation.actions == ()
    joined = nodes + workers("w3")
    ((create, node),) = plan_pods(objs, observed, joined).creates
    assert node == "w3" and create.pod.node_name == "w3"
    relabelled = [dataclasses.replace(n, labels={}) if n.name == "w1" else n for n in nodes]
    (gone,) = plan_pods(objs, observed, relabelled).deletes
    assert gone.reason == "node w1 is not eligible for agent" and gone.observed.node == "w1"
    status = plan_pods(objs, observed, nodes).reconciliation.statuses[ObjectKey("DaemonSet", "default", "agent")]
    assert (status.desired, status.current, status.up_to_date, status.misscheduled) == (3, 3, 3, 0)


def test_daemonset_pod_that_does_not_fit_stays_pending():
    full = [Node("w1", 2000, GI // 2, labels={"role": "worker"})]
    plan = plan_pods(objects(DS), [], full)
    ((action, message),) = plan.pending
    assert message == "0/1 nodes are available: 1 Insufficient memory."


def test_daemonset_template_change_replaces_each_pod_and_duplicates_go():
    objs = objects(DS)
    nodes = workers("w1", "w2")
    observed = run(plan_pods(objs, [], nodes))
    extra = dataclasses.replace(observed[0], name="agent-extra", created_at=99)
    plan = plan_pods(objs, observed + [extra], nodes)
    assert [(a.name, a.reason) for a in plan.deletes] == [("agent-extra", "more than one agent pod on node w1")]
    ds = objs[0]
    new = dataclasses.replace(ds.template, labels={"app": "agent", "v": "2"})
    changed = dataclasses.replace(ds, template=new)
    plan = plan_pods([changed], observed, nodes)  # maxUnavailable 1: one node at a time
    assert [(a.observed.node, a.reason.endswith(": RollingUpdate of agent")) for a in plan.deletes] == [("w1", True)]
    assert [n for _, n in plan.creates] == ["w1"]
    status = plan.reconciliation.statuses[ObjectKey("DaemonSet", "default", "agent")]
    assert (
        status.rollout == 'Waiting for daemon set "agent" rollout to finish: 0 out of 2 new pods have been updated...'
    )
    step2 = plan_pods([changed], run(plan, observed), nodes)
    assert [a.observed.node for a in step2.deletes] == ["w2"] and [n for _, n in step2.creates] == ["w2"]
    after = run(step2, run(plan, observed))
    done = plan_pods([changed], after, nodes)
    assert done.reconciliation.actions == ()
    assert done.reconciliation.statuses[ObjectKey("DaemonSet", "default", "agent")].rollout == ""
    ondelete = dataclasses.replace(
        ds, template=new, update_strategy=dataclasses.replace(ds.update_strategy, type="OnDelete")
    )
    assert plan_pods([ondelete], observed, nodes).reconciliation.actions == ()


def test_daemonset_rolling_update_with_max_unavailable_2_and_with_surge():
    objs = objects(DS)
    nodes = workers("w1", "w2", "w3")
    observed = run(plan_pods(objs, [], nodes))
    ds = objs[0]
    new = dataclasses.replace(ds.template, labels={"app": "agent", "v": "2"})
    two = dataclasses.replace(
        ds, template=new, update_strategy=dataclasses.replace(ds.update_strategy, max_unavailable=2)
    )
    plan = plan_pods([two], observed, nodes)
    assert sorted(a.observed.node for a in plan.deletes) == ["w1", "w2"] and len(plan.creates) == 2
    surge = dataclasses.replace(
        ds, template=new, update_strategy=dataclasses.replace(ds.update_strategy, max_unavailable=0, max_surge=1)
    )
    first = plan_pods([surge], observed, nodes)
    assert not first.deletes and [n for _, n in first.creates] == ["w1"]  # beside the old pod
    second = plan_pods([surge], run(first, observed), nodes)
    assert [a.observed.node for a in second.deletes] == ["w1"]  # the new one is available: the old one goes
    starting = plan_pods([surge], run(first, observed, state="created"), nodes)
    assert not starting.deletes and not starting.creates  # not yet: nothing else moves either
    st = starting.reconciliation.statuses[ObjectKey("DaemonSet", "default", "agent")]
    assert st.waiting and "1 out of 3 new pods" in st.rollout


# --------------------------------------------------------------------------- Job

JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: pi}
spec:
  completions: 3
  parallelism: 2
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: pi, image: perl}]
"""


def finish(observed, name, code):
    return [dataclasses.replace(p, state="exited", exit_code=code) if p.name == name else p for p in observed]


def job_status(plan):
    return plan.reconciliation.statuses[ObjectKey("Job", "default", "pi")]


def test_job_runs_to_completion():
    objs = objects(JOB)
    plan = plan_pods(objs, [], NODES)
    assert len(plan.creates) == 2
    assert plan.creates[0][0].reason == "job pi: 0/3 succeeded, parallelism 2"
    assert plan.creates[0][0].pod.labels == {"batch.kubernetes.io/job-name": "pi", "job-name": "pi"}
    observed = run(plan)
    observed = finish(observed, observed[0].name, 0)
    plan = plan_pods(objs, observed, NODES)
    assert len(plan.creates) == 1 and job_status(plan).succeeded == 1
    observed = run(plan, observed)
    for p in list(observed):
        observed = finish(observed, p.name, 0)
    plan = plan_pods(objs, observed, NODES)
    assert plan.reconciliation.actions == ()
    assert (job_status(plan).condition, job_status(plan).succeeded) == ("Complete", 3)
    assert len(plan.reconciliation.pods) == 3  # finished pods are kept


def test_job_fails_after_backoff_limit_and_stops_active_pods():
    objs = objects(JOB)
    observed = run(plan_pods(objs, [], NODES))
    observed = finish(observed, observed[0].name, 1)
    plan = plan_pods(objs, observed, NODES)
    assert job_status(plan).failed == 1 and len(plan.creates) == 1  # one failure is within backoffLimit 1
    observed = finish(run(plan, observed), plan.creates[0][0].name, 2)
    plan = plan_pods(objs, observed, NODES)
    assert (job_status(plan).condition, job_status(plan).reason) == ("Failed", "BackoffLimitExceeded")
    assert [a.reason for a in plan.deletes] == ["job pi failed: BackoffLimitExceeded"] and plan.creates == ()


def test_job_on_failure_counts_restarts():
    objs = objects(JOB.replace("restartPolicy: Never", "restartPolicy: OnFailure"))
    observed = [dataclasses.replace(p, restart_count=1) for p in run(plan_pods(objs, [], NODES))]
    assert job_status(plan_pods(objs, observed, NODES)).condition == "Failed"


def test_work_queue_job_completes_when_one_pod_succeeded_and_none_is_active():
    objs = objects(JOB.replace("  completions: 3\n", ""))
    observed = run(plan_pods(objs, [], NODES))
    observed = finish(observed, observed[0].name, 0)
    plan = plan_pods(objs, observed, NODES)
    assert plan.reconciliation.actions == () and job_status(plan).condition == ""
    observed = finish(observed, observed[1].name, 0)
    assert job_status(plan_pods(objs, observed, NODES)).condition == "Complete"


# --------------------------------------------------------------------------- bare Pods


POD = """
apiVersion: v1
kind: Pod
metadata: {name: once, labels: {app: once}}
spec:
  restartPolicy: Never
  containers: [{name: c, image: busybox, command: [sh, -c, "echo hi"]}]
"""


def test_bare_pod_lifecycle():
    objs = objects(POD)
    plan = plan_pods(objs, [], NODES)
    ((create, node),) = plan.creates
    assert (create.name, create.reason, node) == ("once", "new pod", "node1")
    assert create.pod.manifest() == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "once", "namespace": "default", "labels": {"app": "once"}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "echo hi"]}],
        },
    }
    observed = [dataclasses.replace(p, state="exited", exit_code=0) for p in run(plan)]
    plan = plan_pods(objs, observed, NODES)
    assert plan.reconciliation.actions == ()
    assert plan.reconciliation.statuses[ObjectKey("Pod", "default", "once")].phase == "Succeeded"
    changed = objects(POD.replace("echo hi", "echo bye"))
    plan = plan_pods(changed, observed, NODES)
    assert [a.verb for a in plan.reconciliation.actions] == ["delete", "create"]
    assert {a.name for a in plan.reconciliation.actions} == {"once"}
    assert plan.deletes[0].reason.startswith("spec-hash ")


def test_unschedulable_pod_stays_pending_with_the_reason():
    objs = objects(POD.replace("restartPolicy: Never", "restartPolicy: Never\n  nodeSelector: {disk: ssd}"))
    plan = plan_pods(objs, [], NODES)
    assert plan.creates == ()
    assert [(a.name, m) for a, m in plan.pending] == [
        ("once", "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.")
    ]


def test_pods_of_objects_not_in_the_set_are_orphans_and_still_hold_resources():
    orphan = ObservedPod("default", "old-x", "node1", OwnerRef("Deployment", "old"), memory=3 * GI, cpu_milli=10)
    rec = reconcile(objects(POD), [orphan], NODES)
    assert rec.orphans == (orphan,)
    big = POD.replace("command:", "resources: {requests: {memory: 2Gi}}, command:")
    placed = plan_pods(objects(big), [orphan], [NODES[0], NODES[1]])
    assert placed.creates[0][1] == "node2"


# --------------------------------------------------------------------------- rolling update math


def test_resolve_fenceposts_reference_examples():
    assert [resolve_fenceposts("25%", "25%", n) for n in (1, 3, 4, 10)] == [(1, 0), (1, 0), (1, 1), (3, 2)]
    assert resolve_fenceposts(0, 0, 5) == (0, 1)
    assert resolve_fenceposts(2, "50%", 5) == (2, 2)


def test_rolling_step_walks_a_rollout_to_the_end():
    # replicas 3, 25%/25% → surge 1, unavailable 0: never below 3 available, never above 4 pods.
    new, old = RSState(0, 0), [RSState(3, 3)]
    steps = []
    for _ in range(12):
        n, olds = rolling_step(3, "25%", "25%", new, old)
        steps.append((n, olds))
        # pods become available as soon as they exist (no probes in this simulation)
        new, old = RSState(n, n), [RSState(r, r) for r in olds]
        if n == 3 and olds == (0,):
            break
    assert steps == [(1, (3,)), (1, (2,)), (2, (2,)), (2, (1,)), (3, (1,)), (3, (0,))]


def test_rolling_step_removes_unhealthy_old_pods_first_and_waits_for_availability():
    assert rolling_step(4, "25%", "25%", RSState(1, 0), [RSState(4, 2)]) == (1, (3,))
    assert rolling_step(4, 0, 1, RSState(1, 0), [RSState(3, 3)]) == (1, (3,))  # 3 available = minimum: wait
    assert rolling_step(3, "25%", "25%", RSState(5, 5), []) == (3, ())


def test_a_crash_looping_new_revision_stalls_the_rollout_and_time_may_still_fix_it():
    objs = objects(WEB)
    observed = run(plan_pods(objs, [], NODES))
    changed = with_image(objs, "busybox:1.37")
    steps, after = roll(changed, observed, state="restarting")  # every new pod crash-loops
    old = [p for p in after if p.spec_hash == observed[0].spec_hash]
    assert len(old) == 5 and len(after) == 8  # maxUnavailable 1 and maxSurge 2, as upstream: then it stalls
    status = plan_pods(changed, after, NODES).reconciliation.statuses[ObjectKey("Deployment", "default", "web")]
    assert "3 out of 6 new replicas" in status.rollout and status.waiting  # a restart may still fix it


RS = """
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  replicas: 2
  selector: {matchLabels: {app: rs}}
  template:
    metadata: {labels: {app: rs}}
    spec: {containers: [{name: app, image: "busybox:1.36"}]}
"""


def test_a_replicasets_template_edit_keeps_its_running_pods_as_upstream():
    objs = objects(RS)
    observed = run(plan_pods(objs, [], NODES))
    edited = objects(RS.replace("busybox:1.36", "busybox:1.37"))
    assert plan_pods(edited, observed, NODES).reconciliation.actions == ()  # running pods stay
    more = plan_pods(
        objects(RS.replace("busybox:1.36", "busybox:1.37").replace("replicas: 2", "replicas: 3")), observed, NODES
    )
    ((create, _),) = more.creates  # only new pods use the new template
    assert create.pod.template.spec.containers[0].image == "busybox:1.37" and not more.deletes
