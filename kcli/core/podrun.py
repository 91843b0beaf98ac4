"""Pods on docker (k8s-reference.md §8): a DesiredPod → the shell lines that create it on a node.

A pause container (``k8s_POD_<pod>_<ns>_<uid>_0``) holds the pod's network namespace and IP on
the node's pod network; init containers run to completion in order; app containers join the
pause container's network and IPC namespaces. Everything is labelled so the hosts can be re-read.
Pure: values that reach the shell are quoted here, once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kcli.core.commands.shell import sh, write_file
from kcli.core.controllers.pod import DesiredPod
from kcli.core.network import POD_NETWORK
from kcli.core.objects import ConfigMap, Container, EnvVar, KeyToPath, ObjectKey, Secret
from kcli.errors import PlanError

PAUSE_IMAGE = "kcli.local/pause:3.10"
MANAGED = "io.kcli.managed"
POD_DIR = "/var/lib/kcli/pods"
SECRET_DIR = "/run/kcli/pods"  # tmpfs: secret files never reach the disk
STOP_GRACE_CAP = 10


@dataclass(frozen=True)
class PodPlacement:
    """Where and how a pod runs: node, its IP there, and the node's address (status.hostIP)."""

    node: str
    ip: str
    host_ip: str


def pod_uid(pod: DesiredPod) -> str:
    """Deterministic UUID-shaped uid per (namespace, name, spec hash)."""
    h = hashlib.sha256(f"{pod.namespace}/{pod.name}/{pod.spec_hash}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def container_name(kind: str, pod: DesiredPod, uid: str) -> str:
    return f"k8s_{kind}_{pod.name}_{pod.namespace}_{uid[:8]}_0"


def pod_labels(pod: DesiredPod, uid: str, kind: str, container: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    labels = {
        **{k: v for k, v in pod.labels.items()},
        MANAGED: "true",
        "io.kcli.namespace": pod.namespace,
        "io.kcli.pod": pod.name,
        "io.kcli.pod-uid": uid,
        "io.kcli.container": container,
        "io.kcli.type": kind,
        "io.kcli.spec-hash": pod.spec_hash,
        "io.kcli.applied": str(pod.applied),
        "io.kubernetes.pod.name": pod.name,
        "io.kubernetes.pod.namespace": pod.namespace,
        "io.kubernetes.pod.uid": uid,
        "io.kubernetes.container.name": container,
        "io.kubernetes.docker.type": "podsandbox" if kind == "sandbox" else "container",
    }
    if pod.owner is not None:
        labels["io.kcli.owner"] = str(pod.owner)
    labels.update(extra or {})
    return labels


def _label_args(labels: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    for k in sorted(labels):
        out += ["--label", f"{k}={labels[k]}"]
    return out


def _field_ref(path: str, pod: DesiredPod, uid: str, place: PodPlacement) -> str:
    simple = {
        "metadata.name": pod.name,
        "metadata.namespace": pod.namespace,
        "metadata.uid": uid,
        "spec.nodeName": place.node,
        "spec.serviceAccountName": "default",
        "status.podIP": place.ip,
        "status.podIPs": place.ip,
        "status.hostIP": place.host_ip,
        "status.hostIPs": place.host_ip,
    }
    if path in simple:
        return simple[path]
    for prefix, src in (("metadata.labels", pod.labels), ("metadata.annotations", pod.annotations)):
        if path.startswith(prefix + "['") and path.endswith("']"):
            return src.get(path[len(prefix) + 2 : -2], "")
    raise PlanError(f"pod {pod.namespace}/{pod.name}: fieldRef {path} is not supported")


def _config_value(configs: Mapping[ObjectKey, ConfigMap | Secret], kind: str, ns: str, name: str, key: str, optional: bool, pod: DesiredPod) -> str | None:
    obj = configs.get(ObjectKey(kind, ns, name))
    if obj is None:
        if optional:
            return None
        raise PlanError(f"pod {pod.namespace}/{pod.name}: {kind} {ns}/{name} is needed but its data is not in this apply "
                        "(kcli keeps no Secret values: apply it together with the workload)")
    if isinstance(obj, Secret):
        raw = obj.data.get(key)
        if raw is None:
            if optional:
                return None
            raise PlanError(f"pod {pod.namespace}/{pod.name}: {kind} {ns}/{name} has no key {key!r}")
        return raw.decode("utf-8", errors="replace")
    val = obj.data.get(key)
    if val is None and key in obj.binary_data:
        val = obj.binary_data[key].decode("utf-8", errors="replace")
    if val is None and not optional:
        raise PlanError(f"pod {pod.namespace}/{pod.name}: {kind} {ns}/{name} has no key {key!r}")
    return val


def container_env(c: Container, pod: DesiredPod, uid: str, place: PodPlacement,
                  configs: Mapping[ObjectKey, ConfigMap | Secret], extra_env: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """Kubernetes order: service env (extra_env), envFrom, then env (later wins); $(VAR) expanded."""
    env: dict[str, str] = dict(extra_env)
    for ef in c.env_from:
        kind, name = ("ConfigMap", ef.config_map) if ef.config_map is not None else ("Secret", ef.secret)
        obj = configs.get(ObjectKey(kind, pod.namespace, name or ""))
        if obj is None:
            if ef.optional:
                continue
            _config_value(configs, kind, pod.namespace, name or "", "", False, pod)
        data = {k: (v.decode("utf-8", errors="replace") if isinstance(v, bytes) else v) for k, v in obj.data.items()}
        for k, v in data.items():
            env[ef.prefix + k] = v
    for e in c.env:
        v = _env_value(e, pod, uid, place, configs, env)
        if v is not None:
            env[e.name] = v
    return list(env.items())


def _expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes $(VAR) expansion; $$(VAR) escapes."""
    out, i = [], 0
    while i < len(value):
        if value.startswith("$$", i):
            out.append("$")
            i += 2
        elif value.startswith("$(", i) and ")" in value[i:]:
            end = value.index(")", i)
            name = value[i + 2 : end]
            out.append(env.get(name, value[i : end + 1]))
            i = end + 1
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _env_value(e: EnvVar, pod: DesiredPod, uid: str, place: PodPlacement, configs, env) -> str | None:
    if e.value is not None:
        return _expand(e.value, env)
    if e.config_map_key_ref is not None:
        r = e.config_map_key_ref
        return _config_value(configs, "ConfigMap", pod.namespace, r.name, r.key, r.optional, pod)
    if e.secret_key_ref is not None:
        r = e.secret_key_ref
        return _config_value(configs, "Secret", pod.namespace, r.name, r.key, r.optional, pod)
    if e.field_ref is not None:
        return _field_ref(e.field_ref, pod, uid, place)
    if e.resource_field_ref is not None:
        return None  # warned at validation
    return ""


def resource_flags(c: Container) -> list[str]:
    """kubelet's mapping (§8.4): shares from requests, quota from limits, memory without swap."""
    req, lim = c.resources.requests, c.resources.limits
    flags = ["--cpu-shares", str(max(2, req.get("cpu", 0) * 1024 // 1000))]
    if lim.get("cpu"):
        flags += ["--cpu-period", "100000", "--cpu-quota", str(max(1000, lim["cpu"] * 100))]
    if lim.get("memory"):
        flags += ["--memory", str(lim["memory"]), "--memory-swap", str(lim["memory"])]
    return flags


def _volume_lines(pod: DesiredPod, uid: str, configs) -> tuple[list[str], dict[str, str]]:
    """Lines that materialise the pod's volumes on the node, and volume name → host path."""
    lines: list[str] = []
    paths: dict[str, str] = {}
    base = f"{POD_DIR}/{uid}/volumes"
    for v in pod.spec.volumes:
        if v.source == "emptyDir":
            p = f"{base}/empty-dir/{v.name}"
            lines.append(sh(("mkdir", "-p", p)))
            if v.medium == "Memory":
                size = [f"size={v.size_limit}"] if v.size_limit else []
                lines.append(f"mountpoint -q {shlex.quote(p)} || {sh(('mount', '-t', 'tmpfs', '-o', ','.join(['mode=0777', *size]), 'tmpfs', p))}")
            else:
                lines.append(sh(("chmod", "0777", p)))
            paths[v.name] = p
        elif v.source == "hostPath":
            if v.host_path_type == "DirectoryOrCreate":
                lines.append(sh(("mkdir", "-p", v.path)))
            elif v.host_path_type == "FileOrCreate":
                lines.append(f"[ -e {shlex.quote(v.path)} ] || {{ mkdir -p {shlex.quote(v.path.rsplit('/', 1)[0] or '/')} && touch {shlex.quote(v.path)}; }}")
            elif v.host_path_type in ("Directory", "File", "Socket", "CharDevice", "BlockDevice"):
                test = {"Directory": "-d", "File": "-f", "Socket": "-S", "CharDevice": "-c", "BlockDevice": "-b"}[v.host_path_type]
                lines.append(f"[ {test} {shlex.quote(v.path)} ] || {{ echo 'hostPath {v.path} is not a {v.host_path_type}' >&2; exit 1; }}")
            paths[v.name] = v.path
        elif v.source in ("configMap", "secret"):
            kind = "ConfigMap" if v.source == "configMap" else "Secret"
            obj = configs.get(ObjectKey(kind, pod.namespace, v.ref_name))
            secret = kind == "Secret"
            p = f"{SECRET_DIR}/{uid}/secret/{v.name}" if secret else f"{base}/configmap/{v.name}"
            lines.append(sh(("mkdir", "-p", p)))
            if obj is None:
                if not v.optional:
                    _config_value(configs, kind, pod.namespace, v.ref_name, "", False, pod)
            else:
                data = dict(obj.data) if secret else {**dict(obj.data), **{k: b for k, b in obj.binary_data.items()}}
                items = v.items or tuple(KeyToPath(k, k) for k in sorted(data))
                for it in items:
                    if it.key not in data:
                        if v.optional:
                            continue
                        raise PlanError(f"pod {pod.namespace}/{pod.name}: {kind} {v.ref_name} has no key {it.key!r}")
                    raw = data[it.key]
                    mode = it.mode if it.mode is not None else (0o600 if secret and v.default_mode == 0o644 else v.default_mode)
                    lines.append(write_file(f"{p}/{it.path}", raw, f"{mode:04o}"))
            paths[v.name] = p
        else:
            raise PlanError(f"pod {pod.namespace}/{pod.name}: volume {v.name} ({v.source}) is not supported")
    return lines, paths


def _mounts(c: Container, paths: Mapping[str, str], pod: DesiredPod) -> list[str]:
    out: list[str] = []
    for m in c.volume_mounts:
        if m.name not in paths:
            raise PlanError(f"pod {pod.namespace}/{pod.name}: container {c.name} mounts unknown volume {m.name}")
        src = paths[m.name] + (f"/{m.sub_path}" if m.sub_path else "")
        ro = m.read_only or any(v.name == m.name and v.source in ("configMap", "secret") for v in pod.spec.volumes)
        out += ["-v", f"{src}:{m.mount_path}{':ro' if ro else ''}"]
    return out


def _pull_lines(images: Sequence[tuple[str, str]], pull_secrets: Sequence[Secret]) -> list[str]:
    """Image pulls per imagePullPolicy, with imagePullSecrets as a throw-away docker config on tmpfs."""
    lines: list[str] = []
    auth = ""
    if pull_secrets:
        merged: dict = {"auths": {}}
        for s in pull_secrets:
            raw = s.data.get(".dockerconfigjson") or s.data.get(".dockercfg") or b"{}"
            try:
                doc = json.loads(raw.decode())
            except ValueError:
                doc = {}
            merged["auths"].update(doc.get("auths", doc))
        cfg = json.dumps(merged)
        lines.append('cfg=$(mktemp -d /run/kcli/dockercfg.XXXXXX) && chmod 700 "$cfg"')
        lines.append(f"printf %s {shlex.quote(base64.b64encode(cfg.encode()).decode())} | base64 -d > \"$cfg/config.json\"")
        auth = '--config "$cfg" '
    for image, policy in images:
        q = shlex.quote(image)
        have = f"docker image inspect {q} >/dev/null 2>&1"
        if policy == "Always":
            lines.append(f"docker {auth}pull -q {q} >/dev/null || {{ echo 'ErrImagePull: {image}' >&2; exit 1; }}")
        elif policy == "Never":
            lines.append(f"{have} || {{ echo 'ErrImageNeverPull: {image} is not present and imagePullPolicy is Never' >&2; exit 1; }}")
        else:
            lines.append(f"{have} || docker {auth}pull -q {q} >/dev/null || {{ echo 'ErrImagePull: {image}' >&2; exit 1; }}")
    if pull_secrets:
        lines.append('rm -rf "$cfg"')
    return lines


def _run_args(c: Container, env: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(flags, image+args): command → entrypoint, args → cmd, like kubelet."""
    flags: list[str] = []
    for k, v in env:
        flags += ["-e", f"{k}={v}"]
    if c.working_dir:
        flags += ["-w", c.working_dir]
    if c.tty:
        flags.append("-t")
    if c.stdin:
        flags.append("-i")
    values = dict(env)
    command = [_expand(w, values) for w in c.command]
    args = [_expand(w, values) for w in c.args]
    if command:
        flags += ["--entrypoint", command[0]]
        tail = [c.image, *command[1:], *args]
    else:
        tail = [c.image, *args]
    return flags, tail


def create_pod_lines(
    pod: DesiredPod,
    place: PodPlacement,
    configs: Mapping[ObjectKey, ConfigMap | Secret],
    *,
    dns_args: Sequence[str] = (),
    service_env: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """Everything to start one pod on its node, in order, as shell lines (run under ``set -e``)."""
    spec = pod.spec
    uid = pod_uid(pod)
    sandbox = container_name("POD", pod, uid)
    volume_lines, paths = _volume_lines(pod, uid, configs)
    pull_secrets = []
    for name in spec.image_pull_secrets:
        s = configs.get(ObjectKey("Secret", pod.namespace, name))
        if isinstance(s, Secret):
            pull_secrets.append(s)
    images: dict[str, str] = {PAUSE_IMAGE: "Never"}
    for c in spec.init_containers + spec.containers:
        images.setdefault(c.image, c.image_pull_policy)
    req_cpu = sum(c.resources.requests.get("cpu", 0) for c in spec.containers)
    req_mem = sum(c.resources.requests.get("memory", 0) for c in spec.containers)
    host_ports = [
        {"port": p.host_port, "protocol": p.protocol, "ip": p.host_ip}
        for c in spec.containers for p in c.ports if p.host_port
    ]
    sandbox_labels = pod_labels(pod, uid, "sandbox", "POD", {
        "io.kcli.pod-labels": json.dumps(dict(pod.labels), sort_keys=True),
        "io.kcli.containers": ",".join(c.name for c in spec.containers),
        "io.kcli.init-containers": ",".join(c.name for c in spec.init_containers),
        "io.kcli.restart-policy": spec.restart_policy,
        "io.kcli.requests": json.dumps({"cpu": req_cpu, "memory": req_mem}),
        "io.kcli.host-ports": json.dumps(host_ports),
        "io.kcli.ports": json.dumps([{"name": p.name, "containerPort": p.container_port, "protocol": p.protocol}
                                     for c in spec.containers for p in c.ports]),
        "io.kcli.node": place.node,
    })
    run = ["docker", "run", "-d", "--name", sandbox, "--restart", "always", "--init"]
    if spec.host_network:
        run += ["--network", "host"]
    else:
        run += ["--network", POD_NETWORK, "--ip", place.ip, "--hostname", spec.hostname or pod.name, *dns_args]
        for hp in host_ports:
            port = next(p.container_port for c in spec.containers for p in c.ports
                        if p.host_port == hp["port"] and p.protocol == hp["protocol"])
            bind = f"{hp['ip']}:" if hp["ip"] else ""
            run += ["-p", f"{bind}{hp['port']}:{port}/{hp['protocol'].lower()}"]
    for a in spec.host_aliases:
        for hn in a.hostnames:
            run += ["--add-host", f"{hn}:{a.ip}"]
    run += ["--ipc", "shareable", *_label_args(sandbox_labels), PAUSE_IMAGE]
    lines = [*volume_lines, *_pull_lines(list(images.items()), pull_secrets), sh(run)]
    restart = {"Always": "always", "OnFailure": "on-failure", "Never": "no"}[spec.restart_policy]
    shared = ["--network", f"container:{sandbox}", "--ipc", f"container:{sandbox}"]
    if spec.share_process_namespace:
        shared += ["--pid", f"container:{sandbox}"]
    for c in spec.init_containers:
        env = container_env(c, pod, uid, place, configs, service_env)
        flags, tail = _run_args(c, env)
        name = container_name(c.name, pod, uid)
        labels = pod_labels(pod, uid, "init", c.name)
        lines.append(
            f"{sh(['docker', 'run', '--name', name, '--init', *shared, *resource_flags(c), *_mounts(c, paths, pod), *flags, *_label_args(labels), *tail])}"
            f" >/dev/null || {{ echo 'init container {c.name} failed' >&2; exit 1; }}"
        )
    for c in spec.containers:
        env = container_env(c, pod, uid, place, configs, service_env)
        flags, tail = _run_args(c, env)
        name = container_name(c.name, pod, uid)
        labels = pod_labels(pod, uid, "container", c.name)
        lines.append(sh(["docker", "run", "-d", "--name", name, "--init", "--restart", restart, *shared,
                         *resource_flags(c), *_mounts(c, paths, pod), *flags, *_label_args(labels), *tail]) + " >/dev/null")
    return lines


def delete_pod_lines(uid: str, grace: int = 30) -> list[str]:
    """Stop (grace capped), remove the pod's containers, its volumes and secret files."""
    sel = shlex.quote(f"label=io.kcli.pod-uid={uid}")
    t = str(min(grace, STOP_GRACE_CAP))
    return [
        f"ids=$(docker ps -aq --filter {sel}); if [ -n \"$ids\" ]; then docker stop -t {t} $ids >/dev/null 2>&1 || true; docker rm -f -v $ids >/dev/null; fi",
        f"for m in $(awk '{{print $2}}' /proc/mounts | grep '^{POD_DIR}/{uid}/' || true); do umount \"$m\" || true; done",
        sh(("rm", "-rf", f"{POD_DIR}/{uid}", f"{SECRET_DIR}/{uid}")),
    ]
