"""Pure scheduler: filters, scores, spreading, kubectl-style reasons, determinism."""

from __future__ import annotations

import random

from kcli.core.objects import (
    Container,
    ContainerPort,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodSpec,
    PreferredSchedulingTerm,
    Resources,
    Toleration,
)
from kcli.core.scheduler import (
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    HostPort,
    Node,
    SchedPod,
    SchedProfile,
    Taint,
    _prefer_no_schedule_count,
    _preferred_weight,
    pod_requests,
    profile_for,
    schedule,
    static_reason,
)

GI = 2**30
MI = 2**20
CONTROL_PLANE = Taint("node-role.kubernetes.io/control-plane", "", "NoSchedule")


def nodes3(**kw) -> list[Node]:
    return [Node(f"node{i}", 2000, 4 * GI, **kw) for i in (1, 2, 3)]


def pod(name: str, owner: str = "", **profile) -> SchedPod:
    return SchedPod("default", name, SchedProfile(**profile), owner)


def placed(result) -> dict[str, str]:
    return {k[1]: v for k, v in result.placements.items()}


def reasons(result) -> dict[str, str]:
    return {k[1]: v for k, v in result.unschedulable.items()}


def test_insufficient_memory_message_is_kubectls():
    r = schedule([pod("big", memory=8 * GI)], nodes3())
    assert reasons(r) == {"big": "0/3 nodes are available: 3 Insufficient memory."}
    assert r.placements == {}


def test_taint_and_affinity_reasons_counted_and_sorted():
    nodes = [
        Node("cp", 2000, 4 * GI, taints=(CONTROL_PLANE,)),
        Node("w1", 2000, 4 * GI, labels={"disk": "hdd"}),
        Node("w2", 2000, 4 * GI),
    ]
    r = schedule([pod("p", node_selector=(("disk", "ssd"),))], nodes)
    assert reasons(r) == {
        "p": "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match Pod's node "
        "affinity/selector."
    }


def test_every_insufficient_resource_is_listed():
    r = schedule([pod("p", cpu_milli=3000, memory=8 * GI, extended=(("nvidia.com/gpu", 1),))], nodes3())
    assert reasons(r)["p"] == (
        "0/3 nodes are available: 3 Insufficient cpu, 3 Insufficient memory, 3 Insufficient nvidia.com/gpu."
    )


def test_reason_histogram_is_sorted_as_strings_like_upstream():
    nodes = [Node(f"n{i:02d}", 100, GI) for i in range(10)] + [
        Node("x1", 100, GI, unschedulable=True),
        Node("x2", 100, GI, unschedulable=True),
    ]
    r = schedule([pod("p", cpu_milli=500)], nodes)
    assert reasons(r)["p"] == "0/12 nodes are available: 10 Insufficient cpu, 2 node(s) were unschedulable."


def test_no_nodes():
    assert reasons(schedule([pod("p")], []))["p"] == "no nodes available to schedule pods"


def test_replicas_of_one_owner_spread_evenly():
    pods = [pod(f"web-{i}", "rs/web", cpu_milli=100, memory=128 * MI) for i in range(6)]
    assert placed(schedule(pods, nodes3())) == {
        "web-0": "node1",
        "web-1": "node2",
        "web-2": "node3",
        "web-3": "node1",
        "web-4": "node2",
        "web-5": "node3",
    }


def test_spread_accounts_for_running_replicas():
    running = [(pod("web-a", "rs/web"), "node1"), (pod("web-b", "rs/web"), "node1"), (pod("web-c", "rs/web"), "node2")]
    r = schedule([pod("web-d", "rs/web"), pod("web-e", "rs/web")], nodes3(), running)
    assert placed(r) == {"web-d": "node3", "web-e": "node2"}


def test_running_pods_keep_their_node_and_consume_resources():
    running = [(pod("hog", memory=3 * GI), "node1"), (pod("hog2", memory=3 * GI), "node2")]
    r = schedule([pod("p", memory=3 * GI), pod("q", memory=3 * GI)], nodes3(), running)
    assert placed(r) == {"p": "node3"}
    assert reasons(r) == {"q": "0/3 nodes are available: 3 Insufficient memory."}


