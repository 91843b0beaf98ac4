"""Node status like `kubectl get nodes`: (inventory host, observed facts or error) → NodeStatus."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kcli import __version__
from kcli.core.facts.node import NodeFacts
from kcli.core.humanize import human_duration
from kcli.core.inventory import Host, node_roles


@dataclass(frozen=True)
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str


@dataclass(frozen=True)
class NodeStatus:
    host: Host
    facts: NodeFacts | None
    conditions: tuple[Condition, ...]
    age_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # merged into the Node object's status
    cordoned: bool = False  # `kcli cordon` (recorded in the state)

    @property
    def ready(self) -> bool:
        return any(c.type == "Ready" and c.status == "True" for c in self.conditions)

    @property
    def unschedulable(self) -> bool:
        return self.cordoned or self.host.labels.get("kcli.io/cordoned") == "true"

    @property
    def condition_taints(self) -> list[str]:
        """The node lifecycle taints Kubernetes' node controller would set: unreachable (Ready
        Unknown) or not-ready (Ready False)."""
        ready = next((c.status for c in self.conditions if c.type == "Ready"), "Unknown")
        return {"Unknown": ["unreachable"], "False": ["not-ready"]}.get(ready, [])

    @property
    def status(self) -> str:
        s = "Ready" if self.ready else "NotReady"
        if self.unschedulable:
            s += ",SchedulingDisabled"
        return s

    def row(self, wide: bool = False) -> dict[str, str]:
        f = self.facts
        r = {
            "NAME": self.host.name,
            "STATUS": self.status,
            "ROLES": node_roles(self.host),
            "AGE": human_duration(self.age_seconds) if self.age_seconds is not None else "<unknown>",
            "VERSION": f"v{__version__}",
        }
        if wide:
            r.update(
                {
                    "INTERNAL-IP": self.host.address,
                    "OS-IMAGE": f.os_image if f and f.os_image else "<unknown>",
                    "KERNEL-VERSION": f.kernel if f and f.kernel else "<unknown>",
                    "CONTAINER-RUNTIME": f.container_runtime if f else "<unknown>",
                    "CPU": str(f.cpus) if f and f.cpus else "<unknown>",
                    "MEMORY": f"{f.memory_kib // 1024}Mi" if f and f.memory_kib else "<unknown>",
                }
            )
        return r

    def to_dict(self) -> dict[str, Any]:
        """A v1 Node-shaped object for -o json|yaml."""
        f = self.facts
        d: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.host.name,
                "labels": {
                    **dict(self.host.labels),
                    "kubernetes.io/hostname": self.host.name,
                    **{f"node-role.kubernetes.io/{r}": "" for r in self.host.roles},
                },
            },
            "spec": {
                "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in self.host.taints]
                + ([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}] if self.unschedulable else [])
                + [{"key": f"node.kubernetes.io/{t}", "effect": "NoExecute"} for t in self.condition_taints],
                **({"unschedulable": True} if self.unschedulable else {}),
            },
            "status": {
                "addresses": [{"type": "InternalIP", "address": self.host.address}],
                "conditions": [c.__dict__ for c in self.conditions],
            },
        }
        if f is not None:
            d["metadata"]["labels"]["kubernetes.io/arch"] = {"x86_64": "amd64", "aarch64": "arm64"}.get(f.arch, f.arch)
            d["metadata"]["labels"]["kubernetes.io/os"] = "linux"
            d["status"]["capacity"] = {"cpu": str(f.cpus), "memory": f"{f.memory_kib}Ki", "pods": "110"}
            d["status"]["nodeInfo"] = {
                "osImage": f.os_image,
                "kernelVersion": f.kernel,
                "architecture": f.arch,
                "containerRuntimeVersion": f.container_runtime,
                "kubeletVersion": f"kcli-v{__version__}",
            }
        d["status"].update(self.extra)
        return d


def node_status(
    host: Host,
    facts: NodeFacts | None,
    error: BaseException | None,
    *,
    joined_at: float | None = None,
    extra_conditions: tuple[Condition, ...] = (),
    cordoned: bool = False,
) -> NodeStatus:
    """Ready when SSH answered and docker answered; otherwise NotReady with the reason."""
    if error is not None or facts is None:
        cond = Condition("Ready", "Unknown", "NodeUnreachable", f"SSH: {error}")
        return NodeStatus(host, None, (cond,), cordoned=cordoned)
    net_down = next((c for c in extra_conditions if c.type == "NetworkUnavailable" and c.status == "True"), None)
    if facts.docker_error:
        cond = Condition("Ready", "False", "ContainerRuntimeNotReady", f"docker: {facts.docker_error}")
    elif net_down is not None:
        # As kubelet: a node whose pod network is not ready is NotReady (NetworkPluginNotReady).
        cond = Condition("Ready", "False", "NetworkPluginNotReady", f"pod network not ready: {net_down.reason}")
    else:
        cond = Condition("Ready", "True", "NodeReady", f"ssh and docker {facts.docker_version} answer")
    age = (facts.now - joined_at) if joined_at else facts.uptime_seconds
    return NodeStatus(host, facts, (cond, *extra_conditions), age_seconds=age, cordoned=cordoned)
