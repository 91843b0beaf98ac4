"""Rows, objects and describers of the workload and config kinds (registered in kcli.cli.kinds),
read live from the hosts and the applied set in state."""

from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace

from kcli.cli import console
from kcli.cli.output import format_table
from kcli.core.humanize import human_duration
from kcli.core.objects import ObjectKey
from kcli.core.selectors import matches


def snapshot(cluster, *, need_pods: bool = True, need_nodes: bool = False):
    """The cluster's Snapshot (kcli.shell.facade), warning about nodes that could not be read."""
    snap = cluster.snapshot(need_pods=need_pods, need_nodes=need_nodes)
    for n, e in snap.unreachable.items():
        console.warn(f"node {n} is unreachable (NotReady): its pods are shown as Unknown ({e})")
    return snap


def _age(snap, key: ObjectKey) -> str:
    from kcli.core.workloads import created_at

    c = created_at(snap.state, key)
    return human_duration(snap.now - datetime.fromisoformat(c).timestamp()) if c else "<unknown>"


def _ns_ok(ns: str, namespace: str, all_ns: bool) -> bool:
    return all_ns or ns == namespace


def _sel_ok(labels, selector) -> bool:
    return selector is None or matches(selector, dict(labels))


def pod_rows(snap, kind, name, namespace, all_ns, selector) -> list[dict]:
    rows = []
    seen = set()
    for p in sorted(snap.view.all_pods(), key=lambda p: (p.namespace, p.name)):
        seen.add(f"{p.namespace}/{p.name}")
        if not _ns_ok(p.namespace, namespace, all_ns) or (name and p.name != name) or not _sel_ok(p.labels, selector):
            continue
        r = {"NAMESPACE": p.namespace} if all_ns else {}
        r.update(
            {
                "NAME": p.name,
                "READY": f"{p.ready}/{p.total}",
                "STATUS": p.status,
                "RESTARTS": str(p.restarts),
                "AGE": human_duration(snap.now - p.created_at) if p.created_at else "<unknown>",
                "IP": p.ip or "<none>",
                "NODE": p.node,
                "NOMINATED NODE": "<none>",
                "READINESS GATES": "<none>",
            }
        )
        rows.append(r)
    for key, rec in (snap.state.get("pods") or {}).items():
        if rec.get("phase") not in ("Pending", "Failed") or key in seen:
            continue
        ns, pname = key.split("/", 1)
        if not _ns_ok(ns, namespace, all_ns) or (name and pname != name):
            continue
        r = {"NAMESPACE": ns} if all_ns else {}
        status = rec.get("reason") or "Failed" if rec.get("phase") == "Failed" else "Pending"
        r.update(
            {
                "NAME": pname,
                "READY": "0/1",
                "STATUS": status,
                "RESTARTS": "0",
                "AGE": "<unknown>",
                "IP": "<none>",
                "NODE": rec.get("node") or "<none>",
                "NOMINATED NODE": "<none>",
                "READINESS GATES": "<none>",
            }
        )
        rows.append(r)
    return rows


def _objs(snap, kind: str, name, namespace, all_ns, selector):
    out = []
    for o in snap.objects:
        if o.kind != kind or (name and o.name != name):
            continue
        if o.namespaced and not _ns_ok(o.namespace, namespace, all_ns):
            continue
        if not _sel_ok(o.meta.labels, selector):
            continue
        out.append(o)
    return sorted(out, key=lambda o: (o.namespace, o.name))


def _prefix(all_ns: bool, o) -> dict:
    return {"NAMESPACE": o.namespace} if all_ns else {}


def _containers(template) -> tuple[str, str]:
    cs = template.spec.containers
    return ",".join(c.name for c in cs), ",".join(c.image for c in cs)


def _selector_str(sel) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(sel.match_labels.items())) or "<none>"


