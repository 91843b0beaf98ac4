"""Scheduler and planner on 10,000 pods × 1,000 nodes: pure, no SSH. Prints a markdown table.

    python bench/bench_scheduler.py [--runs 5] [--markdown]

Each case is timed with time.perf_counter over ``--runs`` runs (after one warm-up run that is
not counted); the table shows the median, min and max. Inputs are built before timing.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kcli.core.controllers import ObservedPod, plan_pods  # noqa: E402
from kcli.core.objects import (  # noqa: E402
    Container,
    DaemonSet,
    Deployment,
    LabelSelector,
    ObjectMeta,
    PodSpec,
    PodTemplate,
    Resources,
    Toleration,
)
from kcli.core.scheduler import Node, SchedPod, SchedProfile, Taint, schedule  # noqa: E402

GI, MI = 2**30, 2**20
NODES, PODS = 1000, 10_000


def nodes() -> list[Node]:
    out = []
    for i in range(NODES):
        taints = (Taint("dedicated", "gpu"),) if i % 50 == 0 else ()
        out.append(
            Node(
                f"node-{i:04d}",
                16_000,
                64 * GI,
                labels={"zone": f"z{i % 3}", "disk": "ssd" if i % 2 else "hdd"},
                taints=taints,
                unschedulable=i % 97 == 0,
            )
        )
    return out


def sched_pods(owners: int) -> list[SchedPod]:
    per = PODS // owners
    out = []
    for o in range(owners):
        prof = SchedProfile(
            cpu_milli=100 + o % 7 * 50,
            memory=(128 + o % 5 * 64) * MI,
            node_selector=(("disk", "ssd"),) if o % 4 == 0 else (),
        )
        out.extend(SchedPod("default", f"app{o}-{r}", prof, f"default/ReplicaSet/app{o}") for r in range(per))
    return out


def deployments(count: int, replicas: int, image: str = "nginx:1.27") -> list[Deployment]:
    out = []
    for o in range(count):
        labels = {"app": f"app{o}"}
        c = Container(
            "web",
            image,
            "IfNotPresent",
            resources=Resources({"cpu": 100 + o % 7 * 50, "memory": (128 + o % 5 * 64) * MI}),
        )
        spec = PodSpec(containers=(c,), node_selector={"disk": "ssd"} if o % 4 == 0 else {})
        out.append(
            Deployment(
                meta=ObjectMeta(f"app{o}", "default", labels, {}),
                replicas=replicas,
                selector=LabelSelector(labels),
                template=PodTemplate(labels, {}, spec),
            )
        )
    return out


def daemonset() -> DaemonSet:
    labels = {"app": "agent"}
    c = Container("agent", "busybox:1.36", "IfNotPresent", resources=Resources({"cpu": 50, "memory": 64 * MI}))
    spec = PodSpec(containers=(c,), tolerations=(Toleration("", "Exists"),))
    return DaemonSet(
        meta=ObjectMeta("agent", "kube-system", labels, {}),
        selector=LabelSelector(labels),
        template=PodTemplate(labels, {}, spec),
    )


def observed_from(plan) -> list[ObservedPod]:
    return [
        ObservedPod(a.namespace, a.name, node, a.pod.applied, a.pod.owner, a.pod.spec_hash, labels=a.pod.labels)
        for a, node in plan.creates
    ]


def cases() -> list[tuple[str, Callable[[], object], Callable[[object], str]]]:
    ns = nodes()
    p100, p1 = sched_pods(100), sched_pods(1)
    pinned = [
        SchedPod(
            "kube-system",
            f"agent-{n.name}",
            SchedProfile(cpu_milli=50, memory=64 * MI, node_name=n.name, tolerations=(Toleration("", "Exists"),)),
            "ds",
        )
        for n in ns
    ]
    half = p100[:5000]
    rest = p100[5000:]
    existing = [(p, node) for p, node in zip(half, (n.name for n in ns for _ in range(5)), strict=False)]
    deps = deployments(100, 100)
    fresh = plan_pods(deps, [], ns)
    running = observed_from(fresh)
    scaled = [dataclasses.replace(d, replicas=50) for d in deps]
    new_image = deployments(100, 100, image="nginx:1.28")
    ds_pods = [daemonset()]

    def placed(r) -> str:
        return f"{len(r.placements)} placed, {len(r.unschedulable)} pending"

    def planned(p) -> str:
        return f"{len(p.creates)} create, {len(p.deletes)} delete, {len(p.pending)} pending"

    return [
        ("schedule: 10,000 pods (100 owners × 100) on 1,000 nodes", lambda: schedule(p100, ns), placed),
        ("schedule: 10,000 replicas of one owner on 1,000 nodes", lambda: schedule(p1, ns), placed),
        ("schedule: 5,000 new pods around 5,000 running", lambda: schedule(rest, ns, existing), placed),
        ("schedule: 1,000 pinned DaemonSet pods", lambda: schedule(pinned, ns), placed),
        ("plan: 100 Deployments × 100 replicas, empty cluster", lambda: plan_pods(deps, [], ns), planned),
        ("plan: same, converged (no-op)", lambda: plan_pods(deps, running, ns), planned),
        ("plan: scale every Deployment 100 → 50", lambda: plan_pods(scaled, running, ns), planned),
        ("plan: new image everywhere (replace 10,000 pods)", lambda: plan_pods(new_image, running, ns), planned),
        ("plan: DaemonSet on 1,000 nodes", lambda: plan_pods(ds_pods, [], ns), planned),
    ]


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "nproc": nproc, "python": f"Python {platform.python_version()}"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    m = machine()
    print(f"machine: {m['cpu']}, nproc {m['nproc']}, {m['python']}; median of {args.runs} runs after 1 warm-up\n")
    print("| case | median | min | max | result |")
    print("|---|---:|---:|---:|---|")
    for name, fn, describe in cases():
        result = fn()  # warm-up (also the result shown)
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        print(
            f"| {name} | {statistics.median(times):.3f} s | {min(times):.3f} s | {max(times):.3f} s | "
            f"{describe(result)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
