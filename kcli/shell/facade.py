"""The one cluster facade: every CLI command reaches the hosts and the state through ``Cluster``.

    with Cluster.load(inventory_path, state_dir) as cluster:
        snap = cluster.snapshot()            # state + one observation round trip per node
        report = cluster.apply(objects, applyset=...)

A ``Cluster`` holds the inventory, the state store and one SSH pool, opened on first use (a command
that only reads the state never imports paramiko) and closed when the ``with`` block ends. It does
no printing: messages go through the ``log`` callbacks, results come back as reports for the CLI to
render. The work itself stays where it lives: apply/delete in ``kcli.shell.apply``, bootstrap and
reset in ``kcli.shell.bootstrap`` / ``kcli.shell.reset``, ``verify`` and ``images`` in theirs, the
pure parts in ``kcli.core``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kcli.core.inventory import Host, Inventory
from kcli.core.progress import Progress, no_progress
from kcli.errors import ConnectError, KcliError, UsageError
from kcli.shell.statestore import StateStore, state_dir_for

if TYPE_CHECKING:
    from kcli.core.facts.pods import PodView
    from kcli.core.lock import LockInfo
    from kcli.core.nodes import NodeStatus
    from kcli.core.objects import AnyObject, ObjectKey
    from kcli.core.results import HostResults
    from kcli.shell.apply import ApplyReport
    from kcli.shell.bootstrap import BootstrapReport
    from kcli.shell.clusterview import ClusterView
    from kcli.shell.images import LoadResult
    from kcli.shell.reset import ResetReport
    from kcli.shell.transport import HostStats, SshPool
    from kcli.shell.verify import VerifyResult

Log = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


@dataclass
class Snapshot:
    """One look at the cluster for get/describe: the state, the live pods (Unknown on unreachable
    nodes), the applied objects with their controllers' statuses, and, when asked, the nodes."""

    inv: Inventory
    state: dict
    view: ClusterView
    objects: list
    statuses: dict
    now: float
    stats: dict
    nodes: list[NodeStatus] | None = None

    @property
    def unreachable(self) -> dict[str, str]:
        return dict(self.view.errors)


@dataclass(frozen=True)
class ContainerRef:
    """One container of a pod, on its node: what `logs` and `exec` talk to."""

    host: Host
    container_id: str
    pod: str


@dataclass(frozen=True)
class LockStatus:
    """The cluster lock as each lock node sees it (``info.describe()``), or why it did not answer;
    a run holds the lock with ``need`` of them."""

    answers: dict[str, LockInfo]
    unreachable: dict[str, str]
    need: int


def logs_argv(container_id: str, *, tail: int = -1, follow: bool = False) -> list[str]:
    """`docker logs` as kubectl logs means it: --tail N (-1: all), -f to stream."""
    return ["docker", "logs", *(["--tail", str(tail)] if tail >= 0 else []), *(["-f"] if follow else []), container_id]


def exec_argv(container_id: str, command: Sequence[str], *, stdin: bool = False, tty: bool = False) -> list[str]:
    """`docker exec [-i] [-t] CONTAINER CMD...` (kubectl exec's -i / -t)."""
    return ["docker", "exec", *(["-i"] if stdin else []), *(["-t"] if tty else []), container_id, *command]


def select_containers(
    view: ClusterView,
    inv: Inventory,
    namespace: str,
    pod: str | None,
    container: str | None,
    selector: str | None,
    log: Log = _quiet,
) -> list[ContainerRef]:
    """The container of one pod (or of every pod a selector matches) that logs/exec address, chosen as
    kubectl does: -c NAME, else the first app container (saying so when the pod has several)."""
    from kcli.core.selectors import matches, parse_selector

    sel = parse_selector(selector) if selector else None
    pods: list[PodView]
    if pod:
        pods = [p for p in view.all_pods() if p.namespace == namespace and p.name == pod]
    elif sel is not None:
        pods = [p for p in view.all_pods() if p.namespace == namespace and matches(sel, p.labels)]
    else:  # e.g. `kcli exec "" -- CMD`
        raise UsageError("a pod name or -l SELECTOR is required")
    lost = [p for p in pods if p.node in view.errors]
    if pod and lost:
        p = lost[0]
        raise ConnectError(
            f"pod {p.namespace}/{p.name} is on node {p.node}, which is unreachable: {view.errors[p.node]}"
        )
    pods = [p for p in pods if p.node not in view.errors]
    if not pods:
        err = KcliError(f'pods "{pod}" not found' if pod else "no pods match the selector")
        err.exit_code = 1
        raise err
    out = []
    for p in pods:
        apps = [c for c in p.containers if c.kind in ("container", "init")]
        if container:
            chosen = [c for c in apps if c.name == container]
            if not chosen:
                raise UsageError(
                    f"container {container} is not valid for pod {p.name}: choose one of [{' '.join(c.name for c in apps)}]"
                )
        else:
            main = [c for c in apps if c.kind == "container"]
            if len(main) > 1 and pod:
                log(f'Defaulted container "{main[0].name}" out of: {", ".join(c.name for c in main)}')
            chosen = main[:1] or apps[:1]
        out.append(ContainerRef(inv.host(p.node), chosen[0].id, p.name))
    return out


