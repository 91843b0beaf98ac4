"""`kcli apply|delete -o json|yaml`: what the command changed, for CI (schema: docs/output.md).

Built from the command's ApplyReport alone (pure): the objects with kubectl's actions, the pods
created and deleted by the waves that ran (or, in a dry run, planned by the first), the pods that
wait, the nodes, and the exit code the command ends with.
"""

from __future__ import annotations

from typing import Any

API_VERSION = "kcli/v1"


def _pod(namespace: str, name: str, **more: Any) -> dict[str, Any]:
    return {"namespace": namespace, "name": name, **more}


def apply_result(
    report: Any, *, kind: str = "ApplyResult", exit_code: int = 0, message: str = "", pods_deleted: Any = ()
) -> dict[str, Any]:
    """The summary of one apply (``report``: kcli.shell.apply.ApplyReport). ``changed``: whether the
    command changed the cluster or its record (in a dry run: would). ``pods_deleted``: (namespace,
    name) of pods named by `kcli delete pod` (they are objects of that command)."""
    dry_run = bool(report.dry_run)
    plans = list(report.plans)
    # The waves that ran: every plan but the last (the one the loop stopped at); a dry run ran
    # none, and reports the first plan's actions as what it would do.
    ran = plans[:1] if dry_run else plans[:-1]
    results = dict(report.pod_results)

    def done(label: str) -> bool:
        return dry_run or results.get(label, ("", ""))[0] == "ok"

    # A create retried in a later wave (after its back-off) has one result, its last: the pod is
    # listed once, created or failed.
    created: dict[str, dict[str, Any]] = {}
    deleted: dict[str, dict[str, Any]] = {}
    failed: dict[str, dict[str, Any]] = {}
    for p in ran:
        for d in p.deletes:
            if done(d.unit.name):
                deleted[d.unit.name] = _pod(d.namespace, d.name, node=d.node, reason=d.reason)
        for c in p.creates:
            if done(c.unit.name):
                created[c.unit.name] = _pod(c.namespace, c.name, node=c.node, reason=c.reason)
            elif c.unit.name in results:
                failed[c.unit.name] = _pod(c.namespace, c.name, node=c.node, error=results[c.unit.name][1])
    last = report.last
    objects = [{"kind": o.kind, "namespace": o.namespace, "name": o.name, "action": o.action} for o in report.objects]
    objects += [
        {"kind": "Pod", "namespace": ns, "name": name, "action": "deleted"} for ns, name in sorted(pods_deleted)
    ]
    pods = {
        "created": list(created.values()),
        "deleted": list(deleted.values()),
        "failed": list(failed.values()),
        "pending": [_pod(w.namespace, w.name, reason=w.reason) for w in (last.pending if last else ())],
        "backingOff": [
            _pod(w.namespace, w.name, reason=str(w.record.get("reason", "")), retryAfter=w.record.get("retryAfter"))
            for w in (last.backing_off if last else ())
        ],
        "deferred": [_pod(w.namespace, w.name, reason=w.reason) for w in (last.deferred if last else ())],
    }
    service_nodes = sorted(report.service_nodes)
    changed = (
        bool(report.commit)
        or any(o["action"] != "unchanged" for o in objects)
        or bool(created or deleted or service_nodes)
    )
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "dryRun": dry_run,
        "changed": changed,
        "objects": objects,
        "pods": pods,
        "nodes": {
            "unreachable": dict(sorted(report.unreachable.items())),
            "servicesSynced": service_nodes,
        },
        "rollouts": {
            "unfinished": [r.line for r in (last.rollouts if last else ()) if r.key.kind != "Node"],
            "failed": list(report.rollout_errors),
        },
        "errors": [f"{label}: {results[label][1] or 'failed'}" for label in report.failed_other],
        "warnings": list(report.warnings),
        "waves": report.waves,
        "commit": report.commit,
        "exitCode": exit_code,
        "message": message,
    }


def print_result(doc: dict[str, Any], fmt: str) -> None:
    """The summary on stdout, as JSON or YAML (nothing else goes to stdout in these modes)."""
    import json

    from kcli.cli import console

    if fmt == "json":
        console.out.print(json.dumps(doc, indent=2), soft_wrap=True)
    else:
        import yaml  # not at import: `kcli --help` stays fast

        console.out.print(yaml.safe_dump(doc, sort_keys=False).rstrip(), soft_wrap=True)