def deployment_rows(snap, kind, name, namespace, all_ns, selector):
    rows = []
    for o in _objs(snap, "Deployment", name, namespace, all_ns, selector):
        st = snap.statuses.get(o.key)
        r = _prefix(all_ns, o)
        c, i = _containers(o.template)
        r.update(
            {
                "NAME": o.name,
                "READY": f"{st.ready}/{o.replicas}" if st else f"0/{o.replicas}",
                "UP-TO-DATE": str(st.updated if st else 0),
                "AVAILABLE": str(st.available if st else 0),
                "AGE": _age(snap, o.key),
                "CONTAINERS": c,
                "IMAGES": i,
                "SELECTOR": _selector_str(o.selector),
            }
        )
        rows.append(r)
    return rows


def _owned_replica_sets(snap, o) -> list[SimpleNamespace]:
    """A Deployment's ReplicaSets: the live ones, then old revisions with no pod left (scaled to 0,
    kept up to revisionHistoryLimit), each with its revision number and recorded pod template."""
    from kcli.core.workloads import object_id, redacted_manifest

    def names(rev: dict) -> tuple[str, str]:
        cs = ((rev.get("template") or {}).get("spec") or {}).get("containers") or []
        return ",".join(str(x.get("name", "")) for x in cs), ",".join(str(x.get("image", "")) for x in cs)

    st = snap.statuses.get(o.key)
    revs = {str(r.get("replicaSet", "")): r for r in (snap.state.get("revisions") or {}).get(object_id(o.key)) or []}
    out = []
    for rs in st.replica_sets if st else ():
        rev = revs.get(rs.name) or {}
        out.append(
            SimpleNamespace(
                name=rs.name,
                replicas=rs.replicas,
                current=rs.current,
                ready=rs.ready,
                pod_template_hash=rs.pod_template_hash,
                names=names(rev) if rev else _containers(o.template),
                revision=rev.get("revision"),
                template=rev.get("template") or redacted_manifest(o)["spec"]["template"],
            )
        )
    shown = {rs.name for rs in out}
    for rs_name, rev in sorted(revs.items(), key=lambda kv: -int(kv[1].get("revision", 0))):
        if rs_name and rs_name not in shown:
            out.append(
                SimpleNamespace(
                    name=rs_name,
                    replicas=0,
                    current=0,
                    ready=0,
                    names=names(rev),
                    pod_template_hash=rs_name.rsplit("-", 1)[-1],
                    revision=rev.get("revision"),
                    template=rev.get("template"),
                )
            )
    return out


def replicaset_rows(snap, kind, name, namespace, all_ns, selector):
    rows = []
    for o in _objs(snap, "Deployment", None, namespace, all_ns, None):
        for rs in _owned_replica_sets(snap, o):
            if name and rs.name != name:
                continue
            r = {"NAMESPACE": o.namespace} if all_ns else {}
            c, i = rs.names
            r.update(
                {
                    "NAME": rs.name,
                    "DESIRED": str(rs.replicas),
                    "CURRENT": str(rs.current),
                    "READY": str(rs.ready),
                    "AGE": _age(snap, o.key),
                    "CONTAINERS": c,
                    "IMAGES": i,
                    "SELECTOR": f"{_selector_str(o.selector)},pod-template-hash={rs.pod_template_hash}",
                }
            )
            rows.append(r)
    for o in _objs(snap, "ReplicaSet", name, namespace, all_ns, selector):
        st = snap.statuses.get(o.key)
        r = _prefix(all_ns, o)
        r.update(
            {
                "NAME": o.name,
                "DESIRED": str(o.replicas),
                "CURRENT": str(getattr(st, "current", 0)),
                "READY": str(getattr(st, "ready", 0)),
                "AGE": _age(snap, o.key),
            }
        )
        rows.append(r)
    return rows


