"""`get pvc` / `get pv` (and -o json|yaml) with kubectl's columns, from the applied claims and
volumes and the bindings recorded in the state (kcli.core.volumes)."""

from __future__ import annotations

from typing import Any

from kcli.cli.workload_get import _age, _applied, _ns_ok
from kcli.core.objects import ObjectKey
from kcli.core.quantity import format_bytes, resource_value
from kcli.core.volumes import DEFAULT_CLASS, Binding, bindings_of

MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}


def _modes(modes) -> str:
    return ",".join(MODES.get(m, m) for m in modes or ())


def _capacity(n: int) -> str:
    return format_bytes(n) if n else ""


def _claims(snap, name, namespace, all_ns, selector) -> list[tuple[str, str, dict, Binding | None]]:
    """(namespace, name, spec, binding) of every claim: applied ones and a StatefulSet's."""
    from kcli.cli.kinds import BY_KIND

    bindings = bindings_of(snap.state)
    out = []
    for ns, m in _applied(snap, BY_KIND["PersistentVolumeClaim"], name, namespace, all_ns, selector):
        n = (m.get("metadata") or {}).get("name", "")
        out.append((ns, n, dict(m.get("spec") or {}), bindings.get(f"{ns}/{n}")))
    for b in bindings.values():
        if (
            b.template
            and not b.released
            and (not name or b.name == name)
            and _ns_ok(b.namespace, namespace, all_ns)
            and selector is None
        ):
            out.append(
                (
                    b.namespace,
                    b.name,
                    {
                        "accessModes": list(b.access_modes),
                        "storageClassName": b.storage_class,
                        "resources": {"requests": {"storage": _capacity(b.capacity) or "0"}},
                    },
                    b,
                )
            )
    return sorted(out, key=lambda c: (c[0], c[1]))


def _requested(spec: dict) -> int:
    try:
        return resource_value("storage", ((spec.get("resources") or {}).get("requests") or {}).get("storage") or 0)
    except (TypeError, ValueError):
        return 0


def claim_rows(snap, kind, name, namespace, all_ns, selector) -> list[dict]:
    rows = []
    for ns, n, spec, b in _claims(snap, name, namespace, all_ns, selector):
        bound = b if b is not None and not b.released else None  # the binding, while the claim is bound
        storage_class = spec.get("storageClassName")
        r = {"NAMESPACE": ns} if all_ns else {}
        r.update(
            {
                "NAME": n,
                "STATUS": "Bound" if bound else "Pending",
                "VOLUME": bound.volume if bound else "",
                "CAPACITY": _capacity(bound.capacity or _requested(spec)) if bound else "",
                "ACCESS MODES": _modes(spec.get("accessModes") or ["ReadWriteOnce"]) if bound else "",
                "STORAGECLASS": storage_class if storage_class is not None else DEFAULT_CLASS,
                "VOLUMEATTRIBUTESCLASS": "<unset>",
                "VOLUMEMODE": spec.get("volumeMode") or "Filesystem",
                "AGE": _age(snap, ObjectKey("PersistentVolumeClaim", ns, n)),
            }
        )
        rows.append(r)
    return rows


def claim_objects(snap, kind, name, namespace, all_ns, selector) -> list[dict]:
    """Claims as the API server returns them: spec with its defaults (kcli.core.defaults.claim_spec)
    and the default storage class, the bound volume, status."""
    from kcli.core.defaults import claim_spec

    out = []
    for ns, n, spec, b in _claims(snap, name, namespace, all_ns, selector):
        bound = b if b is not None and not b.released else None  # the binding, while the claim is bound
        obj: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": n, "namespace": ns},
            "spec": {
                **claim_spec(spec),
                "storageClassName": spec.get("storageClassName", DEFAULT_CLASS),
                **({"volumeName": bound.volume} if bound else {}),
            },
            "status": {"phase": "Bound" if bound else "Pending"},
        }
        if bound:
            obj["status"].update(
                {
                    "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                    "capacity": {"storage": _capacity(bound.capacity or _requested(spec)) or "0"},
                }
            )
        out.append(obj)
    return out


def _volumes(snap, name) -> list[dict[str, Any]]:
    """Every volume: applied PersistentVolumes and provisioned ones, with their claim."""
    from kcli.cli.kinds import BY_KIND

    by_volume = {b.volume: b for b in bindings_of(snap.state).values()}
    out = []
    for _, m in _applied(snap, BY_KIND["PersistentVolume"], name, "", True, None):
        spec = dict(m.get("spec") or {})
        n = (m.get("metadata") or {}).get("name", "")
        b = by_volume.pop(n, None)
        try:
            cap = resource_value("storage", (spec.get("capacity") or {}).get("storage") or 0)
        except (TypeError, ValueError):
            cap = 0
        out.append(
            {
                "name": n,
                "capacity": cap,
                "modes": spec.get("accessModes") or ["ReadWriteOnce"],
                "policy": spec.get("persistentVolumeReclaimPolicy") or "Retain",
                "binding": b,
                "class": spec.get("storageClassName", ""),
                "spec": spec,
                "key": ObjectKey("PersistentVolume", "", n),
            }
        )
    for v, b in by_volume.items():
        if name and v != name:
            continue
        out.append(
            {
                "name": v,
                "capacity": b.capacity,
                "modes": list(b.access_modes),
                "policy": b.reclaim_policy,
                "binding": b,
                "class": b.storage_class,
                "spec": {
                    "hostPath": {"path": b.path, "type": "DirectoryOrCreate"},
                    "nodeAffinity": {
                        "required": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": "kubernetes.io/hostname", "operator": "In", "values": [b.node]}
                                    ]
                                }
                            ]
                        }
                    },
                },
                "key": ObjectKey("PersistentVolumeClaim", b.namespace, b.name),
            }
        )
    return sorted(out, key=lambda v: v["name"])


