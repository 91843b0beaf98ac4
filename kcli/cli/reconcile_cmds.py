"""`kcli reconcile`: bring the cluster back to what was applied, with no manifest given.

There is no controller between kcli runs; this command is the controller's pass, run by hand, by
cron or a systemd timer, or a CI schedule (examples in docs/reconcile/). Level-triggered and
idempotent: a pass repairs the nodes as bootstrap does (overlay, chains, sysctls, system images),
then runs the converge loop over every recorded object (dead or missing pods recreated, rules and
DNS from the pods that are ready now, unfinished rollouts and Jobs advanced). Two passes at once
are serialized by the cluster lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import typer

from kcli.cli import console, options


@dataclass
class PassResult:
    """What one pass repaired (or, with --dry-run, would repair)."""

    node_changes: int = 0
    pod_changes: int = 0
    synced_nodes: list[str] = field(default_factory=list)
    skipped_nodes: list[str] = field(default_factory=list)

    @property
    def repairs(self) -> int:
        return self.node_changes + self.pod_changes + len(self.synced_nodes)


def reconcile_pass(cluster, *, dry_run: bool, lock_wait: float, strict: bool, timeout: float) -> PassResult:
    """Nodes first (bootstrap, skipped where a node does not answer), then every recorded object."""
    from kcli.cli.apply_cmds import run_apply
    from kcli.cli.bootstrap_cmds import print_steps
    from kcli.errors import ExecutionError

    out = PassResult()
    from kcli.cli.progress import shown

    with shown() as progress:
        nodes = cluster.bootstrap(dry_run=dry_run, lock_wait=lock_wait, log=console.info, progress=progress)
    repairs: list[dict[str, str]] = []
    if nodes.blockers:  # a node lost (or not ready for setup): repair the workloads on the others
        out.skipped_nodes = sorted({c.host for c in nodes.blockers})
        for c in nodes.blockers:
            console.warn(f"node repair skipped: {c.host}: [{c.name}] {c.message}")
    else:
        print_steps(nodes, verbose=False)
        out.node_changes = nodes.changes
        repairs = [
            {"object": f"Node/{host}", "reason": "Repaired", "message": f"{s.name}: {s.detail}"}
            for host, steps in sorted(nodes.steps.items())
            for s in steps
            if s.changed and not dry_run
        ]
        for host, drift in sorted(nodes.drift_after.items()):
            console.warn(f"{host}: still differs after the repair: {'; '.join(drift)}")
        if nodes.errors:
            raise ExecutionError(
                f"node repair failed on {len(nodes.errors)} node(s)",
                details=[f"{n}: {e}" for n, e in sorted(nodes.errors.items())],
            )
    # the workloads' pass, and one commit recording the node repairs with it as events
    report = run_apply(
        cluster,
        [],
        applyset="",
        dry_run=dry_run,
        prune=False,
        lock_wait=lock_wait,
        profile=False,
        strict=strict,
        results=False,
        timeout=timeout,
        repairs=repairs,
    )
    out.pod_changes = report.changes
    out.synced_nodes = list(report.service_nodes)
    return out


class _StopFlag:
    """--watch ends between passes: the first SIGINT (^C) or SIGTERM (systemd, CI) lets the pass
    running finish its waves and commit, then stops; a second SIGINT interrupts at once."""

    def __init__(self) -> None:
        import signal
        import threading

        self._event = threading.Event()

        def first(signum, _frame) -> None:
            if self._event.is_set() and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self._event.set()
            console.info("reconcile: stopping after this pass (^C again to interrupt it)")

        signal.signal(signal.SIGINT, first)
        signal.signal(signal.SIGTERM, first)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when asked to stop."""
        return self._event.wait(seconds)


def register(app: typer.Typer) -> None:
    @app.command()
    def reconcile(
        dry_run: bool = typer.Option(False, "--dry-run", help="Show what a pass would repair; change nothing."),
        exit_code: bool = typer.Option(
            False,
            "--exit-code",
            help="Exit 1 when something was (or, with --dry-run, would be) repaired, as `kcli diff` does.",
        ),
        watch: bool = typer.Option(False, "--watch", "-w", help="Repeat the pass every --interval until interrupted."),
        interval: str = typer.Option("10s", "--interval", help="Time between passes with --watch (10s, 1m, ...)."),
        lock_wait: float = typer.Option(
            30.0, "--lock-wait", help="Seconds to wait for the cluster lock (another run holding it)."
        ),
        strict: bool = typer.Option(
            False, "--strict", help="Exit 5 when a pod fails to start or a node is unreachable."
        ),
        timeout: float = typer.Option(900.0, "--timeout", help="Seconds one pass (rollouts included) may take."),
        inventory: str = options.Inventory,
        state: str = typer.Option(None, "--state", help="State directory."),
        quiet: bool = options.Quiet,
    ) -> None:
        """Repair the cluster back to what was applied, with no -f: nodes, dead or missing pods, endpoints, rollouts, Jobs."""
        from kcli.core.humanize import parse_duration
        from kcli.errors import KcliError, UsageError
        from kcli.shell.facade import Cluster

        try:
            every = parse_duration(interval)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if every <= 0:
            raise UsageError("--interval must be more than 0")
        stop = _StopFlag() if watch else None
        n = 0
        while True:
            n += 1
            try:
                with Cluster.load(inventory, state) as cluster:  # state re-read every pass (another runner may commit)
                    res = reconcile_pass(cluster, dry_run=dry_run, lock_wait=lock_wait, strict=strict, timeout=timeout)
            except KcliError as exc:
                if stop is None:
                    raise
                console.error(f"reconcile pass {n}: {exc.message} ({type(exc).__name__}); next pass in {interval}")
                if stop.wait(every):
                    return
                continue
            what = "would repair" if dry_run else "repaired"
            console.info(
                f"reconcile{f' pass {n}' if watch else ''}: "
                + (
                    f"{what} {res.node_changes} node step(s), {res.pod_changes} pod(s), rules/DNS on "
                    f"{len(res.synced_nodes)} node(s)"
                    if res.repairs
                    else "nothing to repair"
                )
                + (f"; node repair skipped on {', '.join(res.skipped_nodes)}" if res.skipped_nodes else "")
            )
            if stop is None:
                break
            if stop.wait(every):
                console.info(f"reconcile: stopped after {n} pass(es)")
                return
        if exit_code and res.repairs:
            raise typer.Exit(1)