def replicaset_objects(snap, kind, name, namespace, all_ns, selector) -> list[dict]:
    """ReplicaSets as objects: a Deployment's (annotated with ``deployment.kubernetes.io/revision``,
    owned by the Deployment, selecting its pod-template-hash, the template with the API server's
    defaults), then the applied standalone ones."""
    from kcli.core.defaults import default_pod_template

    out = []
    for o in _objs(snap, "Deployment", None, namespace, all_ns, None):
        for rs in _owned_replica_sets(snap, o):
            if name and rs.name != name:
                continue
            h = rs.pod_template_hash
            sel = {"matchLabels": {**o.selector.match_labels, "pod-template-hash": h}}
            tmpl = default_pod_template(rs.template or {})
            tmpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
            labels = {**(tmpl["metadata"].get("labels") or {})}
            if not _sel_ok(labels, selector):
                continue
            annotations = {"deployment.kubernetes.io/desired-replicas": str(o.replicas)}
            if rs.revision is not None:
                annotations["deployment.kubernetes.io/revision"] = str(rs.revision)
            out.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": rs.name,
                        "namespace": o.namespace,
                        "labels": labels,
                        "annotations": annotations,
                        "ownerReferences": [
                            {
                                "apiVersion": "apps/v1",
                                "kind": "Deployment",
                                "name": o.name,
                                "controller": True,
                                "blockOwnerDeletion": True,
                            }
                        ],
                    },
                    "spec": {"replicas": rs.replicas, "selector": sel, "template": tmpl},
                    "status": {"replicas": rs.current, "readyReplicas": rs.ready, "availableReplicas": rs.ready},
                }
            )
    return out + applied_objects(snap, kind, name, namespace, all_ns, selector)


def daemonset_rows(snap, kind, name, namespace, all_ns, selector):
    rows = []
    for o in _objs(snap, "DaemonSet", name, namespace, all_ns, selector):
        st = snap.statuses.get(o.key)
        r = _prefix(all_ns, o)
        sel = ",".join(f"{k}={v}" for k, v in sorted(o.template.spec.node_selector.items())) or "<none>"
        r.update(
            {
                "NAME": o.name,
                "DESIRED": str(getattr(st, "desired", 0)),
                "CURRENT": str(getattr(st, "current", 0)),
                "READY": str(getattr(st, "ready", 0)),
                "UP-TO-DATE": str(getattr(st, "up_to_date", 0)),
                "AVAILABLE": str(getattr(st, "ready", 0)),
                "NODE SELECTOR": sel,
                "AGE": _age(snap, o.key),
            }
        )
        rows.append(r)
    return rows


def statefulset_rows(snap, kind, name, namespace, all_ns, selector):
    rows = []
    for o in _objs(snap, "StatefulSet", name, namespace, all_ns, selector):
        st = snap.statuses.get(o.key)
        r = _prefix(all_ns, o)
        r.update(
            {
                "NAME": o.name,
                "READY": f"{getattr(st, 'ready', 0)}/{o.replicas}",
                "AGE": _age(snap, o.key),
                "CONTAINERS": ",".join(c.name for c in o.template.spec.containers),
                "IMAGES": ",".join(c.image for c in o.template.spec.containers),
            }
        )
        rows.append(r)
    return rows


def job_rows(snap, kind, name, namespace, all_ns, selector):
    rows = []
    for o in _objs(snap, "Job", name, namespace, all_ns, selector):
        st = snap.statuses.get(o.key)
        status = {"Complete": "Complete", "Failed": "Failed", "Suspended": "Suspended"}.get(
            getattr(st, "condition", ""), "Running"
        )
        comp = o.completions if o.completions is not None else o.parallelism
        r = _prefix(all_ns, o)
        r.update(
            {
                "NAME": o.name,
                "STATUS": status,
                "COMPLETIONS": f"{getattr(st, 'succeeded', 0)}/{comp}",
                "DURATION": "<unknown>",
                "AGE": _age(snap, o.key),
            }
        )
        rows.append(r)
    return rows


