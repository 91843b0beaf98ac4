"""Applied objects in the state file, pod IP allocation and the per-node pod script (pure)."""

from __future__ import annotations

import ipaddress
import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kcli.core.commands.shell import sh
from kcli.core.network import NodeLease, pod_ip_range
from kcli.core.objects import AnyObject, ObjectKey, Secret, build_object, canonical_json

POD_MARK = "==kcli-pod:"
EVENTS_KEPT = 100


def object_id(key: ObjectKey) -> str:
    return f"{key.kind}/{key.namespace}/{key.name}" if key.namespace else f"{key.kind}/{key.name}"


REDACTED = "<redacted>"


def redacted_manifest(obj: AnyObject) -> dict:
    """The last-applied manifest; a Secret's values replaced by a placeholder (changes are seen
    through the Secret's slow, salted ``contentHash``, recorded beside it)."""
    m = json.loads(canonical_json(obj.manifest))
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
        out.add(ObjectKey(kind, "" if kind == "Namespace" else meta.get("namespace") or "default", meta.get("name", "")))
    return out


def record_objects(state: Mapping[str, Any], objects: Iterable[AnyObject], applyset: str, now: str) -> dict[str, Any]:
    out = dict(state)
    objs = dict(out.get("objects") or {})
    for o in objects:
        old = objs.get(object_id(o.key)) or {}
        rec = {"applyset": applyset, "lastApplied": redacted_manifest(o), "createdAt": old.get("createdAt") or now}
        if isinstance(o, Secret):
            rec["contentHash"] = o.content_hash()
        objs[object_id(o.key)] = rec
    out["objects"] = objs
    return out


def forget_objects(state: Mapping[str, Any], keys: Iterable[ObjectKey]) -> dict[str, Any]:
    out = dict(state)
    drop = {object_id(k) for k in keys}
    out["objects"] = {k: v for k, v in (state.get("objects") or {}).items() if k not in drop}
    return out


def created_at(state: Mapping[str, Any], key: ObjectKey) -> str:
    return ((state.get("objects") or {}).get(object_id(key)) or {}).get("createdAt", "")


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


def record_pods(state: Mapping[str, Any], pods: Iterable[Any], pending: Mapping[tuple[str, str], tuple[str, str]]) -> dict[str, Any]:
    """Placements and pod IPs as observed after apply (PodViews), plus pending pods with their reason."""
    out = dict(state)
    rec: dict[str, Any] = {}
    for p in pods:
        rec[f"{p.namespace}/{p.name}"] = {"node": p.node, "ip": p.ip, "applied": p.applied, "specHash": p.spec_hash}
    for (ns, name), (applied, reason) in pending.items():
        rec[f"{ns}/{name}"] = {"node": "", "applied": applied, "phase": "Pending", "reason": reason}
    out["pods"] = dict(sorted(rec.items()))
    return out


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
            if cur > last:
                raise ValueError(f"node {node}: pod subnet {leases[node].subnet} is full")
            out[key] = str(cur)
            taken.add(cur)
    return out


def render_pod_script(units: Sequence[tuple[str, Sequence[str], Sequence[str]]]) -> str:
    """One script per node: each unit (a pod delete or create) runs on its own, so one failing pod
    never stops the others; its last error lines are printed after its marker, then its cleanup
    lines run (a half-created pod is removed again). The subshell status is read on its own line
    (``set -e`` is ignored inside AND-OR lists)."""
    out = ["set -u", "mkdir -p /run/kcli"]
    mark = shlex.quote(POD_MARK)
    for label, lines, cleanup in units:
        body = "\n".join(lines)
        undo = "\n".join(cleanup) or "true"
        q = shlex.quote(label)
        out.append(
            f"( set -e\n{body}\n) >/run/kcli/unit.log 2>&1\n"
            f"if [ $? -eq 0 ]; then echo {mark}{q}:ok; else echo {mark}{q}:failed; "
            f"tail -n 5 /run/kcli/unit.log | sed 's/^/    /'; ( {undo}\n) >/dev/null 2>&1; fi"
        )
    out.append(sh(("rm", "-f", "/run/kcli/unit.log")))
    return "\n".join(out) + "\n"


def parse_pod_results(stdout: str) -> dict[str, tuple[str, str]]:
    """label → (ok|failed, error text)."""
    out: dict[str, tuple[str, str]] = {}
    cur = None
    for line in stdout.splitlines():
        if line.startswith(POD_MARK):
            label, _, status = line[len(POD_MARK):].rpartition(":")
            out[label] = (status, "")
            cur = label
        elif cur is not None and line.startswith("    "):
            status, err = out[cur]
            out[cur] = (status, (err + "\n" + line.strip()).strip())
    return out