def test_least_allocated_prefers_the_emptier_node():
    nodes = [Node("small", 1000, 2 * GI), Node("large", 8000, 16 * GI)]
    assert placed(schedule([pod("p", cpu_milli=500, memory=GI)], nodes)) == {"p": "large"}


def test_ties_go_to_the_first_node_name_whatever_the_input_order():
    nodes = nodes3()
    assert placed(schedule([pod("p")], nodes[::-1])) == {"p": "node1"}


def test_schedule_is_deterministic():
    nodes = [Node(f"n{i}", 4000, 8 * GI, labels={"zone": "abc"[i % 3]}) for i in range(20)]
    pods = [pod(f"p{i}", f"rs/{i % 4}", cpu_milli=100 * (i % 5), memory=MI * (i % 7)) for i in range(200)]
    assert schedule(pods, nodes) == schedule(pods, nodes)


def test_node_affinity_required_and_preferred():
    nodes = [
        Node("a", 2000, 4 * GI, labels={"zone": "z1", "gen": "3"}),
        Node("b", 2000, 4 * GI, labels={"zone": "z2", "gen": "5"}),
        Node("c", 2000, 4 * GI, labels={"zone": "z3"}),
    ]
    gt4 = (NodeSelectorTerm((NodeSelectorRequirement("gen", "Gt", ("4",)),)),)
    not_z1 = (NodeSelectorTerm((NodeSelectorRequirement("zone", "NotIn", ("z1",)),)),)
    prefer_c = (PreferredSchedulingTerm(50, NodeSelectorTerm((NodeSelectorRequirement("zone", "In", ("z3",)),))),)
    r = schedule([pod("gt", required_terms=gt4), pod("pref", required_terms=not_z1, preferred_terms=prefer_c)], nodes)
    assert placed(r) == {"gt": "b", "pref": "c"}
    exists = (NodeSelectorTerm((NodeSelectorRequirement("nope", "Exists"),)),)
    assert reasons(schedule([pod("x", required_terms=exists)], nodes))["x"] == (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
    )
    by_name = (NodeSelectorTerm((), (NodeSelectorRequirement("metadata.name", "In", ("c",)),)),)
    assert placed(schedule([pod("f", required_terms=by_name)], nodes)) == {"f": "c"}


def test_tolerations():
    nodes = [
        Node("cp", 2000, 4 * GI, taints=(CONTROL_PLANE,)),
        Node("gpu", 2000, 4 * GI, taints=(Taint("gpu", "yes", "NoExecute"),)),
    ]
    tol_cp = (Toleration("node-role.kubernetes.io/control-plane", "Exists", "", "NoSchedule"),)
    assert placed(schedule([pod("p", tolerations=tol_cp)], nodes)) == {"p": "cp"}
    wrong_value = (Toleration("gpu", "Equal", "no", ""),)
    assert reasons(schedule([pod("q", tolerations=wrong_value)], nodes))["q"] == (
        "0/2 nodes are available: 1 node(s) had untolerated taint {gpu: yes}, 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }."
    )
    everything = (Toleration("", "Exists"),)
    assert placed(schedule([pod("r", tolerations=everything)], nodes)) == {"r": "cp"}


def test_prefer_no_schedule_taint_is_avoided_not_forbidden():
    nodes = [Node("a", 2000, 4 * GI, taints=(Taint("spot", "", "PreferNoSchedule"),)), Node("b", 2000, 4 * GI)]
    assert placed(schedule([pod("p")], nodes)) == {"p": "b"}
    assert placed(schedule([pod("p")], nodes[:1])) == {"p": "a"}


def test_cordoned_nodes_are_skipped():
    nodes = nodes3()
    nodes[0] = Node("node1", 2000, 4 * GI, unschedulable=True)
    r = schedule([pod(f"p{i}", "rs/x") for i in range(4)], nodes)
    assert set(placed(r).values()) == {"node2", "node3"}
    r = schedule([pod("p", node_name="node1")], nodes)
    assert reasons(r)["p"] == (
        "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't match the requested node name."
    )