def _applied(snap, kind, name, namespace, all_ns, selector):
    """(namespace, manifest) of the applied objects of ``kind`` recorded in the state, as filtered."""
    out = []
    for _rid, rec in sorted((snap.state.get("objects") or {}).items()):
        m = rec.get("lastApplied") or {}
        if m.get("kind") != kind.kind:
            continue
        meta = m.get("metadata") or {}
        ns = meta.get("namespace") or ("default" if kind.namespaced else "")
        if (name and meta.get("name") != name) or (kind.namespaced and not _ns_ok(ns, namespace, all_ns)):
            continue
        if not _sel_ok(meta.get("labels") or {}, selector):
            continue
        out.append((ns, m))
    return out


def applied_rows(snap, kind, name, namespace, all_ns, selector):
    """ConfigMaps, Secrets, Namespaces: straight from the applied manifests."""
    out = []
    for ns, m in _applied(snap, kind, name, namespace, all_ns, selector):
        meta = m.get("metadata") or {}
        key = ObjectKey(kind.kind, ns if kind.namespaced else "", meta.get("name", ""))
        r = {"NAMESPACE": ns} if all_ns and kind.namespaced else {}
        r["NAME"] = meta.get("name", "")
        if kind.kind == "Secret":
            r["TYPE"] = m.get("type", "Opaque")
        if kind.kind in ("ConfigMap", "Secret"):
            r["DATA"] = str(len(m.get("data") or {}) + len(m.get("stringData") or {}) + len(m.get("binaryData") or {}))
        if kind.kind == "Namespace":
            r["STATUS"] = "Active"
        if kind.kind == "ServiceAccount":
            r["SECRETS"] = str(len(m.get("secrets") or []))
        r["AGE"] = _age(snap, key)
        out.append(r)
    return out


def _pod_object(p, snap=None) -> dict:
    """A pod as the API server returns it (kcli.cli.live_objects for the shapes)."""
    from kcli.cli.live_objects import pod_object

    return pod_object(p, snap)


def pod_objects(snap, kind, name, namespace, all_ns, selector) -> list[dict]:
    return [
        _pod_object(p, snap)
        for p in snap.view.all_pods()
        if _ns_ok(p.namespace, namespace, all_ns) and (not name or p.name == name) and _sel_ok(p.labels, selector)
    ]


def _jsonable(status) -> dict:
    return json.loads(json.dumps(status, default=lambda x: getattr(x, "__dict__", str(x))))


def applied_objects(snap, kind, name, namespace, all_ns, selector) -> list[dict]:
    """The applied objects as the API server would return them (kcli.cli.live_objects): metadata,
    spec with defaults and allocations, the controller's status."""
    from kcli.cli.live_objects import live_meta, service_object, uid_of, workload_status
    from kcli.core.defaults import default_object
    from kcli.core.workloads import object_id

    out = []
    typed = {o.key: o for o in snap.objects}
    for ns, m in _applied(snap, kind, name, namespace, all_ns, selector):
        key = ObjectKey(kind.kind, ns if kind.namespaced else "", (m.get("metadata") or {}).get("name", ""))
        if kind.kind == "Service":
            out.append(service_object(snap, m, key))
            continue
        obj = default_object(m, uid=uid_of(snap.inv.cluster, key))
        meta = live_meta(snap, m, key, kind.namespaced)
        revisions = (snap.state.get("revisions") or {}).get(object_id(key)) or []
        if kind.kind == "Deployment" and revisions:  # the current one: the Deployment controller's annotation
            top = max(int(r.get("revision", 0)) for r in revisions)
            meta["annotations"]["deployment.kubernetes.io/revision"] = str(top)
        defaulted_labels = (obj.get("metadata") or {}).get("labels") or {}
        labels = {**defaulted_labels, **(meta.get("labels") or {})}
        obj["metadata"] = {**meta, **({"labels": labels} if labels else {})}
        st = snap.statuses.get(key)
        status = workload_status(kind.kind, typed.get(key), st, snap) if st is not None else {}
        if status:
            obj["status"] = status
        out.append(obj)
    return out


