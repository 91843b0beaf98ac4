"""kcli's pods on a node, re-read from docker labels (one `docker inspect` of every managed container)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kcli.core.controllers.pod import ObservedPod, OwnerRef
from kcli.core.facts.sections import Section
from kcli.core.facts.view_script import DNS_CONTAINER, PODS_SNIPPET, SECRET_VOLUMES  # noqa: F401 - PODS_SNIPPET re-exported
from kcli.core.network import POD_NETWORK
from kcli.core.podrun import (
    DNS_HOST_LABEL,
    GRACE_LABEL,
    LAYOUT_LABEL,
    PRE_STOP_LABEL,
    PROBES_LABEL,
    SECRET_VOLUMES_LABEL,
    secret_volume_mark,
)
from kcli.core.scheduler import HostPort


def parse_time(value: str) -> float:
    """Docker's RFC 3339 timestamps (nanoseconds) → unix seconds; 0 for the zero time."""
    if not value or value.startswith("0001-"):
        return 0.0
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", value)
    if not m:
        return 0.0
    frac = (m.group(2) or ".0")[:7]
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(m.group(1) + frac + tz).timestamp()


@dataclass(frozen=True)
class ContainerView:
    name: str
    kind: str  # sandbox | init | container
    image: str
    status: str  # running | exited | restarting | created | paused | dead
    exit_code: int
    restart_count: int
    started_at: float
    finished_at: float
    id: str
    error: str = ""
    pre_stop: dict[str, Any] | None = None  # the preStop hook kcli runs before stopping it


@dataclass(frozen=True)
class PodView:
    """Everything `get pods` / `describe pod` show, and what controllers need (``observed``)."""

    namespace: str
    name: str
    node: str
    uid: str
    ip: str
    status: str  # kubectl STATUS column
    ready: int
    total: int
    restarts: int
    created_at: float
    labels: dict[str, str]
    applied: str
    owner: str
    spec_hash: str
    restart_policy: str
    containers: tuple[ContainerView, ...]
    observed: ObservedPod
    requests: dict[str, Any] = field(default_factory=dict)  # {"cpu": millicores, "memory": bytes}
    ports: tuple[dict[str, Any], ...] = ()  # {"containerPort": N, "name": ..., "protocol": ...}
    grace: int | None = None  # terminationGracePeriodSeconds, as labelled at creation
    probe_events: tuple[tuple[str, str, str], ...] = ()  # (time, reason, message) from the last probe runs
    dns_host: str = ""  # HOSTNAME.SUBDOMAIN: its record through the headless Service SUBDOMAIN


def _owner(value: str) -> OwnerRef | None:
    if not value or "/" not in value:
        return None
    kind, name = value.split("/", 1)
    return OwnerRef(kind, name)


def _container(d: dict[str, Any]) -> ContainerView:
    st = d.get("State") or {}
    labels = (d.get("Config") or {}).get("Labels") or {}
    status = "restarting" if st.get("Restarting") else st.get("Status", "unknown")
    return ContainerView(
        name=labels.get("io.kcli.container", ""),
        kind=labels.get("io.kcli.type", "container"),
        image=(d.get("Config") or {}).get("Image", ""),
        status=status,
        exit_code=int(st.get("ExitCode") or 0),
        restart_count=int(d.get("RestartCount") or 0),
        started_at=parse_time(st.get("StartedAt", "")),
        finished_at=parse_time(st.get("FinishedAt", "")),
        id=(d.get("Id") or "")[:12],
        error=st.get("Error") or "",
        pre_stop=_json_label(labels.get(PRE_STOP_LABEL)),
    )


def _json_label(value: str | None) -> dict[str, Any] | None:
    try:
        v = json.loads(value) if value else None
    except ValueError:
        return None
    return v if isinstance(v, dict) else None


