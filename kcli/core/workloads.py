"""Applied objects in the state file, pod IP allocation and the per-node pod script (pure)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kcli.core.network import NodeLease, pod_ip_range
from kcli.core.objects import AnyObject, ObjectKey, Secret, build_object, canonical_json
from kcli.core.secretbox import seal, unseal

EVENTS_KEPT = 100


def object_id(key: ObjectKey) -> str:
    return f"{key.kind}/{key.namespace}/{key.name}" if key.namespace else f"{key.kind}/{key.name}"


REDACTED = "<redacted>"


def redacted_manifest(obj: AnyObject) -> dict[str, Any]:
    """The last-applied manifest; a Secret's values replaced by a placeholder (changes are seen
    through the Secret's ``contentHash``, an HMAC keyed by the cluster's secret key)."""
    m: dict[str, Any] = json.loads(canonical_json(obj.manifest))
    if isinstance(obj, Secret):
        for field in ("data", "stringData"):
            if isinstance(m.get(field), dict):
                m[field] = {k: REDACTED for k in m[field]}
    return m


def known_keys(state: Mapping[str, Any]) -> set[ObjectKey]:
    """Keys of every object recorded as applied (for reference checks against the cluster)."""
    out = set()
    for rec in (state.get("objects") or {}).values():
        meta = (rec.get("lastApplied") or {}).get("metadata") or {}
        kind = (rec.get("lastApplied") or {}).get("kind", "")
        out.add(
            ObjectKey(kind, "" if kind == "Namespace" else meta.get("namespace") or "default", meta.get("name", ""))
        )
    return out


def record_objects(
    state: Mapping[str, Any], objects: Iterable[AnyObject], applyset: str, now: str, secret_key: bytes = b""
) -> dict[str, Any]:
    out = dict(state)
    objs = dict(out.get("objects") or {})
    for o in objects:
        old = objs.get(object_id(o.key)) or {}
        rec = {"applyset": applyset, "lastApplied": redacted_manifest(o), "createdAt": old.get("createdAt") or now}
        if isinstance(o, Secret):
            rec["contentHash"] = o.content_hash(secret_key)
            if old.get("sealed") and old.get("contentHash") == rec["contentHash"]:
                rec["sealed"] = old["sealed"]  # same values: the same record (a second apply changes nothing)
            elif secret_key:
                rec["sealed"] = seal(secret_key, o.namespace, o.name, o.type, o.data)
        objs[object_id(o.key)] = rec
    out["objects"] = objs
    return out


def sealed_secrets(state: Mapping[str, Any], keys: Iterable[ObjectKey], secret_key: bytes) -> list[Secret]:
    """The recorded Secrets among ``keys`` whose sealed values open with the cluster's key, as
    Secret objects (kcli.core.secretbox): what pods need to be recreated without an apply."""
    out: list[Secret] = []
    for key in keys:
        rec = (state.get("objects") or {}).get(object_id(key)) or {}
        opened = unseal(secret_key, key.namespace, key.name, str(rec.get("sealed") or ""))
        if opened is None:
            continue
        m = {k: v for k, v in (rec.get("lastApplied") or {}).items() if k not in ("data", "stringData")}
        obj = build_object({**m, "type": opened.get("type") or m.get("type", "Opaque"), "data": opened["data"]})
        if isinstance(obj, Secret) and obj.content_hash(secret_key) == rec.get("contentHash"):
            out.append(obj)
    return out


def forget_objects(state: Mapping[str, Any], keys: Iterable[ObjectKey]) -> dict[str, Any]:
    out = dict(state)
    drop = {object_id(k) for k in keys}
    out["objects"] = {k: v for k, v in (state.get("objects") or {}).items() if k not in drop}
    return out


def cascade(
    keys: Iterable[ObjectKey],
    recorded: Iterable[ObjectKey],
    owners: Mapping[ObjectKey, Sequence[ObjectKey]] | None = None,
    *,
    orphan: bool = False,
) -> set[ObjectKey]:
    """``keys`` plus what Kubernetes' garbage collector would delete with them: everything in a
    deleted Namespace, and (unless ``orphan``, ``kubectl delete --cascade=orphan``) every object
    whose ownerReferences (``owners``: dependent → its owners) all name deleted or absent objects,
    transitively. (Pods of deleted workloads are removed as orphans by the planner.)"""
    out = set(keys)
    present = set(recorded)
    gone_ns = {k.name for k in out if k.kind == "Namespace"}
    out |= {k for k in present if k.namespace in gone_ns and k.kind != "Namespace"}
    if orphan or not owners:
        return out
    changed = True
    while changed:  # to a fixpoint: a dependent's dependents go too
        changed = False
        for dep, refs in owners.items():
            if dep in out or dep not in present or not refs:
                continue
            if any(o in out for o in refs) and all(o in out or o not in present for o in refs):
                out.add(dep)
                changed = True
    return out


def recorded_owners(state: Mapping[str, Any]) -> dict[ObjectKey, tuple[ObjectKey, ...]]:
    """dependent → owners, from the ownerReferences of every recorded manifest (Secrets included)."""
    out: dict[ObjectKey, tuple[ObjectKey, ...]] = {}
    for rec in (state.get("objects") or {}).values():
        m = rec.get("lastApplied") or {}
        meta = m.get("metadata") or {}
        refs = [r for r in (meta.get("ownerReferences") or []) if isinstance(r, dict)]
        if not refs or not m.get("kind"):
            continue
        ns = "" if m["kind"] == "Namespace" else (meta.get("namespace") or "default")
        out[ObjectKey(m["kind"], ns, meta.get("name", ""))] = tuple(
            ObjectKey(str(r.get("kind", "")), "" if r.get("kind") == "Namespace" else ns, str(r.get("name", "")))
            for r in refs
        )
    return out


def owner_keys(obj: AnyObject) -> tuple[ObjectKey, ...]:
    """The objects named by ``obj``'s ownerReferences: same namespace, or cluster-scoped Namespaces."""
    return tuple(
        ObjectKey(r.kind, "" if r.kind == "Namespace" else obj.key.namespace, r.name) for r in obj.meta.owner_references
    )