def _not_found(kind, name: str):
    from kcli.errors import KcliError

    err = KcliError(f'{kind.plural} "{name}" not found')
    err.exit_code = 1
    return err


def _print_with_events(snap, name: str, lines: list[str], live: tuple = ()) -> None:
    events = [
        e
        for e in (snap.state.get("events") or [])
        if name in e.get("message", "") or e.get("object", "").endswith(f"/{name}")
    ]
    events += [{"time": t, "reason": r, "message": m} for t, r, m in live]  # read from the node now (probes)
    lines.append("Events:" if events else "Events:       <none>")
    if events:
        lines += [
            "  " + ln
            for ln in format_table(
                [
                    {"TIME": e.get("time", ""), "REASON": e.get("reason", ""), "MESSAGE": e.get("message", "")}
                    for e in events[-15:]
                ]
            ).splitlines()
        ]
    console.out.print("\n".join(lines))


def describe_pod(cluster, kind, name: str, namespace: str) -> None:
    snap = snapshot(cluster)
    lines: list[str] = []
    pods = [p for p in snap.view.all_pods() if p.name == name and p.namespace == namespace]
    pending = (snap.state.get("pods") or {}).get(f"{namespace}/{name}") or {}
    if not pods and not (pending and pending.get("phase") in ("Pending", "Failed")):
        raise _not_found(kind, name)
    if pods:
        p = pods[0]
        lines += [
            f"Name:         {p.name}",
            f"Namespace:    {p.namespace}",
            f"Node:         {p.node}",
            "Start Time:   " + (datetime.fromtimestamp(p.created_at).isoformat() if p.created_at else "<unknown>"),
            "Labels:       " + ("\n              ".join(f"{k}={v}" for k, v in sorted(p.labels.items())) or "<none>"),
            f"Status:       {p.status}",
            f"IP:           {p.ip or '<none>'}",
            f"Controlled By: {p.owner or p.applied}",
            f"UID:          {p.uid}",
            "Containers:",
        ]
        for c in p.containers:
            if c.kind == "sandbox":
                continue
            state = {"running": "Running", "exited": "Terminated", "restarting": "Waiting (CrashLoopBackOff)"}.get(
                c.status, c.status
            )
            lines += [
                f"  {c.name}:{' (init)' if c.kind == 'init' else ''}",
                f"    Container ID:  docker://{c.id}",
                f"    Image:         {c.image}",
                f"    State:         {state}",
            ]
            if c.status == "exited":
                lines.append(f"      Exit Code:   {c.exit_code}")
            lines.append(f"    Restart Count: {c.restart_count}")
        ready = "True" if p.observed.ready else "False"
        lines += [
            "Conditions:",
            "  Type              Status",
            f"  Ready             {ready}",
            f"  ContainersReady   {ready}",
        ]
        if not p.observed.ready and p.observed.detail:
            lines.append(f"  Message:          {p.observed.detail}")  # e.g. Readiness probe failed: …
    elif pending.get("phase") == "Failed":
        retry = datetime.fromtimestamp(float(pending.get("retryAfter", 0))).isoformat()
        lines += [
            f"Name:         {name}",
            f"Namespace:    {namespace}",
            f"Node:         {pending.get('node') or '<none>'}",
            "Status:       Pending",
            f"Controlled By: {pending.get('applied')}",
            "Conditions:",
            "  Type              Status",
            "  PodScheduled      True",
            "  ContainersReady   False",
            f"Reason:       {pending.get('reason')}",
            f"Message:      {pending.get('message')}",
            f"Attempts:     {pending.get('attempts')} (next attempt after {retry}, on the next apply)",
        ]
    else:
        lines += [
            f"Name:         {name}",
            f"Namespace:    {namespace}",
            "Node:         <none>",
            "Status:       Pending",
            f"Controlled By: {pending.get('applied')}",
            "Conditions:",
            "  Type           Status",
            "  PodScheduled   False",
            f"Reason:       {pending.get('reason')}",
        ]
    _print_with_events(snap, name, lines, pods[0].probe_events if pods else ())