def test_node_name_pins_the_pod():
    r = schedule(
        [pod("a", node_name="node3"), pod("b", node_name="node3", memory=5 * GI), pod("c", node_name="gone")], nodes3()
    )
    assert placed(r) == {"a": "node3"}
    assert reasons(r) == {
        "b": "0/3 nodes are available: 1 Insufficient memory, 2 node(s) didn't match the requested node name.",
        "c": "0/3 nodes are available: 3 node(s) didn't match the requested node name.",
    }


def test_host_port_conflicts():
    p80 = (HostPort(80),)
    r = schedule([pod(f"w{i}", "ds", host_ports=p80) for i in range(4)], nodes3())
    assert sorted(placed(r).values()) == ["node1", "node2", "node3"]
    assert reasons(r) == {
        "w3": "0/3 nodes are available: 3 node(s) didn't have free ports for the requested pod ports."
    }
    udp = (HostPort(80, "UDP"),)
    ip1, ip2 = (HostPort(80, "TCP", "10.0.0.1"),), (HostPort(80, "TCP", "10.0.0.2"),)
    one = [Node("n", 2000, 4 * GI)]
    assert len(schedule([pod("a", host_ports=p80), pod("b", host_ports=udp)], one).placements) == 2
    assert len(schedule([pod("a", host_ports=ip1), pod("b", host_ports=ip2)], one).placements) == 2
    assert len(schedule([pod("a", host_ports=ip1), pod("b", host_ports=p80)], one).placements) == 1


def test_too_many_pods():
    r = schedule([pod(f"p{i}") for i in range(3)], [Node("n", 2000, 4 * GI, pods=2)])
    assert reasons(r) == {"p2": "0/1 nodes are available: 1 Too many pods."}


