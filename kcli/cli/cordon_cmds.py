"""`kcli cordon|uncordon|drain NODE`: mark a node (un)schedulable, recorded in the git-tracked
state; drain also moves its pods elsewhere, each leaving once its replacement is ready."""

from __future__ import annotations

from typing import Any

import typer

from kcli.cli import console, options


def drain_blockers(pods: list[Any], ignore_daemonsets: bool, force: bool) -> list[str]:
    """kubectl drain's refusals for the pods on the node: DaemonSet pods without
    --ignore-daemonsets, pods no controller recreates without --force."""
    ds = [f"{p.namespace}/{p.name}" for p in pods if p.applied.startswith("DaemonSet/")]
    bare = [f"{p.namespace}/{p.name}" for p in pods if p.applied.startswith("Pod/") or not p.applied]
    out = []
    if ds and not ignore_daemonsets:
        out.append(f"cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): {', '.join(ds)}")
    if bare and not force:
        out.append(f"cannot delete Pods that declare no controller (use --force to override): {', '.join(bare)}")
    return out


def register(app: typer.Typer) -> None:
    def command(unschedulable: bool):
        verb = "cordon" if unschedulable else "uncordon"

        def run(
            node: str = typer.Argument(..., help="Node name (as in the inventory)."),
            lock_wait: float = typer.Option(0.0, "--lock-wait", help="Seconds to wait for the cluster lock."),
            inventory: str = options.Inventory,
            state: str = typer.Option(None, "--state", help="State directory."),
        ) -> None:
            from kcli.shell.facade import Cluster

            with Cluster.load(inventory, state) as cluster:
                changed = cluster.set_unschedulable(node, unschedulable, lock_wait=lock_wait)
            console.say(f"node/{node} {verb}ed" if changed else f"node/{node} already {verb}ed")

        run.__doc__ = (
            "Mark a node unschedulable: new pods go elsewhere, running ones stay (kubectl cordon)."
            if unschedulable
            else "Mark a node schedulable again (kubectl uncordon)."
        )
        app.command(verb)(run)

    command(True)
    command(False)

    @app.command()
    def drain(
        node: str = typer.Argument(..., help="Node name (as in the inventory)."),
        ignore_daemonsets: bool = typer.Option(
            False, "--ignore-daemonsets", help="Leave DaemonSet pods (they stay, as in kubectl)."
        ),
        force: bool = typer.Option(False, "--force", help="Also move pods no controller manages (bare Pods)."),
        timeout: float = typer.Option(900.0, "--timeout", help="Seconds the drain may take."),
        lock_wait: float = typer.Option(0.0, "--lock-wait", help="Seconds to wait for the cluster lock."),
        inventory: str = options.Inventory,
        state: str = typer.Option(None, "--state", help="State directory."),
    ) -> None:
        """Cordon NODE, then move its pods elsewhere, each leaving once its replacement is ready (kubectl drain)."""
        from kcli.cli.apply_cmds import run_apply
        from kcli.core.planner import stays_on_drain
        from kcli.errors import KcliError
        from kcli.shell.facade import Cluster

        with Cluster.load(inventory, state) as cluster:
            changed = cluster.set_unschedulable(node, True, lock_wait=lock_wait)
            console.say(f"node/{node} cordoned" if changed else f"node/{node} already cordoned")
            view = cluster.observe()
            if node in view.errors:
                raise KcliError(
                    f'unable to drain node "{node}": it is unreachable ({view.errors[node]}); '
                    "its pods are replaced when their toleration runs out (kcli reconcile)"
                )
            pods = [p for p in view.pods.get(node, ()) if p.observed.state != "exited"]
            blockers = drain_blockers(pods, ignore_daemonsets, force)
            if blockers:
                err = KcliError(f'unable to drain node "{node}" due to error: ' + "; ".join(blockers))
                err.bare = True  # type: ignore[attr-defined]
                raise err
            moving = [p for p in pods if not stays_on_drain(p.applied)]
            for p in moving:
                console.say(f"evicting pod {p.namespace}/{p.name}")
            for p in pods:
                if p.applied.startswith("Job/"):
                    console.warn(
                        f"pod {p.namespace}/{p.name} of {p.applied} keeps running there (Job pods are not moved)"
                    )
            report = run_apply(
                cluster,
                [],
                applyset="",
                dry_run=False,
                prune=False,
                lock_wait=lock_wait,
                profile=False,
                results=False,
                timeout=timeout,
                draining=frozenset({node}),
            )
        left = (
            {p.name for p in report.after.pods.get(node, ()) if p.observed.state != "exited"} if report.after else set()
        )
        for p in moving:
            if p.name not in left:
                console.say(f"pod/{p.name} evicted")
        still = [p for p in moving if p.name in left]
        if still:
            raise KcliError(
                f'unable to drain node "{node}": {len(still)} pod(s) still there after the drain '
                f"({report.unconverged or 'see kcli get pods'}): " + ", ".join(p.name for p in still)
            )
        console.say(f"node/{node} drained")
