"""`kcli apply`, `kcli delete`: manifests → hosts (and back), with kubectl's output."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import typer

from kcli.cli import console, options
from kcli.cli.output import format_table, print_objects


def applyset_id(filenames: list[str]) -> str:
    """The set --prune works on: the -f arguments (as given, sorted), like a kubectl ApplySet."""
    import hashlib  # not at import: `kcli --help` stays fast

    norm = sorted(os.path.normpath(f) for f in filenames)
    return hashlib.sha256("\0".join(norm).encode()).hexdigest()[:12]


def check_output(output: str | None) -> None:
    from kcli.errors import UsageError

    if output not in (None, "json", "yaml", "name"):
        raise UsageError(f"unknown output format {output!r} (use one of: json, yaml, name)")


def _cluster(inventory: str | None, state: str | None):
    from kcli.shell.facade import Cluster

    return Cluster.load(inventory, state)


def print_plan(report, verbose: bool = True) -> None:
    plan = report.plan
    if plan is None:
        return
    rows = [
        {"ACTION": "delete", "POD": f"{a.namespace}/{a.name}", "NODE": a.node, "REASON": a.reason} for a in plan.deletes
    ]
    rows += [
        {"ACTION": "create", "POD": f"{a.namespace}/{a.name}", "NODE": a.node, "REASON": a.reason} for a in plan.creates
    ]
    rows += [
        {"ACTION": "pending", "POD": f"{w.namespace}/{w.name}", "NODE": "", "REASON": w.reason} for w in plan.pending
    ]
    if rows and verbose:
        console.info(format_table(rows))


def run_apply(
    cluster,
    objects,
    *,
    applyset: str,
    dry_run: bool,
    prune: bool,
    lock_wait: float,
    profile: bool,
    delete_keys=(),
    strict: bool = False,
    orphan: bool = False,
    results: bool = True,
    wait: bool = True,
    timeout: float | None = None,
    auto_rollback: bool = False,
    output: str | None = None,
    result_kind: str = "ApplyResult",
    **extra_options,
):
    """Apply and print as kubectl does (``results``: the per-object lines); returns the report.
    ``output`` json|yaml: the command's summary (kcli.cli.apply_result) is all that goes to stdout,
    also when it fails (then with its exit code); name: the objects' names."""
    from kcli.cli.progress import shown
    from kcli.errors import KcliError

    extra = {**({"timeout": timeout} if timeout else {}), **extra_options}  # e.g. draining (kcli drain)
    with shown() as progress:
        report = cluster.apply(
            objects,
            applyset=applyset,
            dry_run=dry_run,
            prune=prune,
            lock_wait=lock_wait,
            progress=progress,
            delete_keys=delete_keys,
            orphan=orphan,
            wait=wait,
            **extra,
        )

    def printed(results: bool) -> Any:
        return _report(
            cluster,
            report,
            results=results,
            output=output,
            profile=profile,
            strict=strict,
            auto_rollback=auto_rollback,
            lock_wait=lock_wait,
        )

    if output not in ("json", "yaml"):
        return printed(results)
    from kcli.cli.apply_result import apply_result, print_result

    pods = extra_options.get("deleting", ())
    try:
        printed(False)
    except KcliError as exc:
        doc = apply_result(report, kind=result_kind, exit_code=exc.exit_code, message=exc.message, pods_deleted=pods)
        print_result(doc, output)
        raise
    print_result(apply_result(report, kind=result_kind, pods_deleted=pods), output)
    return report