def test_ephemeral_storage_is_only_checked_where_reported():
    eph = (("ephemeral-storage", GI),)
    assert placed(schedule([pod("p", extended=eph)], [Node("n", 1, 1)])) == {"p": "n"}
    full = Node("n", 1, 1, extended={"ephemeral-storage": GI // 2})
    assert reasons(schedule([pod("p", extended=eph)], [full]))["p"] == (
        "0/1 nodes are available: 1 Insufficient ephemeral-storage."
    )


def _c(name: str, cpu: int = 0, mem: int = 0, restart: str = "", ports=()) -> Container:
    return Container(
        name,
        "img",
        "IfNotPresent",
        resources=Resources({"cpu": cpu, "memory": mem}),
        restart_policy=restart,
        ports=ports,
    )


def test_pod_requests_with_init_containers_and_sidecars():
    spec = PodSpec(
        containers=(_c("a", 100, 10), _c("b", 200, 20)),
        init_containers=(_c("init1", 500, 5), _c("side", 50, 50, "Always"), _c("init2", 100, 100)),
    )
    # app sum 300m/30 + sidecar 50m/50 = 350m/80; init1 alone 500m; init2 + sidecar = 150m/150
    assert pod_requests(spec) == {"cpu": 500, "memory": 150}


def test_profile_from_pod_spec():
    spec = PodSpec(
        containers=(_c("a", 100, MI, ports=(ContainerPort(80, host_port=8080), ContainerPort(81))),),
        node_selector={"disk": "ssd"},
    )
    prof = profile_for(spec)
    assert (prof.cpu_milli, prof.memory, prof.node_selector, prof.host_ports) == (
        100,
        MI,
        (("disk", "ssd"),),
        (HostPort(8080),),
    )
    host = PodSpec(containers=(_c("a", ports=(ContainerPort(53, "UDP"),)),), host_network=True)
    assert profile_for(host).host_ports == (HostPort(53, "UDP"),)


# --------------------------------------------------------------------------- against a brute-force reference


def brute_force(pods, nodes, existing=()):
    """O(pods × nodes) reference with the documented score; used to check the lazy-heap version."""
    used = {n.name: [0, 0, 0, 0, 0, {}, set()] for n in nodes}  # cpu, mem, cpu_nz, mem_nz, count, owners, ports
    {n.name: n for n in nodes}

    def add(p, n):
        u = used[n]
        pr = p.profile
        u[0] += pr.cpu_milli
        u[1] += pr.memory
        u[2] += pr.cpu_milli or DEFAULT_MILLI_CPU_REQUEST
        u[3] += pr.memory or DEFAULT_MEMORY_REQUEST
        u[4] += 1
        if p.owner:
            u[5][p.owner] = u[5].get(p.owner, 0) + 1
        u[6].update(hp.port for hp in pr.host_ports)

    for p, n in existing:
        add(p, n)
    out = {}
    for p in pods:
        pr = p.profile
        feasible = [n for n in nodes if static_reason(pr, n) is None]
        max_w = max((_preferred_weight(pr, n) for n in feasible), default=0)
        max_t = max((_prefer_no_schedule_count(pr, n) for n in feasible), default=0)
        best = None
        for n in sorted(feasible, key=lambda n: n.name):
            u = used[n.name]
            if u[4] + 1 > n.pods or u[0] + pr.cpu_milli > n.cpu_milli or u[1] + pr.memory > n.memory:
                continue
            if any(hp.port in u[6] for hp in pr.host_ports):
                continue
            la = 0
            for alloc, req in (
                (n.cpu_milli, u[2] + (pr.cpu_milli or DEFAULT_MILLI_CPU_REQUEST)),
                (n.memory, u[3] + (pr.memory or DEFAULT_MEMORY_REQUEST)),
            ):
                if alloc > 0 and req <= alloc:
                    la += (alloc - req) * 100 // alloc
            s = la // 2
            s += 2 * (_preferred_weight(pr, n) * 100 // max_w if max_w else 0)
            s += 3 * (100 - _prefer_no_schedule_count(pr, n) * 100 // max_t if max_t else 100)
            if p.owner:
                s += 2 * (100 // (1 + u[5].get(p.owner, 0)))
            if best is None or s > best[0]:
                best = (s, n.name)
        if best:
            out[p.key] = best[1]
            add(p, best[1])
    return out


def test_matches_brute_force_reference_on_random_clusters():
    rng = random.Random(7)
    for _ in range(60):
        nodes = []
        for i in range(rng.randint(1, 12)):
            taints = (Taint("t", "", rng.choice(["NoSchedule", "PreferNoSchedule"])),) if rng.random() < 0.3 else ()
            nodes.append(
                Node(
                    f"n{i:02d}",
                    rng.choice([1000, 2000, 4000]),
                    rng.choice([1, 2, 4]) * GI,
                    pods=rng.choice([3, 5, 110]),
                    labels={"zone": rng.choice("ab")},
                    taints=taints,
                    unschedulable=rng.random() < 0.1,
                )
            )
        profiles = []
        for _ in range(4):
            pref = (
                (
                    PreferredSchedulingTerm(
                        rng.randint(1, 100),
                        NodeSelectorTerm((NodeSelectorRequirement("zone", "In", (rng.choice("ab"),)),)),
                    ),
                )
                if rng.random() < 0.5
                else ()
            )
            profiles.append(
                dict(
                    cpu_milli=rng.choice([0, 100, 300, 700]),
                    memory=rng.choice([0, 64 * MI, 512 * MI]),
                    preferred_terms=pref,
                    tolerations=(Toleration("t", "Exists"),) if rng.random() < 0.3 else (),
                    host_ports=(HostPort(80),) if rng.random() < 0.2 else (),
                )
            )
        pods = [pod(f"p{i}", rng.choice(["", "o1", "o2"]), **rng.choice(profiles)) for i in range(rng.randint(1, 40))]
        existing = [(pod(f"e{i}", "o1", cpu_milli=100), rng.choice(nodes).name) for i in range(rng.randint(0, 5))]
        assert dict(schedule(pods, nodes, existing).placements) == brute_force(pods, nodes, existing)
