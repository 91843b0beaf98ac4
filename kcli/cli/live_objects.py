"""What `kcli get -o json|yaml` returns: objects in the shape kubectl's come in — metadata with
namespace, uid, creationTimestamp, generation, labels, annotations (the last-applied
configuration among them) and ownerReferences; spec with the API server's defaults and kcli's
allocations; status as the controllers would write it — built from the applied manifest, the
state and the live view."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Any

from kcli.core.objects import ObjectKey

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
GENERATION_KINDS = ("Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job")
"""Kinds whose metadata carries a generation (the others' API objects have none)."""


def uid_of(cluster: str, key: ObjectKey) -> str:
    """A stable UUID-shaped uid per cluster and object (kcli has no API server to hand them out)."""
    h = hashlib.sha256(f"{cluster}/{key.kind}/{key.namespace}/{key.name}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def live_meta(snap, manifest: dict, key: ObjectKey, namespaced: bool = True) -> dict[str, Any]:
    """metadata as the API server returns it."""
    from kcli.core.workloads import created_at, object_id

    meta = dict(manifest.get("metadata") or {})
    if namespaced:
        meta["namespace"] = key.namespace or "default"
    meta["uid"] = uid_of(snap.inv.cluster, key)
    created = created_at(snap.state, key)
    if created:
        meta["creationTimestamp"] = created.replace("+00:00", "Z")
    if key.kind in GENERATION_KINDS:
        revisions = (snap.state.get("revisions") or {}).get(object_id(key)) or []
        meta["generation"] = max(1, len(revisions))
    meta["resourceVersion"] = str(snap.state.get("generation", 1))
    meta["annotations"] = {
        **(meta.get("annotations") or {}),
        LAST_APPLIED: json.dumps(manifest, sort_keys=True, separators=(",", ":")) + "\n",
    }
    if not meta.get("labels"):
        meta.pop("labels", None)  # the API server leaves empty labels out
    return meta


def service_object(snap, manifest: dict, key: ObjectKey) -> dict[str, Any]:
    """A Service with the API server's defaults (kcli.core.defaults.service_spec), its ClusterIP(s)
    and NodePorts, and ``status.loadBalancer``."""
    from kcli.core.defaults import service_spec

    alloc = (snap.state.get("services") or {}).get(f"{key.namespace}/{key.name}") or {}
    spec = service_spec(manifest.get("spec"))
    ip = alloc.get("clusterIP") or spec.get("clusterIP")
    if ip and spec["type"] != "ExternalName":
        spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
    node_ports = alloc.get("nodePorts") or {}
    for p in spec.get("ports") or []:
        np = node_ports.get(p.get("name") or f"{p.get('port')}/{p.get('protocol')}")
        if np:
            p["nodePort"] = int(np)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": live_meta(snap, manifest, key),
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


def workload_status(kind: str, obj, st, snap) -> dict[str, Any]:
    """status of a Deployment, ReplicaSet, DaemonSet, StatefulSet or Job, with kubectl's field names."""
    if st is None:
        return {}
    gen = {"observedGeneration": 1}
    if kind == "Deployment":
        from kcli.cli.workload_get import deployment_conditions

        out = {
            **gen,
            "replicas": st.current,
            "updatedReplicas": st.updated,
            "readyReplicas": st.ready,
            "availableReplicas": st.available,
            "unavailableReplicas": max(0, st.replicas - st.available),
            "conditions": [{"type": t, "status": s, "reason": r} for t, s, r in deployment_conditions(obj, st, snap)],
        }
    elif kind == "ReplicaSet":
        out = {
            **gen,
            "replicas": st.current,
            "fullyLabeledReplicas": st.current,
            "readyReplicas": st.ready,
            "availableReplicas": st.ready,
        }
    elif kind == "DaemonSet":
        out = {
            **gen,
            "desiredNumberScheduled": st.desired,
            "currentNumberScheduled": st.current,
            "numberReady": st.ready,
            "updatedNumberScheduled": st.up_to_date,
            "numberAvailable": st.available,
            "numberMisscheduled": st.misscheduled,
            "numberUnavailable": max(0, st.desired - st.available),
        }
    elif kind == "StatefulSet":
        out = {
            **gen,
            "replicas": st.current,
            "readyReplicas": st.ready,
            "currentReplicas": st.updated,
            "updatedReplicas": st.updated,
            "availableReplicas": st.ready,
            "currentRevision": st.revision,
            "updateRevision": st.revision,
        }
    elif kind == "Job":
        cond = getattr(st, "condition", "")
        out = {
            "active": st.active,
            "succeeded": st.succeeded,
            "failed": st.failed,
            **(
                {"conditions": [{"type": cond, "status": "True", **({"reason": st.reason} if st.reason else {})}]}
                if cond
                else {}
            ),
        }
    else:
        return {}
    return {k: v for k, v in out.items() if v not in (0, None) or k in ("observedGeneration", "replicas")}


def _iso(ts: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts else ""


def _container_state(c) -> dict[str, Any]:
    if c.status == "running":
        return {"running": {"startedAt": _iso(c.started_at)}}
    if c.status == "restarting":
        return {"waiting": {"reason": "CrashLoopBackOff"}}
    if c.status in ("exited", "dead"):
        return {
            "terminated": {
                "exitCode": c.exit_code,
                "reason": "Completed" if c.exit_code == 0 else "Error",
                "startedAt": _iso(c.started_at),
                "finishedAt": _iso(c.finished_at),
            }
        }
    return {"waiting": {"reason": "ContainerCreating"}}


PHASES = {"Running": "Running", "Completed": "Succeeded", "Error": "Failed", "Unknown": "Unknown"}


PodSource = tuple[dict[str, Any] | None, dict[str, Any] | None]


def pod_source(snap: Any, p: Any) -> PodSource:
    """The applied manifest a live pod (a PodView) comes from — its Pod, or the workload that made
    it — and, for a Deployment's pod of an older ReplicaSet, that revision's pod template."""
    if snap is None or not p.applied or "/" not in p.applied:
        return None, None
    from kcli.core.workloads import object_id

    kind, _, name = p.applied.partition("/")
    oid = object_id(ObjectKey(kind, p.namespace, name))
    manifest = ((snap.state.get("objects") or {}).get(oid) or {}).get("lastApplied")
    if not isinstance(manifest, dict) or manifest.get("kind") != kind:
        return None, None
    template = None
    if kind == "Deployment" and p.owner.startswith("ReplicaSet/"):
        rs = p.owner.partition("/")[2]
        for rev in (snap.state.get("revisions") or {}).get(oid) or []:
            if rev.get("replicaSet") == rs and isinstance(rev.get("template"), dict):
                template = rev["template"]
    return manifest, template


def _pod_annotations(manifest: dict[str, Any] | None, template: dict[str, Any] | None) -> dict[str, str]:
    """A bare Pod's annotations and its last-applied configuration; a controller's pod gets its
    template's annotations."""
    if manifest is None:
        return {}
    if manifest.get("kind") == "Pod":
        own = (manifest.get("metadata") or {}).get("annotations") or {}
        return {**own, LAST_APPLIED: json.dumps(manifest, sort_keys=True, separators=(",", ":")) + "\n"}
    tmpl = template if template is not None else (manifest.get("spec") or {}).get("template") or {}
    return dict((tmpl.get("metadata") or {}).get("annotations") or {})


def live_pod_spec(p: Any, snap: Any = None, source: PodSource | None = None) -> dict[str, Any]:
    """A live pod's spec as the API server returns it (kcli.core.defaults.pod_spec): the spec its
    manifest gives the pod, with the Pod defaults and its node. A pod whose object is no longer
    applied shows what the node tells: its containers' names and images, restart policy, node."""
    from kcli.core.defaults import pod_spec

    manifest, template = source if source is not None else pod_source(snap, p)
    if manifest is None:
        apps = [{"name": c.name, "image": c.image} for c in p.containers if c.kind == "container"]
        manifest = {"kind": "Pod", "spec": {"restartPolicy": p.restart_policy, "containers": apps}}
    spec = pod_spec(manifest, p.name, p.node, template)
    spec["nodeName"] = p.node
    return spec


def pod_object(p, snap=None) -> dict[str, Any]:
    """A live pod (a PodView): metadata, spec (kcli.core.defaults: the manifest's pod spec with
    the API server's defaults, on its node), status with phase, conditions, IPs, start time, QoS
    class and containerStatuses (state, lastState, ready, restarts)."""
    from kcli.core.defaults import JOB_UID_LABELS, qos_class

    owner = None
    if p.owner:
        kind, _, name = p.owner.partition("/")
        api = {"ReplicaSet": "apps/v1", "DaemonSet": "apps/v1", "StatefulSet": "apps/v1", "Job": "batch/v1"}.get(
            kind, "v1"
        )
        owner = {"apiVersion": api, "kind": kind, "name": name, "controller": True, "blockOwnerDeletion": True}
    phase = PHASES.get(
        p.status, "Failed" if p.status.startswith(("Init:Err", "ErrImage", "CreateContainer")) else "Pending"
    )
    ready = phase == "Running" and p.ready == p.total
    host_ip = ""
    if snap is not None:
        from kcli.core.state import leases_of

        lease = leases_of(snap.state).get(p.node)
        host_ip = lease.public_ip if lease else ""
    apps = [c for c in p.containers if c.kind == "container"]
    statuses = [
        {
            "name": c.name,
            "image": c.image,
            "imageID": "",
            "containerID": f"docker://{c.id}",
            "ready": c.status == "running" and ready,
            "started": c.status == "running",
            "restartCount": c.restart_count,
            "state": _container_state(c),
            "lastState": (
                {"terminated": {"exitCode": c.exit_code, "reason": "Error" if c.exit_code else "Completed"}}
                if c.restart_count and c.status in ("running", "restarting")
                else {}
            ),
        }
        for c in apps
    ]
    scheduled = bool(p.node)
    conditions = [
        {"type": t, "status": "True" if v else "False"}
        for t, v in (
            ("PodScheduled", scheduled),
            ("Initialized", phase in ("Running", "Succeeded") or bool(apps)),
            ("ContainersReady", ready),
            ("Ready", ready),
        )
    ]
    meta: dict[str, Any] = {"name": p.name, "namespace": p.namespace, "uid": p.uid, "labels": dict(p.labels)}
    if snap is not None and p.owner.startswith("Job/"):  # the labels the Job's generated selector matches
        job_uid = uid_of(snap.inv.cluster, ObjectKey("Job", p.namespace, p.owner.partition("/")[2]))
        meta["labels"].update({k: job_uid for k in JOB_UID_LABELS})
    if not meta["labels"]:
        del meta["labels"]
    source = pod_source(snap, p)
    annotations = _pod_annotations(*source)
    if annotations:
        meta["annotations"] = annotations
    if p.created_at:
        meta["creationTimestamp"] = _iso(p.created_at)
    if owner:
        meta["ownerReferences"] = [owner]
    spec = live_pod_spec(p, snap, source)
    status: dict[str, Any] = {"phase": phase, "conditions": conditions, "qosClass": qos_class(spec)}
    if p.ip:
        status.update({"podIP": p.ip, "podIPs": [{"ip": p.ip}]})
    if host_ip:
        status.update({"hostIP": host_ip, "hostIPs": [{"ip": host_ip}]})
    if p.created_at:
        status["startTime"] = _iso(p.created_at)
    status["containerStatuses"] = statuses
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": status,
    }
