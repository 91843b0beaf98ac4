"""`kcli bootstrap`, `kcli reset`: kubeadm-like host setup and teardown."""

from __future__ import annotations

import typer

from kcli.cli import console, options
from kcli.cli.output import format_table

ICON = {"pass": "ok", "warn": "warn", "fail": "FAIL"}


def print_preflight(checks) -> None:
    from kcli.core.preflight import CHECKS, by_host

    hosts = by_host(checks)
    names = [n for n in ("Reachable", *CHECKS) if any(c.name == n for c in checks)]
    rows = []
    for host, cs in hosts.items():
        m = {c.name: c for c in cs}
        rows.append({"HOST": host, **{n: ICON[m[n].status] if n in m else "-" for n in names}})
    console.info("Preflight:")
    console.info(format_table(rows, ["HOST", *names]))
    notes = [c for c in checks if c.status != "pass"]
    for c in notes:  # failures are told again by the error (exit 4), warnings by their own lines
        console.info(f"  {c.host}: [{c.name}] {ICON[c.status]}: {c.message}")


def print_steps(report, verbose: bool) -> None:
    rows = []
    for host, steps in report.steps.items():
        res = report.results.get(host, {})
        for s in steps:
            if not s.changed and not verbose:
                continue
            if not s.changed:
                result = "ok"
            elif report.dry_run:
                result = "would change"
            elif host in report.errors:
                result = (
                    "failed"
                    if res.get(s.name, "").startswith("failed")
                    else ("changed" if res.get(s.name) == "ok" else "not run")
                )
            else:
                result = "changed"
            rows.append({"HOST": host, "STEP": s.name, "RESULT": result, "DETAIL": s.detail})
    if rows:
        console.say(format_table(rows))


def register(app: typer.Typer) -> None:
    register_bootstrap(app)
    register_reset(app)


def register_bootstrap(app: typer.Typer) -> None:
    @app.command()
    def bootstrap(
        inventory: str = options.Inventory,
        state: str = typer.Option(None, "--state", help="State directory (default: state/ beside the inventory)."),
        pod_network_cidr: str = typer.Option(None, "--pod-network-cidr", help="Pod network (default 10.244.0.0/16)."),
        service_cidr: str = typer.Option(None, "--service-cidr", help="Service network (default 10.96.0.0/12)."),
        backend: str = typer.Option(None, "--backend", help="Overlay backend: vxlan (default) or host-gw."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Preflight and plan only; change nothing."),
        ignore_preflight_errors: str = typer.Option(
            "", "--ignore-preflight-errors", help="Comma-separated check names, or 'all'."
        ),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Also list steps that needed no change."),
        yes: bool = typer.Option(True, "--yes/--confirm", "-y", help="Apply without asking (default)."),
        parallel: int = options.Parallel,
        profile: bool = options.Profile,
        quiet: bool = options.Quiet,
    ) -> None:
        """Prepare every inventory host: preflight, docker, sysctls, modules, the flannel-compatible overlay."""
        from kcli.cli.progress import shown
        from kcli.errors import ExecutionError, PreflightError
        from kcli.shell.facade import Cluster

        with Cluster.load(inventory, state) as cluster, shown() as progress:
            report = cluster.bootstrap(
                pod_cidr=pod_network_cidr,
                service_cidr=service_cidr,
                backend=backend,
                dry_run=dry_run,
                ignore=ignore_preflight_errors.split(","),
                log=console.info,
                parallel=parallel,
                progress=progress,
            )
        print_preflight(report.checks)
        for w in report.warnings:
            console.warn(w)
        if report.blockers:
            raise PreflightError(
                f"preflight failed on {len({c.host for c in report.blockers})} host(s); nothing was changed",
                details=[f"{c.host}: [{c.name}] {c.message}" for c in report.blockers]
                + ["fix these, or skip a check with --ignore-preflight-errors=NAME"],
            )
        print_steps(report, verbose)
        leases = ", ".join(f"{n}={lease.subnet}" for n, lease in sorted(report.leases.items()))
        if dry_run:
            console.info(f"dry run: {report.changes} change(s) planned; pod subnets {leases}")
            return
        if report.pause_loaded:
            console.info(f"system images (pause, dnsmasq, busybox) loaded on {', '.join(report.pause_loaded)}")
        for host, peers in sorted(report.pings.items()):
            bad = [p for p, r in peers.items() if r != "ok"]
            if bad:
                console.warn(f"{host}: overlay ping failed to {', '.join(bad)}")
        for host, drift in sorted(report.drift_after.items()):
            console.warn(f"{host}: still differs after apply: {'; '.join(drift)}")
        console.info(
            f"bootstrap: {report.changes} change(s) on {len(report.steps)} host(s); pod subnets {leases}; "
            + (f"state committed {report.commit}" if report.commit else "state unchanged")
        )
        if report.errors:
            raise ExecutionError(
                f"bootstrap failed on {len(report.errors)} host(s)",
                details=[f"{n}: {e}" for n, e in sorted(report.errors.items())],
            )
        if any(r != "ok" for peers in report.pings.values() for r in peers.values()) or report.drift_after:
            raise ExecutionError("bootstrap finished but the overlay is not healthy on every host (see warnings)")


def register_reset(app: typer.Typer) -> None:
    @app.command()
    def reset(
        nodes: list[str] = typer.Argument(None, help="Nodes to reset."),
        all_nodes: bool = typer.Option(False, "--all", help="Reset every node and forget the cluster network."),
        inventory: str = options.Inventory,
        state: str = typer.Option(None, "--state", help="State directory (default: state/ beside the inventory)."),
        yes: bool = typer.Option(False, "--yes", "-y", "--force", "-f", help="Do not ask for confirmation."),
        parallel: int = options.Parallel,
        quiet: bool = options.Quiet,
    ) -> None:
        """Remove everything kcli put on NODE (containers, overlay, chains, files) and drop it from peers and state."""
        import sys

        from kcli.errors import ExecutionError, UsageError
        from kcli.shell.facade import Cluster

        cluster = Cluster.load(inventory, state)
        what = "every node" if all_nodes else ", ".join(nodes or [])
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError(f"reset of {what} needs confirmation: pass --yes")
            if not typer.confirm(f"Reset {what}? This removes kcli's containers and network from it", default=False):
                raise typer.Exit(1)
        with cluster:
            report = cluster.reset(nodes or [], all_nodes=all_nodes, parallel=parallel)
        for n in report.reset:
            console.info(f"{n}: reset")
        for n, step in sorted(report.peer_steps.items()):
            if step.changed:
                console.info(f"{n}: {step.detail}")
        console.info(f"state committed {report.commit}" if report.commit else "state unchanged")
        if report.errors:
            raise ExecutionError(
                f"reset failed on {len(report.errors)} host(s)",
                details=[f"{n}: {e}" for n, e in sorted(report.errors.items())],
            )