def _report(
    cluster: Any,
    report: Any,
    *,
    results: bool,
    output: str | None,
    profile: bool,
    strict: bool,
    auto_rollback: bool,
    lock_wait: float,
) -> Any:
    """What run_apply prints (and raises) after the apply: results, warnings, the summary line."""
    from kcli.cli.output import print_profile
    from kcli.errors import ExecutionError, KcliError

    dry_run = report.dry_run
    suffix = " (server dry run)" if dry_run else ""
    for ref, what in report.object_results if results else ():
        if output == "name":
            console.out.print(ref)
        else:
            console.say(f"{ref} {what}{suffix}")
    print_plan(report)
    if report.plan is not None:
        for w in report.plan.pending:
            console.warn(f"pod {w.namespace}/{w.name} is Pending: {w.reason}")
    if profile:
        print_profile(report.stats)
    for w in report.warnings:
        console.warn(w)
    for node, why in sorted(report.unreachable.items()):
        console.warn(
            f"node {node} is unreachable (NotReady): its pods are Unknown and nothing is scheduled there ({why})"
        )
    for d in report.deferred:
        console.warn(f"pod {d} (the delete waits until the node is reachable)")
    if report.unconverged:
        console.warn(f"stopped after {report.waves} wave(s) before converging: {report.unconverged}")
    if report.service_nodes:
        console.info(f"service rules/DNS {'would be ' if dry_run else ''}synced on {', '.join(report.service_nodes)}")
    if dry_run:
        console.info(f"dry run: {report.changes} pod change(s) planned")
        return report
    for label, (status, err) in sorted(report.pod_results.items()):
        if status != "ok":
            console.error(f"{label}: {err or 'failed'}")
    for (ns, name), rec in sorted(report.backing_off.items()):
        console.warn(
            f"pod {ns}/{name} is {rec.get('reason')}: back-off, next attempt after "
            f"{datetime.fromtimestamp(float(rec.get('retryAfter', 0))).strftime('%H:%M:%S')}"
        )
    console.info(
        f"{report.changes} pod change(s); "
        + (f"state committed {report.commit}" if report.commit else "state unchanged")
    )
    if report.rollout_errors:  # kubectl rollout status's wording, exit 1
        message = "; ".join(report.rollout_errors)
        if auto_rollback:
            from kcli.cli.rollout_cmds import roll_back_failed

            message += "; " + roll_back_failed(cluster, report, lock_wait)
        err = KcliError(message)
        err.bare = True  # type: ignore[attr-defined]
        raise err
    if strict and report.unreachable:
        raise ExecutionError(
            f"{len(report.unreachable)} node(s) unreachable (--strict)", details=sorted(report.unreachable)
        )
    if report.failed_other:
        raise ExecutionError(f"{len(report.failed_other)} operation(s) failed", details=report.failed_other)
    if report.failed_pods:
        # kubectl apply succeeds when the objects are accepted; pods that cannot start show their
        # reason in `get pods` and are retried with back-off. --strict makes it an error.
        console.warn(f"{len(report.failed_pods)} pod(s) failed to start (see `kcli get pods`, `kcli describe pod`)")
        if strict:
            raise ExecutionError(f"{len(report.failed_pods)} pod(s) failed to start", details=report.failed_pods)
    return report


