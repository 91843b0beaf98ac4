"""`kcli apply` / `kcli delete`: the converge loop over the pure planner (kcli.core.planner).

lock → observe (fenced, 1 round trip per node) → plan → execute the wave (one batch per node,
the next observation folded into it) → plan again … until the plan is empty, a wave makes no
progress, or the deadline passes → record the state (one commit). `--dry-run` plans once, takes
no lock and writes nothing. An unreachable node is NotReady: its pods are Unknown, nothing is
scheduled there, and the rest of the cluster converges.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kcli.core.cluster import ClusterView, add_unknown_pods, merged, view_from_sections
from kcli.core.commands.batch import Unit
from kcli.core.facts.view_script import VIEW_SNIPPETS
from kcli.core.inventory import Inventory
from kcli.core.lock import look_still_valid
from kcli.core.objects import AnyObject, ObjectKey
from kcli.core.planner import (
    Desired,
    ObjectChange,
    Outcome,
    Plan,
    Policy,
    changes_objects,
    desired_from,
    failures,
    object_changes,
    plan,
    record,
    require_bootstrapped,
    with_failures,
    working_state,
)
from kcli.core.progress import Progress, ProgressEvent, no_progress, workload_events
from kcli.core.state import render_state
from kcli.core.workloads import object_id
from kcli.shell.clusterview import look
from kcli.shell.executor import run_batches, unit_errors
from kcli.shell.failpoint import failpoint
from kcli.shell.lock import ClusterLock
from kcli.shell.seen import mark_seen
from kcli.shell.statestore import StateStore
from kcli.shell.transport import SshPool

__all__ = ["ApplyReport", "Wave", "apply", "converge"]

MAX_WAVES = 100  # waves with actions; a rollout takes about 2 per maxSurge/maxUnavailable step
WAIT_STEP = 1.0  # seconds between looks while a rollout only needs time


@dataclass
class ApplyReport:
    objects: list[ObjectChange] = field(default_factory=list)  # created|configured|unchanged|pruned|deleted
    plans: list[Plan] = field(default_factory=list)  # one per wave
    pod_results: dict[str, tuple[str, str]] = field(default_factory=dict)  # "create ns/name" → (ok|failed, err)
    after: ClusterView | None = None
    commit: str | None = None
    dry_run: bool = False
    stats: dict = field(default_factory=dict)
    pruned: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    service_nodes: list[str] = field(default_factory=list)
    unreachable: dict[str, str] = field(default_factory=dict)  # node → why: NotReady, its pods Unknown
    waves: int = 0
    unconverged: str = ""  # why the loop stopped before the plan was empty
    rollout_errors: list[str] = field(default_factory=list)  # rollouts past progressDeadlineSeconds
    failed_rollouts: list[ObjectKey] = field(default_factory=list)  # their workloads

    @property
    def object_results(self) -> list[tuple[str, str]]:
        """kubectl's lines: (ref, created|configured|unchanged|pruned|deleted)."""
        return [(o.ref, o.action) for o in self.objects]

    @property
    def plan(self) -> Plan | None:
        """The first wave's plan (what the command set out to do)."""
        return self.plans[0] if self.plans else None

    @property
    def last(self) -> Plan | None:
        return self.plans[-1] if self.plans else None

    @property
    def changes(self) -> int:
        return sum(p.pod_changes for p in self.plans)

    @property
    def backing_off(self) -> dict:
        return {(w.namespace, w.name): dict(w.record) for w in self.last.backing_off} if self.last else {}

    @property
    def deferred(self) -> list[str]:
        return [f"{w.namespace}/{w.name}: {w.reason}" for w in self.last.deferred] if self.last else []

    @property
    def failed(self) -> list[str]:
        return [k for k, (s, _) in self.pod_results.items() if s != "ok"]

    @property
    def failed_pods(self) -> list[str]:
        """Pod creations that failed on their node (the pod stays visible, retried with back-off)."""
        return [k for k in self.failed if k.startswith("create ")]

    @property
    def failed_other(self) -> list[str]:
        return [k for k in self.failed if not k.startswith("create ")]