class Cluster:
    """The cluster one command works on: inventory, state store, SSH connections (lazy, reused)."""

    def __init__(
        self, inventory: Inventory, state_dir: str | Path | None = None, *, pool: SshPool | None = None
    ) -> None:
        self.inv = inventory
        self.store = StateStore(state_dir_for(inventory, str(state_dir) if state_dir else None), inventory.cluster)
        self._pool: SshPool | None = pool

    @classmethod
    def load(
        cls, inventory: str | None = None, state_dir: str | Path | None = None, *, head_start: bool = True
    ) -> Cluster:
        """From an inventory path (None: $KCLI_INVENTORY, then the current context). The first
        load of a command takes the cluster its head start opened for the same arguments
        (kcli.shell.headstart), with its connections and first round trip under way."""
        if head_start:
            from kcli.shell import headstart

            early = headstart.take(inventory, None if state_dir is None else str(state_dir))
            if early is not None:
                return early
        from kcli.shell.config import load_inventory

        return cls(load_inventory(inventory), state_dir)

    # -- connections ---------------------------------------------------------------------------

    @property
    def pool(self) -> SshPool:
        if self._pool is None:
            from kcli.shell.transport import SshPool

            self._pool = SshPool(self.inv)
        return self._pool

    def start_look(self, what: str = "apply") -> None:
        """Begin the command's first read-only round trip to every node now (one thread per node:
        connect, run), so that the wait for the nodes overlaps the parsing, validation and imports
        still to come; the command's own look later takes the result (kcli.shell.transport,
        SshConnection.start_call). ``what``: "apply" (the look before the lock) or "view" (get's
        observation). Errors are left to the command's own look, which reports them as always."""
        try:
            from kcli.shell.clusterview import start_look, start_observe_cluster

            (start_look if what == "apply" else start_observe_cluster)(self.pool, self.inv)
        except Exception:  # noqa: BLE001 - only a head start
            pass

    def start_nodes(self) -> None:
        """Begin ``nodes()``'s round trip (every host) now, in the background (kcli get nodes)."""
        from kcli.shell.observe import start_observe

        hosts, extra, _ = self._node_probe(None)
        start_observe(self.pool, hosts, None, per_host=extra)

    def start_connect(self) -> None:
        """Open the connection to every host now, in the background (SshConnection.start_connect)."""
        self.pool.start_connect()

    def stats(self) -> dict[str, HostStats]:
        """Round trips, bytes and time per host so far (--profile)."""
        return self._pool.stats() if self._pool is not None else {}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state ---------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The recorded state (read afresh on every call)."""
        return self.store.load()

    def has_state(self) -> bool:
        """Whether the cluster was ever bootstrapped (a state file exists)."""
        return self.store.exists()

    def history(self, limit: int = 20) -> list[dict[str, str]]:
        return self.store.log(limit)

    # -- observation ---------------------------------------------------------------------------

    def observe(self, state: dict | None = None) -> ClusterView:
        """One round trip per node; pods the state records on unreachable nodes are added as Unknown."""
        from kcli.core.cluster import add_unknown_pods
        from kcli.shell.clusterview import observe_cluster
        from kcli.shell.seen import mark_seen

        view, _ = observe_cluster(self.pool, self.inv)
        # every look is evidence of which nodes answer (taint-based eviction counts from it)
        mark_seen(self.inv.cluster, [n for n in view.facts if n not in view.errors], unreachable=view.errors)
        add_unknown_pods(view, (self.state() if state is None else state).get("pods") or {})
        return view

    def snapshot(self, *, need_pods: bool = True, need_nodes: bool = False) -> Snapshot:
        """What get/describe show: the applied objects and their statuses, computed from the live
        pods (need_pods) as the controllers would; node conditions with need_nodes."""
        from kcli.core.controllers import reconcile
        from kcli.core.state import cordoned_of, leases_of
        from kcli.core.workloads import state_objects
        from kcli.shell.clusterview import ClusterView, scheduler_nodes

        state = self.state()
        objects, secret_hashes, _ = state_objects(state)
        view = self.observe(state) if need_pods else ClusterView()
        stats = self.stats()
        rec = reconcile(
            objects,
            [p.observed for p in view.all_pods()],
            scheduler_nodes(self.inv, view, leases_of(state), cordoned_of(state)),
            known_configs=secret_hashes,
            seed=self.inv.cluster,
        )
        now = view.node_time() or time.time()
        nodes = self.nodes() if need_nodes else None
        return Snapshot(self.inv, state, view, objects, dict(rec.statuses), now, stats, nodes)

    def nodes(self, names: Sequence[str] | None = None) -> list[NodeStatus]:
        """Node status per host (all, or ``names``), unreachable ones NotReady: one round trip per node."""
        from kcli.core.facts.node import parse_node_facts
        from kcli.core.nodes import node_status
        from kcli.core.state import cordoned_of
        from kcli.shell.observe import observe
        from kcli.shell.seen import mark_seen

        hosts, snippets, finish = self._node_probe(names)
        cordoned = cordoned_of(self.store.peek())
        results = observe(self.pool, hosts, None, per_host=snippets)
        mark_seen(self.inv.cluster, list(results.values), unreachable=results.errors)
        statuses = []
        for h in hosts:
            sections = results.values.get(h.name)
            facts = parse_node_facts(sections) if sections is not None else None
            joined_at, conds = finish(h, sections)
            statuses.append(
                node_status(
                    h,
                    facts,
                    results.errors.get(h.name),
                    joined_at=joined_at,
                    extra_conditions=conds,
                    cordoned=h.name in cordoned,
                )
            )
        return statuses

    def _node_probe(self, names: Sequence[str] | None) -> tuple[list[Host], dict[str, dict[str, str]], Any]:
        """What ``nodes(names)`` asks each host (its node facts and, once bootstrapped, its overlay
        check) and how to finish."""
        from kcli.core.facts.node import NODE_SNIPPETS
        from kcli.shell.state_hooks import node_extras

        hosts = [self.inv.host(n) for n in names] if names else list(self.inv.hosts)
        extra, finish = node_extras(self.inv, hosts, self.store)
        return hosts, {h.name: {**NODE_SNIPPETS, **extra.get(h.name, {})} for h in hosts}, finish

    # -- changes -------------------------------------------------------------------------------

    def apply(
        self,
        objects: Sequence[AnyObject],
        *,
        applyset: str,
        dry_run: bool = False,
        prune: bool = False,
        lock_wait: float = 0.0,
        progress: Progress = no_progress,
        delete_keys: Sequence[ObjectKey] = (),
        **options: Any,
    ) -> ApplyReport:
        """kcli apply (and delete, with ``delete_keys``): kcli.shell.apply.apply → its ApplyReport;
        ``progress`` hears of each wave and of the workloads it moves."""
        from kcli.shell.apply import apply

        return apply(
            self.inv,
            self.store,
            objects,
            applyset=applyset,
            dry_run=dry_run,
            prune=prune,
            lock_wait=lock_wait,
            progress=progress,
            delete_keys=delete_keys,
            pool=self.pool,
            **options,
        )

    def bootstrap(self, *, dry_run: bool = False, log: Log = _quiet, **options: Any) -> BootstrapReport:
        """kcli bootstrap: kcli.shell.bootstrap.bootstrap (pod_cidr, service_cidr, backend, ignore,
        parallel, lock_wait) → its BootstrapReport; dry_run plans only (kcli diff)."""
        from kcli.shell.bootstrap import bootstrap

        return bootstrap(self.inv, self.store, dry_run=dry_run, log=log, **options)

    def reset(self, nodes: Sequence[str], *, all_nodes: bool = False, parallel: int = 32) -> ResetReport:
        """kcli reset: kcli.shell.reset.reset → its ResetReport."""
        from kcli.shell.reset import reset

        return reset(self.inv, self.store, list(nodes), all_nodes, parallel)

    # -- pods ----------------------------------------------------------------------------------

    def containers(
        self,
        namespace: str,
        pod: str | None,
        container: str | None = None,
        selector: str | None = None,
        log: Log = _quiet,
    ) -> list[ContainerRef]:
        """The containers logs/exec address (see select_containers), from one observation."""
        return select_containers(self.observe(), self.inv, namespace, pod, container, selector, log)

    def logs(self, ref: ContainerRef, *, tail: int = -1) -> str:
        res = self.pool.get(ref.host).run(logs_argv(ref.container_id, tail=tail), timeout=120)
        return res.stdout + res.stderr

    def follow_logs(self, ref: ContainerRef, *, tail: int = -1) -> int:
        """Stream the logs to this terminal until the container stops (or ^C); the remote exit code."""
        from kcli.shell.transport import run_interactive

        return run_interactive(
            self.pool.get(ref.host), logs_argv(ref.container_id, tail=tail, follow=True), tty=False, stdin=False
        )

    def exec(self, ref: ContainerRef, command: Sequence[str], *, stdin: bool = False, tty: bool = False) -> int:
        """Run ``command`` in the container with this terminal attached; the command's exit code."""
        from kcli.shell.transport import run_interactive

        return run_interactive(
            self.pool.get(ref.host), exec_argv(ref.container_id, command, stdin=stdin, tty=tty), tty=tty, stdin=stdin
        )

    def set_unschedulable(self, name: str, unschedulable: bool, *, lock_wait: float = 0.0) -> bool:
        """kcli cordon / uncordon: record the node's spec.unschedulable under the lock (one commit).
        False when it already was so (nothing written)."""
        from kcli.core.state import cordoned_of, with_cordon
        from kcli.errors import UsageError
        from kcli.shell.lock import ClusterLock

        self.inv.host(name)  # an unknown node is a usage error
        state = self.state()
        if name not in (state.get("nodes") or {}):
            raise UsageError(f'node "{name}" has not joined the cluster (run kcli bootstrap)')
        with ClusterLock(
            self.pool, "cordon" if unschedulable else "uncordon", wait=lock_wait, store=self.store
        ) as lock:
            state = self.state()
            if (name in cordoned_of(state)) == unschedulable:
                return False
            lock.ensure_held()
            self.store.save(
                with_cordon(state, name, unschedulable), f"{'cordon' if unschedulable else 'uncordon'} {name}"
            )
        return True

    def rebuild_state(self, force: bool = False) -> tuple[str, int, str | None]:
        """kcli state rebuild: the newest state the lock nodes keep (each run's commit is kept on a
        majority of them) becomes the local one, at the cluster's generation. It needs a majority
        to answer: fewer might all miss the newest. Returns (lock node, generation, commit)."""
        from kcli.core.lock import kept_state, lock_hosts, majority, state_copy_script
        from kcli.core.state import parse_state
        from kcli.errors import ExecutionError
        from kcli.shell.fanout import run_on_hosts
        from kcli.shell.statestore import StateError

        voters = lock_hosts(self.inv)
        done = run_on_hosts(
            lambda h: self.pool.get(h).run(["sh", "-c", state_copy_script()], timeout=60, check=True).stdout, voters
        )
        if len(done.values) < majority(len(voters)):
            raise ExecutionError(
                f"only {len(done.values)} of the {len(voters)} lock nodes answer; the newest state is "
                f"kept on {majority(len(voters))} of them",
                details=[f"{n}: {e}" for n, e in sorted(done.errors.items())],
            )
        node, generation, text = kept_state(done.values)
        if not generation:
            raise StateError(
                f"the lock nodes keep no state of cluster {self.inv.cluster} (no run committed with this kcli)"
            )
        local = self.store.generation()
        if local >= generation and not force:
            return node, local, None
        state = parse_state(text, self.inv.cluster)
        return (
            node,
            generation,
            self.store.save(state, f"state rebuild from {node} (generation {generation})", generation=generation),
        )

    # -- lock ----------------------------------------------------------------------------------

    def lock_status(self) -> LockStatus:
        from kcli.core.lock import lock_hosts, majority, status_script
        from kcli.shell.lock import ask

        voters = lock_hosts(self.inv)
        answers, errors = ask(self.pool, voters, status_script())
        return LockStatus(answers, errors, majority(len(voters)))

    def force_unlock(self) -> list[str]:
        """Remove the lock on every lock node that answers, whoever holds it; returns those nodes."""
        from kcli.core.lock import force_unlock_script, lock_hosts
        from kcli.errors import ExecutionError
        from kcli.shell.lock import ask

        answers, errors = ask(self.pool, lock_hosts(self.inv), force_unlock_script())
        if not answers:
            raise ExecutionError("no lock node answers", details=[f"{n}: {e}" for n, e in sorted(errors.items())])
        return sorted(answers)

    # -- services and images -------------------------------------------------------------------

    def verify(self, timeout: float = 3.0) -> VerifyResult:
        """Every ClusterIP from a pod on every node, every NodePort from here."""
        from kcli.shell.verify import verify

        return verify(self.inv, timeout, pool=self.pool, store=self.store)

    def load_images(
        self, hosts: Sequence[Host], refs: Sequence[str], *, log: Log = _quiet, progress: Progress = no_progress
    ) -> HostResults[LoadResult]:
        """docker save here → docker load on the hosts that lack an image. The images kcli builds
        itself (kcli.local/busybox:1, kcli.local/redis:7, ...) are built first when absent or stale.
        ``progress`` hears each host's phase and the bytes sent to it."""
        from kcli.shell.images import load_images
        from kcli.shell.localimages import ensure_local_images

        for ref, how in ensure_local_images(refs, log=log).items():
            if how != "cached":
                log(f"{ref}: {how}")
        return load_images(self.pool, hosts, refs, progress=progress)
