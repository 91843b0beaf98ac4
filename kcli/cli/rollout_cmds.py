"""`kcli rollout status|history|undo` and `kcli scale`: kubectl's verbs on applied workloads.

There is no controller between runs, so each verb is an apply of the recorded object (changed or
not): the converge loop drives the rollout, as `kcli apply` does.
"""

from __future__ import annotations

import copy
from datetime import UTC
from typing import Any

import typer

from kcli.cli import console, options

rollout = typer.Typer(
    help="Manage the rollout of a Deployment: status, history, undo, restart, pause, resume.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
set_ = typer.Typer(help="Set specific features on objects (kubectl set).", no_args_is_help=True, rich_markup_mode=None)
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# the options every verb here takes
DEPLOYMENT = typer.Argument(..., help="deployment/NAME (or: deployment NAME)")
NAMESPACE = typer.Option("default", "-n", "--namespace")
LOCK_WAIT = typer.Option(0.0, "--lock-wait", help="Seconds to wait for the cluster lock.")
STATE = typer.Option(None, "--state", help="State directory.")

KINDS = {
    "deployment": "Deployment",
    "deployments": "Deployment",
    "deploy": "Deployment",
    "deployment.apps": "Deployment",
    "replicaset": "ReplicaSet",
    "replicasets": "ReplicaSet",
    "rs": "ReplicaSet",
    "replicaset.apps": "ReplicaSet",
    "daemonset": "DaemonSet",
    "daemonsets": "DaemonSet",
    "ds": "DaemonSet",
    "daemonset.apps": "DaemonSet",
    "statefulset": "StatefulSet",
    "statefulsets": "StatefulSet",
    "sts": "StatefulSet",
    "statefulset.apps": "StatefulSet",
}
RESOURCE = {
    "Deployment": "deployment.apps",
    "ReplicaSet": "replicaset.apps",
    "DaemonSet": "daemonset.apps",
    "StatefulSet": "statefulset.apps",
}
DISPLAY = {"Deployment": "deployment", "DaemonSet": "daemon set", "StatefulSet": "statefulset"}  # kubectl's wording


def _target(args: list[str], namespace: str, allowed: tuple[str, ...]) -> Any:
    """TYPE/NAME or TYPE NAME → ObjectKey (kubectl's forms)."""
    from kcli.core.objects import ObjectKey
    from kcli.errors import UsageError

    if len(args) == 1 and "/" in args[0]:
        kind, _, name = args[0].partition("/")
    elif len(args) == 2:
        kind, name = args
    else:
        raise UsageError("specify the resource as TYPE/NAME or TYPE NAME (e.g. deployment/web)")
    k = KINDS.get(kind.lower())
    if k not in allowed or not name:
        raise UsageError(f"{kind}: this command supports {', '.join(RESOURCE[a] for a in allowed)}")
    return ObjectKey(k, namespace, name)


def _error(message: str) -> Exception:
    """An error worded as kubectl words it (printed bare, exit 1)."""
    from kcli.errors import KcliError

    err = KcliError(message)
    err.bare = True  # type: ignore[attr-defined]
    return err


def _recorded(cluster, key) -> dict:
    from kcli.core.workloads import object_id

    rec = (cluster.state().get("objects") or {}).get(object_id(key))
    if rec is None:
        raise _error(f'{RESOURCE[key.kind].replace(".apps", "s.apps")} "{key.name}" not found')  # kubectl's plural
    return rec


def _apply_manifest(cluster, rec: dict, manifest: dict, lock_wait: float, auto_rollback: bool = False):
    """Validate the changed manifest as `apply -f` would, then apply it in its own applyset."""
    from kcli.cli.apply_cmds import run_apply
    from kcli.core.network import POD_CIDR
    from kcli.core.objects import Document, Source
    from kcli.core.state import network_of
    from kcli.core.validate import validate_documents
    from kcli.core.workloads import known_keys
    from kcli.errors import ManifestError

    net = network_of(cluster.state())
    result = validate_documents(
        [Document(Source("<recorded>", 1), manifest)],
        known=known_keys(cluster.state()),
        pod_cidr=net.pod_cidr if net else POD_CIDR,
    )
    if result.errors:
        raise ManifestError("the changed object is not valid", details=[str(e) for e in result.errors])
    return run_apply(
        cluster,
        list(result.objects),
        applyset=rec.get("applyset", ""),
        dry_run=False,
        prune=False,
        lock_wait=lock_wait,
        profile=False,
        results=False,
        auto_rollback=auto_rollback,
    )


def _unfinished(report, key) -> str:
    last = report.last
    return next((r.line for r in (last.rollouts if last is not None else ()) if r.key == key), "")


def _change(
    args: list[str], namespace: str, lock_wait: float, inventory: str | None, state: str | None, edit, done: str
) -> None:
    """Apply the recorded Deployment after ``edit(manifest)`` (False: nothing to change) and say ``done``."""
    from kcli.cli.apply_cmds import _cluster

    key = _target(args, namespace, ("Deployment",))
    cluster = _cluster(inventory, state)
    rec = _recorded(cluster, key)
    manifest = copy.deepcopy(rec["lastApplied"])
    if edit(manifest) is False:
        console.say(f"deployment.apps/{key.name} {done.replace('restarted', 'restart skipped')} (no change)")
        return
    _apply_manifest(cluster, rec, manifest, lock_wait)
    console.say(f"deployment.apps/{key.name} {done}")


def register(app: typer.Typer) -> None:
    app.add_typer(rollout, name="rollout")
    app.add_typer(set_, name="set")

    @app.command()
    def scale(
        args: list[str] = typer.Argument(..., help="deployment/NAME or replicaset/NAME"),
        replicas: int = typer.Option(..., "--replicas", help="The new number of replicas."),
        namespace: str = NAMESPACE,
        lock_wait: float = LOCK_WAIT,
        inventory: str = options.Inventory,
        state: str = STATE,
        quiet: bool = options.Quiet,
    ) -> None:
        """Set the number of replicas of a Deployment or ReplicaSet (kubectl scale)."""
        from kcli.cli.apply_cmds import _cluster
        from kcli.errors import UsageError

        if replicas < 0:
            raise UsageError("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
        key = _target(args, namespace, ("Deployment", "ReplicaSet", "StatefulSet"))
        cluster = _cluster(inventory, state)
        rec = _recorded(cluster, key)
        manifest = copy.deepcopy(rec["lastApplied"])
        manifest.setdefault("spec", {})["replicas"] = replicas
        _apply_manifest(cluster, rec, manifest, lock_wait)
        console.say(f"{RESOURCE[key.kind]}/{key.name} scaled")


@rollout.command("status")
def status(
    args: list[str] = typer.Argument(..., help="deployment/NAME or daemonset/NAME"),
    namespace: str = NAMESPACE,
    lock_wait: float = LOCK_WAIT,
    auto_rollback: bool = typer.Option(
        False,
        "--auto-rollback",
        help="Past its progressDeadlineSeconds, return to the previous revision (still exit 1).",
    ),
    inventory: str = options.Inventory,
    state: str = STATE,
    quiet: bool = options.Quiet,
) -> None:
    """Drive the rollout to its end (as apply does) and report it; exit 1 when it cannot finish."""
    from kcli.cli.apply_cmds import _cluster

    key = _target(args, namespace, ("Deployment", "DaemonSet", "StatefulSet"))
    cluster = _cluster(inventory, state)
    rec = _recorded(cluster, key)
    if (
        key.kind == "StatefulSet"
        and ((rec["lastApplied"].get("spec") or {}).get("updateStrategy") or {}).get("type") == "OnDelete"
    ):
        from kcli.errors import UsageError

        raise UsageError("rollout status is only available for RollingUpdate strategy type")
    report = _apply_manifest(cluster, rec, copy.deepcopy(rec["lastApplied"]), lock_wait, auto_rollback)
    line = _unfinished(report, key)
    if line:
        console.out.print(line)
        raise typer.Exit(1)
    st = report.last.pods.reconciliation.statuses.get(key) if report.last is not None else None
    if key.kind == "StatefulSet" and st is not None:  # kubectl's own words for a StatefulSet
        partition = int(
            (((rec["lastApplied"].get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}).get(
                "partition"
            )
            or 0
        )
        console.say(
            f"partitioned roll out complete: {st.updated} new pods have been updated..."
            if partition
            else f"statefulset rolling update complete {st.replicas} pods at revision {st.revision}..."
        )
        return
    console.say(f'{DISPLAY[key.kind]} "{key.name}" successfully rolled out')


@rollout.command("history")
def history(
    args: list[str] = DEPLOYMENT,
    revision: int | None = typer.Option(None, "--revision", help="Show the pod template of this revision."),
    namespace: str = NAMESPACE,
    inventory: str = options.Inventory,
    state: str = STATE,
) -> None:
    """The recorded revisions of a Deployment (kubectl rollout history)."""
    import yaml

    from kcli.cli.apply_cmds import _cluster
    from kcli.core.workloads import object_id

    key = _target(args, namespace, ("Deployment",))
    cluster = _cluster(inventory, state)
    _recorded(cluster, key)
    revs = (cluster.state().get("revisions") or {}).get(object_id(key)) or []
    if revision is not None:
        found = next((r for r in revs if int(r.get("revision", 0)) == revision), None)
        if found is None:
            raise _error(f"unable to find the specified revision {revision}")
        who = f" by {found['by']}" if found.get("by") else ""
        console.out.print(
            f"deployment.apps/{key.name} with revision #{revision}\n"
            f"Applied: {found.get('at', '<unknown>')}{who} (state commit: `kcli history`)\nPod Template:"
        )
        console.out.print(
            "\n".join("  " + ln for ln in yaml.safe_dump(found.get("template"), sort_keys=True).splitlines())
        )
        return
    console.out.print(f"deployment.apps/{key.name}")
    rows = [("REVISION", "CHANGE-CAUSE")] + [(str(r.get("revision")), r.get("changeCause") or "<none>") for r in revs]
    for a, b in rows:
        console.out.print(f"{a:<10}{b}")


@rollout.command("undo")
def undo(
    args: list[str] = DEPLOYMENT,
    to_revision: int = typer.Option(0, "--to-revision", help="The revision to return to (0: the previous one)."),
    namespace: str = NAMESPACE,
    lock_wait: float = LOCK_WAIT,
    inventory: str = options.Inventory,
    state: str = STATE,
    quiet: bool = options.Quiet,
) -> None:
    """Return a Deployment to an earlier revision's pod template, rolling it out (kubectl rollout undo)."""
    from kcli.cli.apply_cmds import _cluster
    from kcli.core.workloads import object_id

    key = _target(args, namespace, ("Deployment",))
    cluster = _cluster(inventory, state)
    rec = _recorded(cluster, key)
    revs = sorted((cluster.state().get("revisions") or {}).get(object_id(key)) or [], key=lambda r: int(r["revision"]))
    if to_revision:
        target = next((r for r in revs if int(r["revision"]) == to_revision), None)
        if target is None:
            raise _error(f"unable to find specified revision {to_revision} in history")
    elif len(revs) < 2:
        raise _error(
            f'no rollout history found for deployment "{key.name}"'
            if not revs
            else f'no previous revision to roll back to for deployment "{key.name}"'
        )
    else:
        target = revs[-2]
    manifest = copy.deepcopy(rec["lastApplied"])
    if manifest.get("spec", {}).get("template") == target["template"]:
        console.say(
            f"deployment.apps/{key.name} skipped rollback (current template already matches revision "
            f"{target['revision']})"
        )
        return
    manifest.setdefault("spec", {})["template"] = copy.deepcopy(target["template"])
    report = _apply_manifest(cluster, rec, manifest, lock_wait)
    console.say(f"deployment.apps/{key.name} rolled back")
    line = _unfinished(report, key)
    if line:
        console.warn(line)


@rollout.command("restart")
def restart(
    args: list[str] = DEPLOYMENT,
    namespace: str = NAMESPACE,
    lock_wait: float = LOCK_WAIT,
    inventory: str = options.Inventory,
    state: str = STATE,
    quiet: bool = options.Quiet,
) -> None:
    """Roll every pod of a Deployment (a new restartedAt annotation on its template, as kubectl)."""
    from datetime import datetime

    def edit(m: dict) -> None:
        meta = m.setdefault("spec", {}).setdefault("template", {}).setdefault("metadata", {})
        meta.setdefault("annotations", {})[RESTARTED_AT] = datetime.now(UTC).replace(microsecond=0).isoformat()

    _change(args, namespace, lock_wait, inventory, state, edit, "restarted")


def _paused(value: bool):
    def edit(m: dict) -> bool | None:
        spec = m.setdefault("spec", {})
        if bool(spec.get("paused")) == value:
            return False
        if value:
            spec["paused"] = True
        else:
            spec.pop("paused", None)
        return None

    return edit


def _pause_command(name: str, value: bool, doc: str) -> None:
    """`rollout pause` and `rollout resume`: the same verb on spec.paused."""

    def command(
        args: list[str] = DEPLOYMENT,
        namespace: str = NAMESPACE,
        lock_wait: float = LOCK_WAIT,
        inventory: str = options.Inventory,
        state: str = STATE,
    ) -> None:
        _change(args, namespace, lock_wait, inventory, state, _paused(value), "paused" if value else "resumed")

    command.__doc__ = doc
    rollout.command(name)(command)


_pause_command("pause", True, "Stop rolling a Deployment's template changes out (its pods stay as they are).")
_pause_command("resume", False, "Roll a paused Deployment's template out again.")


@set_.command("image")
def set_image(
    args: list[str] = typer.Argument(..., help="deployment/NAME CONTAINER=IMAGE ..."),
    namespace: str = NAMESPACE,
    lock_wait: float = LOCK_WAIT,
    inventory: str = options.Inventory,
    state: str = STATE,
) -> None:
    """Change container images of a Deployment's template and roll it out (kubectl set image)."""
    from kcli.errors import UsageError

    target = [a for a in args if "=" not in a]
    pairs = dict(a.split("=", 1) for a in args if "=" in a)
    if not pairs:
        raise UsageError("at least one CONTAINER=IMAGE is required")

    def edit(m: dict) -> None:
        spec = m.setdefault("spec", {}).setdefault("template", {}).setdefault("spec", {})
        containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
        names = {c.get("name") for c in containers}
        for name in pairs:
            if name != "*" and name not in names:
                raise _error(f'unable to find container named "{name}"')
        for c in containers:
            if c.get("name") in pairs or "*" in pairs:
                c["image"] = pairs.get(c.get("name"), pairs.get("*"))

    _change(target, namespace, lock_wait, inventory, state, edit, "image updated")


def roll_back_failed(cluster, report, lock_wait: float) -> str:
    """``--auto-rollback``: for each rollout past its deadline, print why its new pods fail (status,
    reason, last log lines) and apply its previous revision's template. Returns what was done."""
    from kcli.core.workloads import object_id
    from kcli.shell.facade import ContainerRef

    done = []
    for key in report.failed_rollouts:
        st = report.last.pods.reconciliation.statuses.get(key) if report.last is not None else None
        rs = getattr(st, "new_replica_set", "")
        view = report.after
        failing = [
            p
            for p in (view.all_pods() if view is not None else [])
            if p.owner == f"ReplicaSet/{rs}" and not p.observed.ready
        ][:2]
        for p in failing:
            console.warn(
                f"pod {p.namespace}/{p.name} ({rs}): {p.status}"
                + (f": {p.observed.detail}" if p.observed.detail else "")
            )
            app = next((c for c in p.containers if c.kind == "container"), None)
            if app is not None and p.node not in (view.errors if view is not None else {}):
                for line in cluster.logs(ContainerRef(cluster.inv.host(p.node), app.id, p.name), tail=10).splitlines():
                    console.err.print(f"  {p.name}: {line}")
        for (ns, name), rec in sorted(report.backing_off.items()):
            if name.startswith(rs + "-"):
                console.warn(f"pod {ns}/{name} ({rs}): {rec.get('reason')}: {rec.get('message', '')}")
        state = cluster.state()
        rec = (state.get("objects") or {}).get(object_id(key))
        revs = sorted((state.get("revisions") or {}).get(object_id(key)) or [], key=lambda r: int(r["revision"]))
        if rec is None or len(revs) < 2:
            done.append(f'no previous revision of {key.kind.lower()} "{key.name}" to roll back to')
            continue
        target = revs[-2]
        manifest = copy.deepcopy(rec["lastApplied"])
        manifest.setdefault("spec", {})["template"] = copy.deepcopy(target["template"])
        console.warn(f'rolling {key.kind.lower()} "{key.name}" back to revision {target["revision"]}')
        _apply_manifest(cluster, rec, manifest, lock_wait)
        done.append(f'{key.kind.lower()} "{key.name}" rolled back to revision {target["revision"]}')
    return "; ".join(done)