def apply(
    inv: Inventory,
    store: StateStore,
    manifest_objects: Sequence[AnyObject],
    *,
    applyset: str,
    dry_run: bool = False,
    prune: bool = False,
    lock_wait: float = 0.0,
    progress: Progress = no_progress,
    parallel: int = 32,
    delete_keys: Sequence[ObjectKey] = (),
    orphan: bool = False,
    timeout: float = 900,
    pool: SshPool | None = None,
    wait: bool = True,
    draining: frozenset[str] = frozenset(),
    repairs: Sequence[Mapping[str, str]] = (),
    deleting: frozenset[tuple[str, str]] = frozenset(),
) -> ApplyReport:
    """Make the hosts run ``manifest_objects`` (plus everything applied earlier); ``delete_keys``
    removes objects instead (kcli delete). Every write carries the lock's fence. ``pool``: the
    caller's connections (else this call's own)."""
    state = store.load()
    require_bootstrapped(state, inv.cluster)
    desired = desired_from(state, manifest_objects, applyset=applyset, prune=prune, delete=delete_keys, orphan=orphan)
    report = ApplyReport(dry_run=dry_run, pruned=[object_id(k) for k in desired.pruned])
    deadline = time.monotonic() + timeout
    # When the command certainly changes the record (an object is new, edited or deleted) the
    # lock is taken at once; otherwise a first look without it ends most applies of a converged
    # cluster (1 round trip per node).
    certain = not dry_run and (
        changes_objects(state, desired) or bool(repairs) or bool(deleting)
    )  # repairs: recorded in this commit
    own = pool is None
    pool = SshPool(inv) if pool is None else pool
    try:
        return _apply(
            inv,
            store,
            pool,
            state,
            desired,
            report,
            manifest_objects,
            applyset=applyset,
            dry_run=dry_run,
            prune=prune,
            lock_wait=lock_wait,
            progress=progress,
            parallel=parallel,
            delete_keys=delete_keys,
            orphan=orphan,
            deadline=deadline,
            certain=certain,
            wait=wait,
            draining=draining,
            repairs=repairs,
            deleting=deleting,
        )
    finally:
        if own:
            pool.close()


def _apply(
    inv: Inventory,
    store: StateStore,
    pool: SshPool,
    state: dict,
    desired: Desired,
    report: ApplyReport,
    manifest_objects: Sequence[AnyObject],
    *,
    applyset: str,
    dry_run: bool,
    prune: bool,
    lock_wait: float,
    progress: Progress,
    parallel: int,
    delete_keys: Sequence[ObjectKey],
    orphan: bool,
    deadline: float,
    certain: bool,
    wait: bool = True,
    draining: frozenset[str] = frozenset(),
    repairs: Sequence[Mapping[str, str]] = (),
    deleting: frozenset[tuple[str, str]] = frozenset(),
) -> ApplyReport:
    # The first look is taken without the lock (the command started it while it was still
    # importing): it ends most applies of a converged cluster, and when the lock is won with
    # nobody having taken it since, the holder plans from it (kcli.core.lock.look_still_valid).
    view, secret_key, probes = look(pool, inv, state)
    if not certain:
        report.objects = object_changes(state, desired, secret_key)
        report.unreachable = dict(view.errors)
        current = plan(desired, view, state, inv, _policy(inv, view, secret_key, draining, deleting))
        report.warnings += list(current.warnings)
        if dry_run or (current.empty and _unchanged(state, desired, current, view, secret_key)):
            report.plans.append(current)
            report.after = view
            report.service_nodes = sorted({s.node for s in current.services})
            report.stats = pool.stats()
            return report
    with ClusterLock(pool, "apply", wait=lock_wait, store=store) as lock:
        # Under the lock: the record as the previous holder left it (it may have committed
        # while this run waited), and a look (again) at the hosts, raising every node's fence,
        # unless the first look still stands (then the first write raises each node's fence).
        fresh = store.load()
        if fresh != state:
            state = fresh
            desired = desired_from(
                state, manifest_objects, applyset=applyset, prune=prune, delete=delete_keys, orphan=orphan
            )
            report.pruned = [object_id(k) for k in desired.pruned]
            probes = None
        if probes is None or lock.vote is None or not look_still_valid(probes, lock.vote):
            view, secret_key, _ = look(pool, inv, state, lock)
        report.unreachable = dict(view.errors)
        policy = _policy(inv, view, secret_key, draining, deleting)
        current = plan(desired, view, state, inv, policy)
        if certain:
            report.objects = object_changes(state, desired, secret_key)
            report.warnings += list(current.warnings)
        report.plans.append(current)
        failpoint("before-execute")
        view, outcome = converge(
            desired,
            view,
            state,
            inv,
            policy,
            current,
            ssh_executor(pool, inv, lock, parallel, deadline),
            report,
            progress=progress,
            deadline=deadline,
            wait=wait,
        )
        report.after = view
        report.stats = pool.stats()
        new_state, message = record(
            state, desired, report.plans[-1], outcome, view, secret_key, _now(), lock.owner, repairs
        )
        lock.ensure_held()
        report.commit = store.save(new_state, message)
        return report