def register(app: typer.Typer) -> None:
    @app.command()
    def apply(
        filename: list[str] = typer.Option([], "-f", "--filename", help="File, directory or - (stdin); repeatable."),
        recursive: bool = typer.Option(False, "-R", "--recursive", help="Process directories recursively."),
        values: list[str] = typer.Option([], "--values", help="YAML values for *.j2 templates; repeatable."),
        set_: list[str] = typer.Option([], "--set", help="key=value for *.j2 templates; repeatable."),
        skip_unsupported: bool = typer.Option(
            False, "--skip-unsupported", help="Skip unsupported kinds with a warning."
        ),
        dry_run: str = typer.Option(
            "none",
            "--dry-run",
            help="client: validate and render only; server (or bare --dry-run): plan against the hosts, change nothing.",
        ),
        prune: bool = typer.Option(
            False, "--prune", help="Delete objects applied earlier from the same -f set that are gone from it."
        ),
        output: str | None = typer.Option(
            None,
            "-o",
            "--output",
            help="json | yaml: a summary of what changed (kind ApplyResult, see docs/output.md), alone on stdout; "
            "name: the objects' names. With --dry-run=client: the objects themselves.",
        ),
        lock_wait: float = typer.Option(0.0, "--lock-wait", help="Seconds to wait for the cluster lock."),
        strict: bool = typer.Option(
            False, "--strict", help="Exit 5 when a pod fails to start or a node is unreachable (default: warn, exit 0)."
        ),
        wait: bool = typer.Option(
            True,
            "--wait/--no-wait",
            help="Drive rollouts to their end (default); --wait=false leaves them where one wave got them (`kcli rollout status` resumes).",
        ),
        timeout: float = typer.Option(900.0, "--timeout", help="Seconds the whole apply (rollouts included) may take."),
        auto_rollback: bool = typer.Option(
            False,
            "--auto-rollback",
            help="A rollout past its progressDeadlineSeconds returns to the previous revision (its failing pods' reasons and last log lines are printed); still exits 1.",
        ),
        inventory: str = options.Inventory,
        state: str = typer.Option(None, "--state", help="State directory."),
        profile: bool = options.Profile,
        quiet: bool = options.Quiet,
    ) -> None:
        """Make the hosts run the manifests (kubectl apply): validate, plan, apply per node in parallel."""
        from kcli.cli.manifest_cmds import load_and_validate, with_last_applied
        from kcli.errors import UsageError

        if dry_run not in ("none", "client", "server"):
            raise UsageError(f'invalid --dry-run value "{dry_run}": must be "none", "server", or "client"')
        check_output(output)
        if dry_run == "client":
            result = load_and_validate(
                filename, recursive=recursive, values_files=values, set_values=set_, skip_unsupported=skip_unsupported
            )
            if output in ("yaml", "json"):
                print_objects([with_last_applied(o) for o in result.objects], output, single=True)
            else:
                for o in result.objects:
                    if output == "name":
                        console.out.print(o.ref)
                    else:
                        console.say(f"{o.ref} created (dry run)")
            return
        cluster = _cluster(inventory, state)
        cluster.start_look()  # the look before the lock begins now and overlaps parsing and validation
        from kcli.core.state import network_of
        from kcli.core.workloads import known_keys

        known = known_keys(cluster.state())
        net = network_of(cluster.state())  # replicas are bounded by the pod network bootstrap recorded
        result = load_and_validate(
            filename,
            recursive=recursive,
            values_files=values,
            set_values=set_,
            skip_unsupported=skip_unsupported,
            known=known,
            pod_cidr=net.pod_cidr if net else cluster.inv.network.get("pod_cidr"),
        )
        run_apply(
            cluster,
            list(result.objects),
            applyset=applyset_id(filename),
            dry_run=dry_run == "server",
            prune=prune,
            lock_wait=lock_wait,
            profile=profile,
            strict=strict,
            wait=wait,
            timeout=timeout,
            auto_rollback=auto_rollback,
            output=output,
        )

    @app.command()
    def delete(
        args: list[str] = typer.Argument(None, help="TYPE NAME... (or use -f / -l)"),
        filename: list[str] = typer.Option([], "-f", "--filename"),
        recursive: bool = typer.Option(False, "-R", "--recursive"),
        values: list[str] = typer.Option([], "--values", help="YAML values for *.j2 templates."),
        set_: list[str] = typer.Option([], "--set", help="key=value for *.j2 templates."),
        selector: str = typer.Option(None, "-l", "--selector", help="Label selector on applied objects."),
        namespace: str = typer.Option("default", "-n", "--namespace"),
        lock_wait: float = typer.Option(0.0, "--lock-wait"),
        cascade: str = typer.Option(
            "background",
            "--cascade",
            help="background|foreground: delete dependents (pods, ownerReferences) too; "
            "orphan: leave them (their pods keep running).",
        ),
        output: str | None = typer.Option(
            None, "-o", "--output", help="json | yaml: a summary of what changed (kind DeleteResult), alone on stdout."
        ),
        inventory: str = options.Inventory,
        state: str = typer.Option(None, "--state"),
        quiet: bool = options.Quiet,
    ) -> None:
        """Delete applied objects and their pods (by file, by type and name, or by label selector)."""
        from kcli.cli.kinds import resolve
        from kcli.cli.manifest_cmds import load_and_validate
        from kcli.core.objects import ObjectKey
        from kcli.core.selectors import matches, parse_selector
        from kcli.core.workloads import state_objects
        from kcli.errors import UsageError

        modes = {"background": False, "foreground": False, "true": False, "orphan": True, "false": True}  # kubectl's
        if cascade not in modes:
            raise UsageError(f'invalid --cascade value "{cascade}": must be one of background, foreground, orphan')
        check_output(output)
        cluster = _cluster(inventory, state)
        cluster.start_connect()  # the SSH handshakes overlap reading the manifests and the state
        st = cluster.state()
        old, secrets, _ = state_objects(st)
        keys: list[ObjectKey] = []
        if filename:
            result = load_and_validate(
                filename, recursive=recursive, values_files=values, set_values=set_, skip_unsupported=True
            )
            keys = [o.key for o in result.objects]
        elif selector:
            sel = parse_selector(selector)
            keys = [
                o.key
                for o in old
                if matches(sel, dict(o.meta.labels)) and (not args or resolve(args[0]).kind == o.kind)
            ]
        elif args and len(args) >= 2:
            kind = resolve(args[0])
            keys = [ObjectKey(kind.kind, namespace if kind.namespaced else "", n) for n in args[1:]]
        else:
            raise UsageError("specify -f FILE, TYPE NAME, or -l SELECTOR")
        recorded = {o.key for o in old} | set(secrets)
        live = st.get("pods") or {}  # a controller's pod: deleted, and replaced as its controller would
        pods = frozenset(
            (k.namespace, k.name)
            for k in keys
            if k.kind == "Pod" and k not in recorded and f"{k.namespace}/{k.name}" in live
        )
        keys = [k for k in keys if (k.namespace, k.name) not in pods or k.kind != "Pod"]
        missing = [k for k in keys if k not in recorded]
        for k in missing:
            console.error(f'{k.kind.lower()} "{k.name}" not found')
        keys = [k for k in keys if k in recorded]
        if not keys and not pods:
            raise UsageError("nothing to delete")
        run_apply(
            cluster,
            [],
            applyset="",
            dry_run=False,
            prune=False,
            lock_wait=lock_wait,
            profile=False,
            delete_keys=keys,
            orphan=modes[cascade],
            output=output,
            result_kind="DeleteResult",
            deleting=pods,
        )
        for ns, name in sorted(pods) if output is None else ():
            console.say(f'pod "{name}" deleted' + (f" from {ns} namespace" if ns != "default" else ""))