def deployment_conditions(obj, st, snap) -> list[tuple[str, str, str]]:
    """Available and Progressing as the Deployment controller sets them; the progress deadline
    counts from when kcli first recorded the current revision (there is no controller between runs)."""
    from kcli.core.controllers.deployment import resolve_fenceposts
    from kcli.core.workloads import object_id

    _, unavailable = resolve_fenceposts(obj.strategy.max_surge, obj.strategy.max_unavailable, obj.replicas)
    ok = st.available >= obj.replicas - (unavailable if obj.strategy.type == "RollingUpdate" else 0)
    available = (
        "Available",
        "True" if ok else "False",
        "MinimumReplicasAvailable" if ok else "MinimumReplicasUnavailable",
    )
    if obj.paused:
        return [available, ("Progressing", "Unknown", "DeploymentPaused")]
    if not st.rollout:
        return [available, ("Progressing", "True", "NewReplicaSetAvailable")]
    revs = (snap.state.get("revisions") or {}).get(object_id(obj.key)) or []
    since = revs[-1].get("at", "") if revs else ""
    try:
        started = datetime.fromisoformat(since).timestamp() if since else 0.0
    except ValueError:
        started = 0.0
    if started and snap.now - started > obj.progress_deadline_seconds:
        return [available, ("Progressing", "False", "ProgressDeadlineExceeded")]
    return [available, ("Progressing", "True", "ReplicaSetUpdated")]


def describe_workload(cluster, kind, name: str, namespace: str) -> None:
    """Any applied object: its labels, its controller's status, its spec (or data; never a Secret's)."""
    snap = snapshot(cluster)
    lines: list[str] = []
    objs = applied_objects(snap, kind, name, namespace, False, None)
    if not objs:
        raise _not_found(kind, name)
    o = objs[0]
    meta = o.get("metadata") or {}
    lines += [
        f"Name:         {meta.get('name')}",
        f"Namespace:    {meta.get('namespace', namespace)}",
        "Labels:       " + (", ".join(f"{k}={v}" for k, v in sorted((meta.get("labels") or {}).items())) or "<none>"),
    ]
    st = snap.statuses.get(ObjectKey(kind.kind, namespace if kind.namespaced else "", name))
    if kind.kind == "Deployment" and st is not None:
        obj = next(x for x in snap.objects if x.key == ObjectKey(kind.kind, namespace, name))
        lines += [
            f"Selector:     {_selector_str(obj.selector)}",
            f"Replicas:     {obj.replicas} desired | {st.updated} updated | {st.current} total | {st.available} available | {max(0, st.current - st.available)} unavailable",
            f"StrategyType: {obj.strategy.type}",
            "Pod Template:",
            f"  Labels:  {', '.join(f'{k}={v}' for k, v in sorted(obj.template.labels.items()))}",
            "  Containers:",
        ]
        for c in obj.template.spec.containers:
            lines += [f"   {c.name}:", f"    Image:  {c.image}"]
        lines += [
            "Conditions:",
            "  Type           Status  Reason",
            "  ----           ------  ------",
            *(f"  {t:<15}{v:<8}{r}" for t, v, r in deployment_conditions(obj, st, snap)),
        ]
        lines.append(f"NewReplicaSet: {st.new_replica_set}")
    elif st is not None:
        lines.append("Status:       " + json.dumps(_jsonable(st)))
    if kind.kind != "Secret":
        spec = o.get("spec") or o.get("data")
        if spec is not None and kind.kind != "Deployment":
            import yaml

            lines += [
                "Spec:" if "spec" in o else "Data:",
                *("  " + ln for ln in yaml.safe_dump(spec, sort_keys=True).rstrip().splitlines()),
            ]
    _print_with_events(snap, name, lines)
