"""PersistentVolumeClaims without a provisioner daemon: kcli's one storage class, ``local-path``.

As local-path provisioners do, a claim is a directory on one node: it is bound when its first
pod is scheduled, to that pod's node (``/opt/local-path-provisioner/pvc-<uid>_<ns>_<claim>``,
created by the pod's create script), and from then on every pod using it is scheduled only to
that node, as Kubernetes does for local volumes through their node affinity. A claim that names
a pre-created PersistentVolume (``spec.volumeName``: a ``hostPath`` or ``local`` directory) uses
that directory, on the node of the volume's nodeAffinity when it has one, else on its first
pod's. The binding is recorded in the state (``claims``) and, for a provisioned volume, can be
read back from the nodes: the directory name carries the claim.

Capacity is recorded and shown, not enforced (a directory has no quota). Deleting a claim whose
reclaim policy is Delete (provisioned volumes) removes its directory once no pod uses it;
Retain keeps it (the volume shows Released).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kcli.core.objects import PersistentVolume, PersistentVolumeClaim, PodSpec, StatefulSet

DEFAULT_CLASS = "local-path"
PROVISION_DIR = "/opt/local-path-provisioner"


def volume_name(namespace: str, claim: str) -> str:
    """The provisioned volume's name: ``pvc-`` and a UUID-shaped hash of the claim."""
    h = hashlib.sha256(f"{namespace}/{claim}".encode()).hexdigest()
    return f"pvc-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def provisioned_path(namespace: str, claim: str) -> str:
    return f"{PROVISION_DIR}/{volume_name(namespace, claim)}_{namespace}_{claim}"


def claim_name(template: str, sts: str, ordinal: int) -> str:
    """A StatefulSet ordinal's claim from its volumeClaimTemplate: ``TEMPLATE-STS-i``."""
    return f"{template}-{sts}-{ordinal}"


def template_claims(sts: StatefulSet) -> dict[tuple[str, str], PersistentVolumeClaim]:
    """The claims a StatefulSet's ordinals use (``0 … replicas-1``), as claim objects."""
    out = {}
    for i in range(sts.replicas):
        for c in sts.claim_templates:
            name = claim_name(c.name, sts.name, i)
            out[(sts.namespace, name)] = dataclasses.replace(
                c, meta=dataclasses.replace(c.meta, name=name, namespace=sts.namespace)
            )
    return out


def pod_claims(spec: PodSpec) -> tuple[str, ...]:
    """The claims a pod spec mounts, in volume order."""
    return tuple(v.ref_name for v in spec.volumes if v.source == "persistentVolumeClaim")


@dataclass(frozen=True)
class Binding:
    """A bound claim as the state records it (``claims["ns/name"]``)."""

    namespace: str
    name: str
    node: str
    volume: str  # the PersistentVolume's name
    path: str
    capacity: int = 0
    access_modes: tuple[str, ...] = ("ReadWriteOnce",)
    storage_class: str = DEFAULT_CLASS
    reclaim_policy: str = "Delete"
    released: bool = False  # the claim was deleted, its volume kept (Retain)
    template: str = ""  # "StatefulSet/NAME" for a claim from its volumeClaimTemplates (no object of its own)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def record(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "volume": self.volume,
            "path": self.path,
            "capacity": self.capacity,
            "accessModes": list(self.access_modes),
            "storageClassName": self.storage_class,
            "reclaimPolicy": self.reclaim_policy,
            **({"released": True} if self.released else {}),
            **({"template": self.template} if self.template else {}),
        }


def bindings_of(state: Mapping[str, Any]) -> dict[str, Binding]:
    """The recorded bindings, by ``ns/name``."""
    out = {}
    for key, rec in (state.get("claims") or {}).items():
        if not isinstance(rec, Mapping) or "/" not in key:
            continue
        ns, name = key.split("/", 1)
        out[key] = Binding(
            ns,
            name,
            str(rec.get("node", "")),
            str(rec.get("volume", "")),
            str(rec.get("path", "")),
            int(rec.get("capacity") or 0),
            tuple(rec.get("accessModes") or ("ReadWriteOnce",)),
            str(rec.get("storageClassName", DEFAULT_CLASS)),
            str(rec.get("reclaimPolicy", "Delete")),
            bool(rec.get("released")),
            str(rec.get("template", "")),
        )
    return out


@dataclass(frozen=True)
class ClaimVolume:
    """Where a claim's data lives: its directory, the node it is pinned to ("" until its first pod
    is placed), and what the state records."""

    path: str
    node: str
    volume: str
    capacity: int
    reclaim_policy: str
    storage_class: str


def resolve(
    namespace: str,
    name: str,
    claims: Mapping[tuple[str, str], PersistentVolumeClaim],
    volumes: Mapping[str, PersistentVolume],
    bindings: Mapping[str, Binding],
) -> ClaimVolume:
    """A claim's volume: its recorded binding, else the PersistentVolume it names, else a
    provisioned directory. A claim not in ``claims`` (a StatefulSet's, from its template) is
    provisioned."""
    b = bindings.get(f"{namespace}/{name}")
    if b is not None and not b.released:
        return ClaimVolume(b.path, b.node, b.volume, b.capacity, b.reclaim_policy, b.storage_class)
    claim = claims.get((namespace, name))
    pv = volumes.get(claim.volume_name) if claim is not None and claim.volume_name else None
    if pv is not None:
        return ClaimVolume(pv.path, pv.node, pv.name, pv.capacity, pv.reclaim_policy, pv.storage_class)
    return ClaimVolume(
        provisioned_path(namespace, name),
        "",
        volume_name(namespace, name),
        claim.storage if claim is not None else 0,
        "Delete",
        DEFAULT_CLASS,
    )


def new_bindings(
    placed: Iterable[tuple[str, PodSpec, str]],
    resolved: Mapping[tuple[str, str], ClaimVolume],
    claims: Mapping[tuple[str, str], PersistentVolumeClaim],
    templates: Mapping[tuple[str, str], str] | None = None,
) -> dict[str, Binding]:
    """Bind every claim not bound yet to the node of its first placed pod (``(namespace, spec,
    node)`` in placement order); ``templates``: claims of a StatefulSet's templates → its name."""
    out: dict[str, Binding] = {}
    for namespace, spec, node in placed:
        for c in pod_claims(spec):
            v = resolved.get((namespace, c))
            key = f"{namespace}/{c}"
            if v is None or key in out:
                continue
            claim = claims.get((namespace, c))
            modes = claim.access_modes if claim is not None else ("ReadWriteOnce",)
            out[key] = Binding(
                namespace,
                c,
                v.node or node,
                v.volume,
                v.path,
                v.capacity,
                tuple(modes),
                v.storage_class,
                v.reclaim_policy,
                template=(templates or {}).get((namespace, c), ""),
            )
    return out


def removal_lines(binding: Binding) -> list[str]:
    """Remove a Delete volume's directory (only below the provisioner's directory: a pre-created
    volume's data is never removed by kcli)."""
    import shlex

    if not binding.path.startswith(PROVISION_DIR + "/") or ".." in binding.path.split("/"):
        return []
    return [f"rm -rf {shlex.quote(binding.path)}"]