def _phase(v: dict) -> str:
    b = v["binding"]
    return "Available" if b is None else "Released" if b.released else "Bound"


def volume_rows(snap, kind, name, namespace, all_ns, selector) -> list[dict]:
    rows = []
    for v in _volumes(snap, name):
        b = v["binding"]
        rows.append(
            {
                "NAME": v["name"],
                "CAPACITY": _capacity(v["capacity"]),
                "ACCESS MODES": _modes(v["modes"]),
                "RECLAIM POLICY": v["policy"],
                "STATUS": _phase(v),
                "CLAIM": b.key if b else "",
                "STORAGECLASS": v["class"],
                "VOLUMEATTRIBUTESCLASS": "<unset>",
                "REASON": "",
                "AGE": _age(snap, v["key"]),
                "VOLUMEMODE": "Filesystem",
            }
        )
    return rows


def volume_objects(snap, kind, name, namespace, all_ns, selector) -> list[dict]:
    """Volumes as the API server returns them: spec with its defaults (kcli.core.defaults.volume_spec),
    the claim it is bound to, status."""
    from kcli.core.defaults import volume_spec

    out = []
    for v in _volumes(snap, name):
        b = v["binding"]
        spec = volume_spec(
            {
                **v["spec"],
                "capacity": {"storage": _capacity(v["capacity"]) or "0"},
                "accessModes": list(v["modes"]),
                "persistentVolumeReclaimPolicy": v["policy"],
                "storageClassName": v["class"],
            }
        )
        if b is not None:
            spec["claimRef"] = {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": b.namespace,
                "name": b.name,
            }
        out.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": v["name"]},
                "spec": spec,
                "status": {"phase": _phase(v)},
            }
        )
    return out


def describe_claim(cluster, kind, name: str, namespace: str) -> None:
    """kubectl describe pvc: class, status, volume, capacity, access modes and the pods using it."""
    from kcli.cli import console
    from kcli.cli.workload_get import _not_found, snapshot
    from kcli.core.volumes import pod_claims

    snap = snapshot(cluster, need_pods=False)
    rows = claim_rows(snap, kind, name, namespace, False, None)
    if not rows:
        raise _not_found(kind, name)
    r = rows[0]
    used = sorted(
        f"{o.kind}/{o.name}"
        for o in snap.objects
        if o.namespace == namespace and getattr(o, "template", None) is not None and name in pod_claims(o.template.spec)
    )
    lines = [
        f"Name:          {name}",
        f"Namespace:     {namespace}",
        f"StorageClass:  {r['STORAGECLASS']}",
        f"Status:        {r['STATUS']}",
        f"Volume:        {r['VOLUME']}",
        f"Capacity:      {r['CAPACITY']}",
        f"Access Modes:  {r['ACCESS MODES']}",
        f"VolumeMode:    {r['VOLUMEMODE']}",
        f"Used By:       {', '.join(used) or '<none>'}",
    ]
    b = bindings_of(snap.state).get(f"{namespace}/{name}")
    if b is not None:
        lines.append(f"Node:          {b.node} ({b.path})")
    console.out.print("\n".join(lines), markup=False, highlight=False)


def describe_volume(cluster, kind, name: str, namespace: str) -> None:
    """kubectl describe pv: claim, reclaim policy, status, capacity, node affinity and source."""
    from kcli.cli import console
    from kcli.cli.workload_get import _not_found, snapshot

    snap = snapshot(cluster, need_pods=False)
    vols = [v for v in _volumes(snap, name) if v["name"] == name]
    if not vols:
        raise _not_found(kind, name)
    v = vols[0]
    b = v["binding"]
    source = v["spec"].get("hostPath") or v["spec"].get("local") or {}
    node = b.node if b is not None else ""
    lines = [
        f"Name:            {name}",
        f"StorageClass:    {v['class']}",
        f"Status:          {_phase(v)}",
        f"Claim:           {b.key if b else ''}",
        f"Reclaim Policy:  {v['policy']}",
        f"Access Modes:    {_modes(v['modes'])}",
        f"Capacity:        {_capacity(v['capacity'])}",
        f"Node Affinity:   {'kubernetes.io/hostname in [' + node + ']' if node else '<none>'}",
        "Source:",
        f"    Path:        {source.get('path', '')}",
    ]
    console.out.print("\n".join(lines), markup=False, highlight=False)