def _policy(
    inv: Inventory,
    view: ClusterView,
    secret_key: bytes,
    draining: frozenset[str],
    deleting: frozenset[tuple[str, str]] = frozenset(),
) -> Policy:
    """The planner's policy for this look: the nodes that answered are marked seen now (the
    evidence taint-based eviction counts from)."""
    now = time.time()
    seen = mark_seen(inv.cluster, [n for n in view.facts if n not in view.errors], now, unreachable=view.errors)
    return Policy(seed=inv.cluster, secret_key=secret_key, now=now, draining=draining, seen=seen, deleting=deleting)


def _unchanged(state: dict, desired: Desired, current: Plan, view: ClusterView, secret_key: bytes) -> bool:
    """Nothing to execute and nothing new to record: the command needs no lock."""
    new_state, _ = record(state, desired, current, Outcome((current,), {}, {}), view, secret_key, _now())
    return new_state == state or render_state(new_state) == render_state(state)


@dataclass
class Wave:
    """What executing one wave's units gave back: a result per unit label, the nodes' new
    readings (folded into the same round trip), and the nodes lost on the way."""

    results: dict[str, tuple[str, str]]
    observed: ClusterView
    lost: dict[str, str]


Execute = Callable[[dict[str, list[Unit]]], Wave]


def converge(
    desired: Desired,
    view: ClusterView,
    state: dict,
    inv: Inventory,
    policy: Policy,
    current: Plan,
    execute: Execute,
    report: ApplyReport,
    *,
    progress: Progress = no_progress,
    deadline: float = float("inf"),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    wait: bool = True,
) -> tuple[ClusterView, Outcome]:
    """Execute waves until the plan is empty and no rollout is waiting (converged), the same
    actions come back (no progress), or the deadline. A plan with nothing to execute whose
    rollouts time may finish (pods starting or restarting, minReadySeconds, a create in back-off)
    is a wait: sleep, then observe every node again, until a rollout passes its
    progressDeadlineSeconds (``report.rollout_errors``, as kubectl rollout status). ``wait=False``
    (``apply --wait=false``) stops where only rollouts remain. ``execute`` is the only effect
    (SSH in apply; in memory in tests)."""
    failed: dict = {}
    seen: set[tuple[str, ...]] = set()
    started, wall = clock(), policy.now
    tracked: set[ObjectKey] = set()
    _show_workloads(current, tracked, progress)
    while not current.empty or current.waiting:
        if not wait and current.rollouts and (current.empty or report.waves):
            report.unconverged = "--wait=false: " + "; ".join(r.line for r in current.rollouts)
            break
        if current.empty:  # only time is missing: look again in a moment
            over = [r for r in current.rollouts if r.waiting and clock() - started > r.deadline]
            if over:
                report.rollout_errors = [
                    f'{r.key.kind.lower()} "{r.key.name}" exceeded its progress deadline' for r in over
                ]
                report.failed_rollouts = [r.key for r in over]
                report.unconverged = "; ".join(r.line for r in over)
                break
            retry = current.retry_after()
            step = min(10.0, max(WAIT_STEP, retry - policy.now)) if retry else WAIT_STEP
            if clock() + step > deadline:
                report.unconverged = "out of time: " + "; ".join(r.line for r in current.rollouts)
                break
            progress(ProgressEvent("", _waiting_phase(current, tracked)))
            sleep(step)
            policy = dataclasses.replace(policy, now=wall + clock() - started)  # back-offs expire while waiting
            seen.clear()  # after a wait the same action (a retried create) is progress again
            units: dict[str, list[Unit]] = {n: [] for n in view.facts if n not in view.errors}
        else:
            units = current.units()
            signature = tuple(sorted(f"{u.name}@{n}#{hash(u.lines)}" for n, us in units.items() for u in us))
            if signature in seen and current.rollouts and report.waves < MAX_WAVES and clock() + WAIT_STEP <= deadline:
                # The same actions again while a rollout is unfinished: a pod that crashed so fast that
                # docker stopped restarting it is replaced again. That is the rollout's progress (or
                # its failure): act again after a pause, until its progressDeadlineSeconds.
                over = [r for r in current.rollouts if clock() - started > r.deadline]
                if over:
                    report.rollout_errors = [
                        f'{r.key.kind.lower()} "{r.key.name}" exceeded its progress deadline' for r in over
                    ]
                    report.failed_rollouts = [r.key for r in over]
                    report.unconverged = "; ".join(r.line for r in over)
                    break
                sleep(WAIT_STEP)
                seen.clear()
            if signature in seen or report.waves >= MAX_WAVES or clock() > deadline:
                report.unconverged = "the same actions came back" if signature in seen else "out of waves or time"
                break
            seen.add(signature)
            report.waves += 1
        if current.pod_changes:
            progress(
                ProgressEvent(
                    "",
                    f"wave {report.waves}: {current.pod_changes} pod change(s) on "
                    f"{len({d.node for d in current.deletes} | {c.node for c in current.creates})} node(s)",
                )
            )
        if current.services:
            report.service_nodes = sorted(set(report.service_nodes) | {s.node for s in current.services})
        wave = execute(units)
        if policy.deleting:  # `kcli delete pod`: once deleted, the pod of that name is its replacement
            policy = dataclasses.replace(
                policy, deleting=policy.deleting - {(d.namespace, d.name) for d in current.deletes}
            )
        report.pod_results.update(wave.results)
        failed.update(failures(current, wave.results, with_failures(state, failed)["pods"], policy.now))
        view = merged(view, wave.observed)
        for node, why in wave.lost.items():  # lost while executing: NotReady from now on
            view.facts.pop(node, None)
            view.errors[node] = why
            report.unreachable[node] = why
        add_unknown_pods(view, state.get("pods") or {})
        current = plan(
            desired, view, working_state(state, report.plans[0], failed, report.plans, report.pod_results), inv, policy
        )
        report.plans.append(current)
        _show_workloads(current, tracked, progress)
    _show_workloads(current, tracked, progress, finished=True)
    if report.waves:
        progress(
            ProgressEvent(
                "",
                f"stopped after {report.waves} wave(s)" if report.unconverged else f"done in {report.waves} wave(s)",
                finished=True,
                ok=not report.unconverged,
            )
        )
    return view, Outcome(tuple(report.plans), dict(report.pod_results), failed)


