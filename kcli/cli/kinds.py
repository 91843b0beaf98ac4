"""The one registry of resource kinds that get, describe and delete read.

Per kind: the names kubectl users type (plural, singular, short names; `deployments.apps` and
`Deployment` too), whether it is namespaced, and its handlers:

- ``rows(snap, kind, name, namespace, all_ns, selector)`` → table rows with every column, the
  ``wide`` ones included (`get` drops those unless ``-o wide``);
- ``objects(snap, kind, name, namespace, all_ns, selector)`` → API-shaped dicts (-o json|yaml|name);
- ``describe(cluster, kind, name, namespace)`` → prints `kcli describe`.

Handlers are named "module:function" and imported on first use: the registry costs nothing at
`kcli --help`, and it imports no command module (so none of them can form a cycle through it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from kcli.errors import KcliError

WORKLOADS = "kcli.cli.workload_get"
SERVICES = "kcli.cli.service_cmds"
NODES = "kcli.cli.node_cmds"
VOLUMES = "kcli.cli.volume_get"


class UnknownResourceType(KcliError):
    """kubectl's answer to a resource type it does not know (exit 1, printed without a class name)."""

    exit_code = 1
    bare = True

    def __init__(self, name: str) -> None:
        super().__init__(f'the server doesn\'t have a resource type "{name}"')


@dataclass(frozen=True)
class Kind:
    kind: str  # "Deployment"
    plural: str  # "deployments"
    short: tuple[str, ...] = ()  # kubectl's short names: "deploy"
    group: str = ""  # API group ("apps", "batch"); "" is the core group
    namespaced: bool = True
    rows: str = f"{WORKLOADS}:applied_rows"
    wide: tuple[str, ...] = ()  # columns only `-o wide` shows
    objects: str = f"{WORKLOADS}:applied_objects"
    describe: str = f"{WORKLOADS}:describe_workload"
    needs_pods: bool = False  # get reads the live pods, not only the state
    in_all: bool = False  # one of `kcli get all`

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def resource(self) -> str:
        """kubectl's resource name with its group: `-o name` prints resource/name (deployment.apps/web)."""
        return f"{self.singular}.{self.group}" if self.group else self.singular

    @property
    def names(self) -> tuple[str, ...]:
        """What users type for it: plural, singular, short names."""
        return tuple(dict.fromkeys((self.plural, self.singular, *self.short)))

    def visible(self, row: dict[str, str], wide: bool) -> dict[str, str]:
        """The row as `get` shows it: without the wide columns unless -o wide."""
        return row if wide else {c: v for c, v in row.items() if c not in self.wide}

    def handler(self, what: str) -> Callable:
        """The "rows", "objects" or "describe" function, imported now."""
        module, func = getattr(self, what).split(":")
        return getattr(importlib.import_module(module), func)


# In the order `kcli get all` prints them.
KINDS: tuple[Kind, ...] = (
    Kind(
        "Pod",
        "pods",
        ("po",),
        rows=f"{WORKLOADS}:pod_rows",
        objects=f"{WORKLOADS}:pod_objects",
        describe=f"{WORKLOADS}:describe_pod",
        wide=("IP", "NODE", "NOMINATED NODE", "READINESS GATES"),
        needs_pods=True,
        in_all=True,
    ),
    Kind(
        "Service",
        "services",
        ("svc",),
        rows=f"{SERVICES}:service_rows",
        describe=f"{SERVICES}:describe_service",
        wide=("SELECTOR",),
        in_all=True,
    ),
    Kind(
        "Deployment",
        "deployments",
        ("deploy",),
        "apps",
        rows=f"{WORKLOADS}:deployment_rows",
        wide=("CONTAINERS", "IMAGES", "SELECTOR"),
        needs_pods=True,
        in_all=True,
    ),
    Kind(
        "ReplicaSet",
        "replicasets",
        ("rs",),
        "apps",
        rows=f"{WORKLOADS}:replicaset_rows",
        objects=f"{WORKLOADS}:replicaset_objects",
        wide=("CONTAINERS", "IMAGES", "SELECTOR"),
        needs_pods=True,
        in_all=True,
    ),
    Kind("DaemonSet", "daemonsets", ("ds",), "apps", rows=f"{WORKLOADS}:daemonset_rows", needs_pods=True, in_all=True),
    Kind(
        "StatefulSet",
        "statefulsets",
        ("sts",),
        "apps",
        rows=f"{WORKLOADS}:statefulset_rows",
        wide=("CONTAINERS", "IMAGES"),
        needs_pods=True,
        in_all=True,
    ),
    Kind("Job", "jobs", (), "batch", rows=f"{WORKLOADS}:job_rows", needs_pods=True, in_all=True),
    Kind("ConfigMap", "configmaps", ("cm",)),
    Kind("Secret", "secrets"),
    Kind("ServiceAccount", "serviceaccounts", ("sa",)),
    Kind("Namespace", "namespaces", ("ns",), namespaced=False),
    Kind(
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        ("pvc",),
        rows=f"{VOLUMES}:claim_rows",
        objects=f"{VOLUMES}:claim_objects",
        describe=f"{VOLUMES}:describe_claim",
        wide=("VOLUMEMODE",),
    ),
    Kind(
        "PersistentVolume",
        "persistentvolumes",
        ("pv",),
        namespaced=False,
        rows=f"{VOLUMES}:volume_rows",
        objects=f"{VOLUMES}:volume_objects",
        describe=f"{VOLUMES}:describe_volume",
        wide=("VOLUMEMODE",),
    ),
    Kind("Endpoints", "endpoints", ("ep",), rows=f"{SERVICES}:endpoint_rows", needs_pods=True),
    Kind("Event", "events", ("ev",), rows="kcli.cli.event_get:event_rows", objects="kcli.cli.event_get:event_objects"),
    Kind(
        "Node",
        "nodes",
        ("no",),
        namespaced=False,
        rows=f"{NODES}:node_rows",
        objects=f"{NODES}:node_objects",
        describe=f"{NODES}:describe_node",
        wide=("INTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME", "CPU", "MEMORY"),
    ),
)
BY_KIND = {k.kind: k for k in KINDS}
LOOKUP = {name: k for k in KINDS for name in k.names}


def resolve(name: str) -> Kind:
    """A resource type as typed (pods, pod, po, Pod, deployments.apps, deploy.v1.apps) → its Kind."""
    k = LOOKUP.get(name.lower().split(".")[0])
    if k is None:
        raise UnknownResourceType(name)
    return k


def resolve_list(arg: str) -> list[Kind]:
    """`pods,svc` (each once, in the order given), `all` standing for kubectl's workloads and services."""
    out: list[Kind] = []
    for part in arg.split(","):
        for k in [k for k in KINDS if k.in_all] if part == "all" else [resolve(part)]:
            if k not in out:
                out.append(k)
    return out


def canonical_kind(name: str) -> str:
    """The kind a resource type names: `deploy` → "Deployment"."""
    return resolve(name).kind