def created_at(state: Mapping[str, Any], key: ObjectKey) -> str:
    created: str = ((state.get("objects") or {}).get(object_id(key)) or {}).get("createdAt", "")
    return created


def state_objects(state: Mapping[str, Any]) -> tuple[list[AnyObject], dict[ObjectKey, str], dict[ObjectKey, str]]:
    """(objects rebuilt from last-applied manifests except Secrets, secret content hashes, applyset per key)."""
    objects: list[AnyObject] = []
    secret_hashes: dict[ObjectKey, str] = {}
    applysets: dict[ObjectKey, str] = {}
    for rec in (state.get("objects") or {}).values():
        m = rec.get("lastApplied") or {}
        if m.get("kind") == "Secret":
            meta = m.get("metadata") or {}
            key = ObjectKey("Secret", meta.get("namespace") or "default", meta.get("name", ""))
            secret_hashes[key] = rec.get("contentHash", "")
            applysets[key] = rec.get("applyset", "")
            continue
        try:
            o = build_object(m)
        except Exception:  # noqa: BLE001 - a record kcli cannot read back is skipped, not fatal
            continue
        objects.append(o)
        applysets[o.key] = rec.get("applyset", "")
    return objects, secret_hashes, applysets


def record_pods(
    state: Mapping[str, Any],
    pods: Iterable[Any],
    pending: Mapping[tuple[str, str], tuple[str, str]],
    failed: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Placements and pod IPs as observed after apply (PodViews), pending pods with their reason,
    and pods whose creation failed (kept visible, with their reason and back-off)."""
    out = dict(state)
    rec: dict[str, Any] = {}
    for p in pods:
        rec[f"{p.namespace}/{p.name}"] = {
            "node": p.node,
            "ip": p.ip,
            "applied": p.applied,
            "owner": p.owner,
            "specHash": p.spec_hash,
            "uid": p.uid,
            "labels": dict(p.labels),
        }
    for (ns, name), (applied, reason) in pending.items():
        rec[f"{ns}/{name}"] = {"node": "", "applied": applied, "phase": "Pending", "reason": reason}
    for (ns, name), f in (failed or {}).items():
        rec.setdefault(f"{ns}/{name}", dict(f))
    out["pods"] = dict(sorted(rec.items()))
    return out


# Creation failures, as kubelet reports them in a container's waiting reason.
FAILURE_REASONS = ("ErrImageNeverPull", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError")
BACKOFF_FIRST = 10  # seconds, doubled per failure up to BACKOFF_MAX (kubelet's image/crash back-off)
BACKOFF_MAX = 300


def failure_reason(error: str) -> str:
    for reason in FAILURE_REASONS:
        if reason in error:
            return reason
    if "init container" in error:
        return "Init:Error"
    return "CreateContainerError"


def failure_record(
    previous: Mapping[str, Any] | None, node: str, applied: str, spec_hash: str, error: str, now: float
) -> dict[str, Any]:
    """A failed pod as the state keeps it: reason, message, attempts and when to retry."""
    prev = previous if previous and previous.get("phase") == "Failed" and previous.get("specHash") == spec_hash else {}
    attempts = int(prev.get("attempts", 0)) + 1
    delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (attempts - 1))
    return {
        "node": node,
        "applied": applied,
        "specHash": spec_hash,
        "phase": "Failed",
        "reason": failure_reason(error),
        "message": error.strip()[-2000:],
        "attempts": attempts,
        "retryAfter": int(now) + delay,
    }


def in_backoff(record: Mapping[str, Any] | None, spec_hash: str, now: float) -> bool:
    """True while a failed pod of this spec waits for its next attempt."""
    if not record:
        return False
    return (
        record.get("phase") == "Failed"
        and record.get("specHash") == spec_hash
        and float(record.get("retryAfter", 0)) > now
    )


def add_events(state: Mapping[str, Any], events: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    out = dict(state)
    if events:
        out["events"] = [*(state.get("events") or []), *events][-EVENTS_KEPT:]
    return out


def allocate_pod_ips(
    wanted: Mapping[str, Sequence[tuple[str, str]]],
    used: Mapping[str, Iterable[str]],
    leases: Mapping[str, NodeLease],
) -> dict[tuple[str, str], str]:
    """Lowest free address per node for each new pod (node → [(ns, name)]); IPs in use are skipped."""
    out: dict[tuple[str, str], str] = {}
    for node, pods in wanted.items():
        first, last = (ipaddress.ip_address(a) for a in pod_ip_range(leases[node].subnet))
        taken = {ipaddress.ip_address(a) for a in used.get(node, ()) if a}
        cur = first
        for key in pods:
            while cur in taken:
                cur += 1
            if int(cur) > int(last):  # (one subnet: one address family)
                raise ValueError(f"node {node}: pod subnet {leases[node].subnet} is full")
            out[key] = str(cur)
            taken.add(cur)
    return out


def record_revisions(
    state: Mapping[str, Any], objects: Iterable[AnyObject], statuses: Mapping[ObjectKey, Any], now: str, by: str = ""
) -> dict[str, Any]:
    """Each Deployment's rollout history (``kubectl rollout history``): a revision per pod template
    that became current, numbered as upstream (a template that comes back, as with ``rollout
    undo``, moves to the next number), at most ``revisionHistoryLimit`` old ones kept."""
    out = dict(state)
    old = dict(state.get("revisions") or {})
    revs: dict[str, list[dict[str, Any]]] = {}
    for o in objects:
        st = statuses.get(o.key)
        rs = getattr(st, "new_replica_set", "")
        if o.kind != "Deployment" or not rs:
            continue
        oid = object_id(o.key)
        hist = [dict(h) for h in old.get(oid) or []]
        top = max((int(h.get("revision", 0)) for h in hist), default=0)
        cur = next((h for h in hist if h.get("replicaSet") == rs), None)
        if cur is None or int(cur.get("revision", 0)) != top:
            hist = [h for h in hist if h.get("replicaSet") != rs]
            hist.append(
                {
                    "revision": top + 1,
                    "replicaSet": rs,
                    "template": redacted_manifest(o)["spec"]["template"],
                    "changeCause": o.meta.annotations.get("kubernetes.io/change-cause", ""),
                    "at": now,
                    **({"by": by} if by else {}),
                }
            )
        hist.sort(key=lambda h: int(h.get("revision", 0)))
        revs[oid] = hist[-(max(0, int(getattr(o, "revision_history_limit", 10))) + 1) :]
    if revs:
        out["revisions"] = revs
    else:
        out.pop("revisions", None)
    return out