def _pod_state(
    sandbox: ContainerView | None,
    apps: list[ContainerView],
    inits: list[ContainerView],
    expected: list[str],
    expected_inits: list[str],
    policy: str,
    single: bool = False,
) -> tuple[str, int | None, str, str]:
    """(controller state, exit code, detail, kubectl STATUS). ``single``: the pod is its one
    container (no pause container to check)."""
    if sandbox is None and not single:
        return "broken", None, "sandbox container is gone", "Unknown"
    failed_init = next((c for c in inits if c.status == "exited" and c.exit_code != 0), None)
    if failed_init is not None and not apps:
        return (
            "exited",
            failed_init.exit_code,
            f"init container {failed_init.name} exited {failed_init.exit_code}",
            "Init:Error",
        )
    if sandbox is not None and sandbox.status != "running":
        return "broken", None, f"sandbox is {sandbox.status}", "Unknown"
    if not apps and (len(inits) < len(expected_inits) or any(c.status != "exited" for c in inits)):
        return (
            "created",
            None,
            "init containers running",
            f"Init:{len([c for c in inits if c.status == 'exited'])}/{len(expected_inits)}",
        )
    names = {c.name for c in apps}
    missing = [n for n in expected if n not in names]
    if missing:
        return "broken", None, f"container {', '.join(missing)} is gone", "Unknown"
    for c in apps:
        if (
            sandbox is not None
            and c.status == "running"
            and c.started_at
            and sandbox.started_at
            and c.started_at < sandbox.started_at - 1
        ):
            return (
                "broken",
                None,
                f"container {c.name} is attached to a network namespace that no longer exists",
                "Unknown",
            )
    if any(c.status == "restarting" for c in apps):
        return "restarting", None, "docker is restarting a container", "CrashLoopBackOff"
    if all(c.status == "running" for c in apps):
        return "running", None, "", "Running"
    if any(c.status == "created" for c in apps):
        return "created", None, "", "ContainerCreating"
    if all(c.status in ("exited", "dead") for c in apps):
        code = next((c.exit_code for c in apps if c.exit_code != 0), 0)
        if policy == "Always" or (policy == "OnFailure" and code != 0):
            return "broken", code, "containers were stopped", "Error" if code else "Completed"
        return "exited", code, "", "Completed" if code == 0 else "Error"
    running_or_done = [c for c in apps if c.status == "running"]
    return ("running" if running_or_done else "broken"), None, "some containers exited", "NotReady"


def inspected(section: Section | None) -> list[dict[str, Any]]:
    """The objects of PODS_SNIPPET's ``docker inspect`` ([] when docker did not answer)."""
    if section is None or section.rc != 0:
        return []
    try:
        items = json.loads(section.text.strip() or "[]")
    except ValueError:
        return []
    return [d for d in items if isinstance(d, dict)] if isinstance(items, list) else []


def pod_network_ips(items: list[dict[str, Any]]) -> set[str]:
    """Every address taken on the pod network, kcli's or not (pod IPs are allocated around them)."""
    for d in items:
        if d.get("Name") == POD_NETWORK and "IPAM" in d:
            return {str(c.get("IPv4Address") or "").split("/")[0] for c in (d.get("Containers") or {}).values()} - {""}
    return set()


def container_running(items: list[dict[str, Any]], name: str) -> bool:
    return any(d.get("Name") == "/" + name and (d.get("State") or {}).get("Running") is True for d in items)


def _lost_secret_volumes(labels: Mapping[str, str], uid: str, marks: set[str]) -> list[str]:
    """The pod's secret volumes whose mark is gone from the node's tmpfs (a reboot empties it;
    docker then recreates the mount points empty and the container comes back without its files)."""
    names = [v for v in str(labels.get(SECRET_VOLUMES_LABEL, "")).split(",") if v]
    return [v for v in names if secret_volume_mark(uid, v) not in marks]