def _moving(current: Plan) -> set[ObjectKey]:
    """The workloads this plan moves: rollouts not finished, and the owners of the pods it creates
    or deletes."""
    keys = {r.key for r in current.rollouts if r.key.kind != "Node"}
    for ns, applied in [(c.namespace, c.applied) for c in current.creates] + [
        (d.namespace, d.applied) for d in current.deletes
    ]:
        kind, _, name = applied.partition("/")
        if kind and name and kind != "Pod":
            keys.add(ObjectKey(kind, ns, name))
    return keys


def _show_workloads(current: Plan, tracked: set[ObjectKey], progress: Progress, finished: bool = False) -> None:
    """Progress of the workloads that moved in this converge: phase and pods ready/desired."""
    if not finished:
        tracked |= _moving(current)
    if not tracked:
        return
    rolling = {r.key: r.line for r in current.rollouts}
    for event in workload_events(current.pods.reconciliation.statuses, rolling, tracked):
        progress(dataclasses.replace(event, finished=True, ok=event.phase == "rolled out") if finished else event)


def _waiting_phase(current: Plan, tracked: set[ObjectKey]) -> str:
    """The command's line while only time is missing: the workloads it waits for, or the other
    rollouts' lines (a draining node)."""
    others = [r.line for r in current.rollouts if r.key not in tracked]
    names = [f"{r.key.kind.lower()}/{r.key.name}" for r in current.rollouts if r.key in tracked]
    return "; ".join((["waiting for " + ", ".join(names)] if names else []) + others) or "waiting"


def ssh_executor(pool: SshPool, inv: Inventory, lock: ClusterLock, parallel: int, deadline: float) -> Execute:
    """Waves over SSH: one fenced batch per node, the node's next observation folded in."""

    def execute(units: dict[str, list[Unit]]) -> Wave:
        done = run_batches(
            pool,
            list(inv.hosts),
            units,
            fence=lock.fence,
            lock_nodes=lock.held_on,
            observe={n: VIEW_SNIPPETS for n in units},
            timeout=max(60.0, deadline - time.monotonic()),
            parallel=parallel,
        )
        results: dict[str, tuple[str, str]] = {}
        for node, node_units in units.items():
            errs = unit_errors(node_units, done.values.get(node), done.errors.get(node))
            for u in node_units:
                for label in u.results:
                    label = label if label != "services" else f"services {node}"
                    results[label] = ("failed", errs[u.name]) if u.name in errs else ("ok", "")
        observed = view_from_sections({n: r.sections for n, r in done.values.items()})
        return Wave(results, observed, {n: str(e) for n, e in done.errors.items()})

    return execute


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()
