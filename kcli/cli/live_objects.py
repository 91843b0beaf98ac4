"""What `kcli get -o json|yaml` returns: objects in the shape kubectl's come in — metadata with
namespace, uid, creationTimestamp, generation, labels, annotations (the last-applied
configuration among them) and ownerReferences; spec with the API server's defaults and kcli's
allocations; status as the controllers would write it — built from the applied manifest, the
state and the live view."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC
from typing import Any

from kcli.core.objects import ObjectKey

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


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
    revisions = (snap.state.get("revisions") or {}).get(object_id(key)) or []
    meta["generation"] = max(1, len(revisions))
    meta["resourceVersion"] = str(snap.state.get("generation", 1))
    meta["annotations"] = {
        **(meta.get("annotations") or {}),
        LAST_APPLIED: json.dumps(manifest, sort_keys=True, separators=(",", ":")) + "\n",
    }
    meta.setdefault("labels", {})
    return meta


def service_object(snap, manifest: dict, key: ObjectKey) -> dict[str, Any]:
    """A Service with its ClusterIP(s), NodePorts and defaulted ports, and ``status.loadBalancer``."""
    alloc = (snap.state.get("services") or {}).get(f"{key.namespace}/{key.name}") or {}
    spec = copy.deepcopy(manifest.get("spec") or {})
    spec.setdefault("type", "ClusterIP")
    ip = alloc.get("clusterIP") or spec.get("clusterIP")
    if ip:
        spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    node_ports = alloc.get("nodePorts") or {}
    for p in spec.get("ports") or []:
        p.setdefault("protocol", "TCP")
        if p.get("targetPort") in (None, 0, ""):
            p["targetPort"] = p.get("port")
        np = node_ports.get(p.get("name") or f"{p.get('port')}/{p['protocol']}")
        if np:
            p["nodePort"] = int(np)
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
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


def pod_object(p, snap=None) -> dict[str, Any]:
    """A live pod (a PodView): metadata, spec (node, restart policy, containers), status with
    phase, conditions, IPs, start time and containerStatuses (state, lastState, ready, restarts)."""
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
    if p.created_at:
        meta["creationTimestamp"] = _iso(p.created_at)
    if owner:
        meta["ownerReferences"] = [owner]
    status: dict[str, Any] = {"phase": phase, "conditions": conditions, "qosClass": "BestEffort"}
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
        "spec": {
            "nodeName": p.node,
            "restartPolicy": p.restart_policy,
            "containers": [{"name": c.name, "image": c.image} for c in apps],
        },
        "status": status,
    }