def parse_pods(
    node: str, section: Section | list[dict[str, Any]] | None, secret_dirs: set[str] | None = None
) -> list[PodView]:
    """kcli's pods among the inspected objects (a PODS_SNIPPET section, or its parsed ``inspected``).
    ``secret_dirs``: the secret volume directories present on the node (None: not read); a pod
    whose secret volume files are gone is broken (its controller replaces it)."""
    items = section if isinstance(section, list) else inspected(section)
    by_uid: dict[str, list[dict[str, Any]]] = {}
    for d in items:
        labels = (d.get("Config") or {}).get("Labels") or {}
        uid = labels.get("io.kcli.pod-uid")
        if uid:
            by_uid.setdefault(uid, []).append(d)
    pods = []
    for uid, docs in by_uid.items():
        views = [(_container(d), d) for d in docs]
        sandbox_doc = next((d for v, d in views if v.kind == "sandbox"), None)
        sandbox = next((v for v, d in views if v.kind == "sandbox"), None)
        single_doc = next(
            (d for d in docs if ((d.get("Config") or {}).get("Labels") or {}).get(LAYOUT_LABEL) == "single"), None
        )
        pod_doc = sandbox_doc or single_doc  # the container holding the pod's network and labels
        apps = sorted((v for v, _ in views if v.kind == "container"), key=lambda c: c.name)
        inits = [v for v, _ in views if v.kind == "init"]
        any_labels = ((pod_doc or docs[0]).get("Config") or {}).get("Labels") or {}
        expected = [n for n in any_labels.get("io.kcli.containers", "").split(",") if n] or [c.name for c in apps]
        expected_inits = [n for n in any_labels.get("io.kcli.init-containers", "").split(",") if n]
        policy = any_labels.get("io.kcli.restart-policy", "Always")
        state, code, detail, status = _pod_state(
            sandbox, apps, inits, expected, expected_inits, policy, single=sandbox is None and single_doc is not None
        )
        lost = (
            _lost_secret_volumes(any_labels, uid, secret_dirs) if secret_dirs is not None and state != "exited" else []
        )
        if lost:
            state, detail = "broken", f"secret volume {', '.join(lost)}: its files are gone (the node restarted)"
        ip = _pod_ip(pod_doc) if pod_doc is not None else ""
        try:
            pod_labels = json.loads(any_labels.get("io.kcli.pod-labels", "{}"))
        except ValueError:
            pod_labels = {}
        try:
            requests = json.loads(any_labels.get("io.kcli.requests", "{}"))
            host_ports = json.loads(any_labels.get("io.kcli.host-ports", "[]"))
            ports = json.loads(any_labels.get("io.kcli.ports", "[]"))
        except ValueError:
            requests, host_ports, ports = {}, [], []
        created = parse_time((pod_doc or docs[0]).get("Created", ""))
        probed, failure = _probe_results(sandbox_doc, any_labels)
        probe_events = _probe_events(sandbox_doc) if probed else ()
        ready = sum(1 for c in apps if c.status == "running" and probed.get(c.name, True))
        if state == "running" and ready < len(expected) and not detail:
            detail = f"Readiness probe failed: {failure}" if failure else "readiness probe has not passed yet"
        restarts = sum(c.restart_count for c in apps)
        observed = ObservedPod(
            namespace=any_labels.get("io.kcli.namespace", "default"),
            name=any_labels.get("io.kcli.pod", ""),
            node=node,
            applied=_owner(any_labels.get("io.kcli.applied", "")),
            owner=_owner(any_labels.get("io.kcli.owner", "")),
            spec_hash=any_labels.get("io.kcli.spec-hash", ""),
            state=state,
            exit_code=code,
            restart_count=restarts,
            ready=state == "running" and ready == len(expected),
            created_at=created,
            detail=detail,
            labels=pod_labels,
            cpu_milli=int(requests.get("cpu", 0) or 0),
            memory=int(requests.get("memory", 0) or 0),
            host_ports=tuple(HostPort(int(p["port"]), p.get("protocol", "TCP"), p.get("ip", "")) for p in host_ports),
        )
        pods.append(
            PodView(
                namespace=observed.namespace,
                name=observed.name,
                node=node,
                uid=uid,
                ip=ip,
                status=status,
                ready=ready,
                total=len(expected),
                restarts=restarts,
                created_at=created,
                labels=pod_labels,
                applied=any_labels.get("io.kcli.applied", ""),
                owner=any_labels.get("io.kcli.owner", ""),
                spec_hash=observed.spec_hash,
                restart_policy=policy,
                containers=tuple(v for v, _ in views),
                observed=observed,
                requests=requests,
                ports=tuple(ports),
                grace=int(any_labels[GRACE_LABEL]) if str(any_labels.get(GRACE_LABEL, "")).isdigit() else None,
                probe_events=probe_events,
                dns_host=any_labels.get(DNS_HOST_LABEL, ""),
            )
        )
    return sorted(pods, key=lambda p: (p.namespace, p.name))


