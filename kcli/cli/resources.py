"""Resource type names as kubectl accepts them (plural, singular, short) → kind."""

from __future__ import annotations

from kcli.errors import UsageError

KINDS = {
    "Pod": ("pods", "pod", "po"),
    "Deployment": ("deployments", "deployment", "deploy"),
    "ReplicaSet": ("replicasets", "replicaset", "rs"),
    "DaemonSet": ("daemonsets", "daemonset", "ds"),
    "Job": ("jobs", "job"),
    "ConfigMap": ("configmaps", "configmap", "cm"),
    "Secret": ("secrets", "secret"),
    "Namespace": ("namespaces", "namespace", "ns"),
    "Service": ("services", "service", "svc"),
    "Node": ("nodes", "node", "no"),
}
LOOKUP = {alias: kind for kind, aliases in KINDS.items() for alias in aliases}


def canonical_kind(name: str) -> str:
    base = name.lower().split(".")[0]
    if base not in LOOKUP:
        raise UsageError(f'the server doesn\'t have a resource type "{name}"')
    return LOOKUP[base]
