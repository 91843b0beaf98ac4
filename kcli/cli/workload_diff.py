"""`kcli diff -f`: objects that would be created or changed, and pods the hosts have drifted on."""

from __future__ import annotations


def differences(cluster, filenames, *, recursive=False, values=(), sets=()) -> list[dict[str, str]]:
    from kcli.cli.apply_cmds import applyset_id
    from kcli.cli.manifest_cmds import load_and_validate
    from kcli.core.workloads import known_keys

    result = load_and_validate(
        list(filenames),
        recursive=recursive,
        values_files=list(values),
        set_values=list(sets),
        known=known_keys(cluster.state()),
    )
    report = cluster.apply(list(result.objects), applyset=applyset_id(list(filenames)), dry_run=True)
    rows = [
        {
            "OBJECT": ref,
            "CHANGE": what,
            "DETAIL": "manifest differs from the last applied" if what == "configured" else "",
        }
        for ref, what in report.object_results
        if what != "unchanged"
    ]
    plan = report.plan
    if plan is not None:
        rows += [
            {"OBJECT": f"pod/{a.namespace}/{a.name}", "CHANGE": "delete", "DETAIL": f"on {a.node}: {a.reason}"}
            for a in plan.deletes
        ]
        rows += [
            {"OBJECT": f"pod/{a.namespace}/{a.name}", "CHANGE": "create", "DETAIL": f"on {a.node}: {a.reason}"}
            for a in plan.creates
        ]
    rows += [
        {"OBJECT": f"node/{n}", "CHANGE": "services", "DETAIL": "service rules, DNS records or DNS server differ"}
        for n in report.service_nodes
    ]
    return rows