def _probe_results(sandbox_doc: dict[str, Any] | None, labels: Mapping[str, str]) -> tuple[dict[str, bool], str]:
    """Per probed container, whether its probes pass (the pause container's healthcheck output,
    kcli-probe's JSON line), and the last failure's message. Unprobed containers are absent."""
    names = [n for n in labels.get(PROBES_LABEL, "").split(",") if n]
    if not names:
        return {}, ""
    health = ((sandbox_doc or {}).get("State") or {}).get("Health") or {}
    out: dict[str, bool] = dict.fromkeys(names, False)
    failure = ""
    for entry in reversed(health.get("Log") or []):
        try:
            containers = json.loads((entry.get("Output") or "").strip().splitlines()[-1]).get("containers") or {}
        except (ValueError, IndexError, AttributeError):
            continue
        for n in names:
            got = containers.get(n) or {}
            out[n] = got.get("ready") is True
            failure = failure or str(got.get("failure") or "")
        break
    return out, failure


def _probe_events(sandbox_doc: dict[str, Any] | None) -> tuple[tuple[str, str, str], ...]:
    """kubelet's probe events from the healthcheck runs docker kept (the last 5): Unhealthy with the
    probe's output, Killing when a liveness (or startup) probe had the container killed."""
    out: list[tuple[str, str, str]] = []
    for entry in ((sandbox_doc or {}).get("State") or {}).get("Health", {}).get("Log") or []:
        try:
            containers = json.loads((entry.get("Output") or "").strip().splitlines()[-1]).get("containers") or {}
        except (ValueError, IndexError, AttributeError):
            continue
        for name, got in sorted(containers.items()):
            failure = str((got or {}).get("failure") or "")
            if not failure:
                continue
            reason = "Killing" if "container killed" in failure else "Unhealthy"
            event = (str(entry.get("Start") or "")[:19], reason, f"container {name}: probe failed: {failure}")
            if not out or out[-1][1:] != event[1:]:
                out.append(event)
    return tuple(out)


def _pod_ip(doc: dict[str, Any]) -> str:
    """The pod's address: the one docker gave it, or, while its container is not running (a
    single-container pod restarting or exited), the fixed one it was created with."""
    nets = (doc.get("NetworkSettings") or {}).get("Networks") or {}
    pod_net = nets.get(POD_NETWORK) or {}
    return (
        pod_net.get("IPAddress")
        or ((pod_net.get("IPAMConfig") or {}).get("IPv4Address") or "")
        or next((n.get("IPAddress", "") for n in nets.values() if n.get("IPAddress")), "")
    )


def unknown_pods(node: str, records: Mapping[str, Any]) -> list[PodView]:
    """The pods the state records on a node that cannot be read: kubectl's Unknown. They keep
    their place (controllers count them, nothing replaces them yet) but serve no traffic."""
    out = []
    for key, rec in sorted(records.items()):
        if rec.get("node") != node or rec.get("phase") in ("Pending", "Failed"):
            continue
        ns, name = key.split("/", 1)
        applied, owner = rec.get("applied") or "", rec.get("owner") or ""
        observed = ObservedPod(
            ns,
            name,
            node,
            _owner(applied),
            _owner(owner),
            rec.get("specHash", ""),
            state="unknown",
            ready=False,
            detail=f"node {node} is unreachable",
            labels=dict(rec.get("labels") or {}),
        )
        out.append(
            PodView(
                ns,
                name,
                node,
                rec.get("uid", ""),
                rec.get("ip", ""),
                "Unknown",
                0,
                1,
                0,
                0.0,
                dict(rec.get("labels") or {}),
                applied,
                owner,
                rec.get("specHash", ""),
                "Always",
                (),
                observed,
            )
        )
    return out
