"""Pods on docker (docs/k8s-reference.md §8): a DesiredPod → the shell lines that create it on a node.

Two layouts, both labelled so the hosts can be re-read:

* **single** (one container, no init containers, no shared PID namespace: most pods): the app
  container itself is on the node's pod network with the pod's fixed IP (``--ip``), hostname and
  DNS, and carries the pod's labels (``io.kcli.layout=single``). One ``docker run`` per pod. A
  restart of the container (restart policy, liveness) keeps its IP, hostname and ports: docker
  re-attaches it with the same static address.
* **pause** (everything else): a pause container (``k8s_POD_<pod>_<ns>_<uid>_0``) holds the pod's
  network namespace and IP; init containers run to completion in order; app containers join the
  pause container's network and IPC namespaces, so they share localhost and survive each other's
  restarts, as in Kubernetes.

Pure. No value from a manifest is ever formatted into shell text: every line is an argv joined by
``sh`` (``shlex.quote`` on each word), messages go through ``fail`` (one quoted printf argument),
file contents travel as base64 data. The only names written into shell text unquoted are
environment variable names, and only after they matched ``[A-Za-z_][A-Za-z0-9_]*``.

Container environments never reach a command line (``/proc/*/cmdline`` is readable by every user
of the node): see ``env_routes`` for the exact rule.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from kcli.core.commands.shell import fail, sh, write_file, write_private
from kcli.core.controllers.pod import DesiredPod
from kcli.core.network import POD_NETWORK
from kcli.core.objects import (
    ConfigMap,
    Container,
    EnvVar,
    KeyToPath,
    ObjectKey,
    ResourceFieldRef,
    Secret,
    capability_name,
    effective_security_context,
    normalize_sysctl,
)
from kcli.core.quantity import resource_value
from kcli.errors import PlanError

PAUSE_IMAGE = "kcli.local/pause:3.10-probe"  # with kcli-probe and a static sh (health checks)
MANAGED = "io.kcli.managed"
POD_DIR = "/var/lib/kcli/pods"
SECRET_DIR = "/run/kcli/pods"  # tmpfs: secret files never reach the disk
STOP_GRACE_CAP = 10
_SAFE_UID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,127}")
_HOSTNAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


@dataclass(frozen=True)
class PodPlacement:
    """Where and how a pod runs: node, its IP there, and the node's address (status.hostIP)."""

    node: str
    ip: str
    host_ip: str
    cpu_milli: int = 0  # the node's allocatable: what resourceFieldRef gives for a limit that is not set
    memory: int = 0


def pod_uid(pod: DesiredPod) -> str:
    """Deterministic UUID-shaped uid per (namespace, name, spec hash)."""
    h = hashlib.sha256(f"{pod.namespace}/{pod.name}/{pod.spec_hash}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def container_name(kind: str, pod: DesiredPod, uid: str) -> str:
    return f"k8s_{kind}_{pod.name}_{pod.namespace}_{uid[:8]}_0"


DNS_HOST_LABEL = "io.kcli.dns-host"  # HOSTNAME.SUBDOMAIN of a pod with both set (a StatefulSet's)


def pod_labels(
    pod: DesiredPod, uid: str, kind: str, container: str, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
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
    if pod.spec.hostname and pod.spec.subdomain:  # its DNS name through the headless Service ``subdomain``
        labels[DNS_HOST_LABEL] = f"{pod.spec.hostname}.{pod.spec.subdomain}"
    labels.update(extra or {})
    return labels


def _label_args(labels: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    for k in sorted(labels):
        if "=" in k:
            raise PlanError(f"label key {k!r}: a docker label key cannot contain '='")
        out += ["--label", f"{k}={labels[k]}"]
    return out


def _field_ref(path: str, pod: DesiredPod, uid: str, place: PodPlacement) -> str:
    simple = {
        "metadata.name": pod.name,
        "metadata.namespace": pod.namespace,
        "metadata.uid": uid,
        "spec.nodeName": place.node,
        "spec.serviceAccountName": pod.spec.service_account_name or "default",
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


def _not_applied(kind: str, ns: str, name: str, pod: DesiredPod) -> PlanError:
    return PlanError(
        f"pod {pod.namespace}/{pod.name}: {kind} {ns}/{name} is needed but its data is not in this apply "
        "(kcli keeps no Secret values: apply it together with the workload)"
    )


def _config_value(
    configs: Mapping[ObjectKey, ConfigMap | Secret],
    kind: str,
    ns: str,
    name: str,
    key: str,
    optional: bool,
    pod: DesiredPod,
) -> str | None:
    obj = configs.get(ObjectKey(kind, ns, name))
    if obj is None:
        if optional:
            return None
        raise _not_applied(kind, ns, name, pod)
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


def container_env(
    c: Container,
    pod: DesiredPod,
    uid: str,
    place: PodPlacement,
    configs: Mapping[ObjectKey, ConfigMap | Secret],
    extra_env: Sequence[tuple[str, str]] = (),
) -> list[tuple[str, str]]:
    """Kubernetes order: service env (extra_env), envFrom, then env (later wins); $(VAR) expanded."""
    env: dict[str, str] = dict(extra_env)
    for ef in c.env_from:
        kind, name = ("ConfigMap", ef.config_map) if ef.config_map is not None else ("Secret", ef.secret)
        obj = configs.get(ObjectKey(kind, pod.namespace, name or ""))
        if obj is None:
            if ef.optional:
                continue
            raise _not_applied(kind, pod.namespace, name or "", pod)
        data = {k: (v.decode("utf-8", errors="replace") if isinstance(v, bytes) else v) for k, v in obj.data.items()}
        for k, v in data.items():
            env[ef.prefix + k] = v
    for e in c.env:
        value = _env_value(e, pod, uid, place, configs, env, c.name)
        if value is not None:
            env[e.name] = value
    return list(env.items())


# --------------------------------------------------------------------------- environment transport
#
# A container's environment never appears on a command line. Each (name, value) takes one of two
# routes, decided by ``env_routes``:
#
# 1. docker's env file (``--env-file FILE``, one ``NAME=VALUE`` per line, read by the docker client,
#    no quoting or escapes) when the value is "env-file safe": no newline, no carriage return (Go's
#    line scanner drops a trailing one), not wrapped in a matching pair of quotes (proposed
#    docker/cli changes strip those), and the line at most ENV_FILE_LINE_MAX bytes (Go's
#    bufio.Scanner limit); and the name is non-empty, printable, without whitespace or '=', and
#    does not start with '#' (a comment line).
# 2. otherwise the docker client's own environment: ``-e NAME`` (no '=') makes the client pass the
#    value of its variable NAME through, byte for byte (newlines included). The value is read by
#    the shell from a 0600 file (``NAME=$(cat FILE && echo x) && NAME=${NAME%x}``, which keeps
#    trailing newlines) and exported in a subshell that then execs docker, so it is in the
#    client's environment (readable only by root) and on no command line. This needs NAME to be
#    a shell variable name ([A-Za-z_][A-Za-z0-9_]*) that neither the shell, the dynamic loader,
#    the Go runtime nor the docker client interprets (CLIENT_ENV_RESERVED*): those would change
#    what runs rather than what the container gets.
# 3. anything else is refused with a PlanError naming the pod, container and variable: a name
#    with whitespace or non-printable characters; a multi-line (CR, quoted or long) value whose
#    name is not such a shell name (e.g. ``tls.crt`` holding a PEM); a NUL anywhere; and any
#    NAME=VALUE longer than ENV_STRING_MAX bytes, which Linux refuses in an environment (so the
#    container's own exec would fail too).
#
# Both kinds of file live in /run/kcli/pods/<uid>/env (tmpfs, 0700, files 0600, written under
# umask 077 before any content exists), are written from base64 data inside the node script
# (which itself arrives on stdin, see RUN_STDIN_SCRIPT), and are removed as soon as docker run
# returns, on failure too; removing the pod (or the failed unit's cleanup) removes the directory.
# Limit that remains: ``$(VAR)`` references in command/args are expanded by kcli, as kubelet does,
# so a value referenced there is on the docker client's and the container's command line.

ENV_FILE_LINE_MAX = 64000  # below bufio.MaxScanTokenSize (64 KiB, the line with its newline), with a margin
ENV_STRING_MAX = 131071  # MAX_ARG_STRLEN (32 pages of 4 KiB) minus the terminating NUL
ENV_FILE_HEADER = "# kcli: one container's environment (docker --env-file format); removed after docker run\n"
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
CLIENT_ENV_RESERVED = frozenset(
    {
        # POSIX sh, dash and bash
        "_",
        "PATH",
        "IFS",
        "ENV",
        "HOME",
        "CDPATH",
        "PS1",
        "PS2",
        "PS3",
        "PS4",
        "OPTIND",
        "OPTARG",
        "OPTERR",
        "PWD",
        "OLDPWD",
        "LINENO",
        "PPID",
        "UID",
        "EUID",
        "GROUPS",
        "RANDOM",
        "SRANDOM",
        "SECONDS",
        "HISTCMD",
        "FUNCNAME",
        "DIRSTACK",
        "EPOCHREALTIME",
        "EPOCHSECONDS",
        "SHELLOPTS",
        "SHLVL",
        "SHELL",
        "MAIL",
        "MAILPATH",
        "MAILCHECK",
        "POSIXLY_CORRECT",
        "TMOUT",
        "GLOBIGNORE",
        "FCEDIT",
        "HOSTNAME",
        "HOSTTYPE",
        "MACHTYPE",
        "OSTYPE",
        "COLUMNS",
        "LINES",
        "TERM",
        "TERMINFO",
        "TMPDIR",
        "TZ",
        "LANG",
        "LANGUAGE",
        "NLSPATH",
        "LOCPATH",
        # resolver, TLS, proxies (the docker client talks to registries and the daemon)
        "HOSTALIASES",
        "LOCALDOMAIN",
        "RES_OPTIONS",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "FTP_PROXY",
        # Go runtime (the docker client is a Go program)
        "GODEBUG",
        "GOGC",
        "GOMEMLIMIT",
        "GOMAXPROCS",
        "GOTRACEBACK",
        "GORACE",
        "GOCOVERDIR",
    }
)
CLIENT_ENV_RESERVED_PREFIXES = (
    "BASH",
    "LD_",
    "LC_",
    "DOCKER_",
    "BUILDKIT_",
    "BUILDX_",
    "COMPOSE_",
    "OTEL_",
    "GCONV_",
    "MALLOC_",
    "GLIBC_",
    "XDG_",
    "HIST",
    "COMP_",
    "READLINE_",
)


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PlanError(f"{what}: not valid Unicode text ({exc.reason})") from exc


def client_env_name_ok(name: str) -> bool:
    """Whether a variable can be passed through the docker client's environment (route 2)."""
    up = name.upper()
    return (
        bool(_SHELL_NAME.fullmatch(name))
        and up not in CLIENT_ENV_RESERVED
        and not up.startswith(CLIENT_ENV_RESERVED_PREFIXES)
    )


def env_routes(env: Sequence[tuple[str, str]], where: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(env-file entries, client-environment entries) of a container's environment, or a
    PlanError for what docker cannot be given without a command line (rule above)."""
    file_env: list[tuple[str, str]] = []
    client_env: list[tuple[str, str]] = []
    for name, value in env:
        what = f"{where}: env {name!r}"
        if not name or "=" in name or any(ch.isspace() or not ch.isprintable() for ch in name):
            raise PlanError(
                f"{what}: kcli passes environment names to docker only when they are non-empty "
                "printable characters without whitespace or '='"
            )
        if "\0" in value:
            raise PlanError(f"{what}: the value contains a NUL byte, which no process environment can hold")
        size = len(_utf8(name, what)) + 1 + len(_utf8(value, what))
        if size > ENV_STRING_MAX:
            raise PlanError(
                f"{what}: NAME=VALUE is {size} bytes; Linux allows at most {ENV_STRING_MAX} bytes "
                "for one environment string"
            )
        quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""
        if (
            size <= ENV_FILE_LINE_MAX
            and "\n" not in value
            and "\r" not in value
            and not quoted
            and not name.startswith("#")
        ):
            file_env.append((name, value))
        elif client_env_name_ok(name):
            client_env.append((name, value))
        else:
            raise PlanError(
                f"{what}: a value with a newline or carriage return, wrapped in quotes, or over {ENV_FILE_LINE_MAX} "
                "bytes cannot go through docker's --env-file, and passing it through the docker client's environment "
                "needs a shell variable name ([A-Za-z_][A-Za-z0-9_]*) that the shell, the dynamic loader and the "
                "docker client do not read themselves (not PATH, HOME, IFS, LD_*, LC_*, DOCKER_*, GODEBUG, HTTP_PROXY, ...); "
                "kcli never puts environment values on a command line"
            )
    return file_env, client_env


def _docker_run_lines(
    head: Sequence[str],
    env: Sequence[tuple[str, str]],
    rest: Sequence[str],
    env_dir: str,
    stem: str,
    where: str,
    on_error: str = "",
) -> list[str]:
    """``docker run HEAD <env flags> REST`` with the environment passed as data (``env_routes``):
    the files are written, docker runs, the files are removed whether it succeeded or not, then a
    failure stops the unit (with ``on_error``, a ``fail(...)`` block, when given)."""
    if not env:
        return [f"{sh([*head, *rest])} >/dev/null" + (f" || {on_error}" if on_error else "")]
    file_env, client_env = env_routes(env, where)
    files: dict[str, str] = {}
    flags: list[str] = []
    if file_env:
        files[f"{stem}.env"] = ENV_FILE_HEADER + "".join(f"{k}={v}\n" for k, v in file_env)
        flags += ["--env-file", f"{env_dir}/{stem}.env"]
    reads: list[str] = []
    for i, (k, v) in enumerate(client_env):
        assert _SHELL_NAME.fullmatch(k)  # the one value written into shell text unquoted: a checked name
        files[f"{stem}.{i}"] = v
        flags += ["-e", k]
        reads.append(f"{k}=$(cat {shlex.quote(f'{env_dir}/{stem}.{i}')} && echo x) && {k}=${{{k}%x}} && export {k}")
    run = sh([*head, *flags, *rest])
    if reads:
        run = "( " + " && ".join([*reads, f"exec {run}"]) + " )"
    return [
        write_private(env_dir, files),
        "kcli_rc=0",
        f"{run} >/dev/null || kcli_rc=$?",
        sh(("rm", "-f", *(f"{env_dir}/{name}" for name in files))),
        '[ "$kcli_rc" -eq 0 ] || ' + (on_error or 'exit "$kcli_rc"'),
    ]


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


def _env_value(
    e: EnvVar,
    pod: DesiredPod,
    uid: str,
    place: PodPlacement,
    configs: Mapping[ObjectKey, ConfigMap | Secret],
    env: Mapping[str, str],
    default_container: str = "",
) -> str | None:
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
        return resource_field_value(e.resource_field_ref, pod, place, default_container)
    return ""


def resource_field_value(
    ref: ResourceFieldRef, pod: DesiredPod, place: PodPlacement, default_container: str = ""
) -> str:
    """A container's request or limit as the downward API gives it (kubelet's rules): rounded up
    to a whole ``divisor`` (cpu: 1 core unless set; memory: 1 byte), a limit that is not set is
    the node's allocatable."""
    name = ref.container_name or default_container
    c = next((x for x in (*pod.spec.containers, *pod.spec.init_containers) if x.name == name), None)
    if c is None:
        raise PlanError(f"pod {pod.namespace}/{pod.name}: resourceFieldRef: no container {name!r}")
    kind, _, resource = ref.resource.partition(".")
    values = c.resources.limits if kind == "limits" else c.resources.requests
    value = values.get(resource, 0)
    if not value and kind == "limits":
        value = {"cpu": place.cpu_milli, "memory": place.memory}.get(resource, 0)
    try:
        divisor = (
            resource_value(resource, ref.divisor or "1")
            if ref.divisor not in ("", "1")
            else (1000 if resource == "cpu" else 1)
        )
    except ValueError:
        raise PlanError(f"pod {pod.namespace}/{pod.name}: resourceFieldRef divisor {ref.divisor!r}") from None
    return str(-(-int(value) // max(1, int(divisor))))


def resource_flags(c: Container) -> list[str]:
    """kubelet's mapping (docs/k8s-reference.md §8.4): shares from requests, quota from limits, memory without swap."""
    req, lim = c.resources.requests, c.resources.limits
    flags = ["--cpu-shares", str(max(2, req.get("cpu", 0) * 1024 // 1000))]
    if lim.get("cpu"):
        flags += ["--cpu-period", "100000", "--cpu-quota", str(max(1000, lim["cpu"] * 100))]
    if lim.get("memory"):
        flags += ["--memory", str(lim["memory"]), "--memory-swap", str(lim["memory"])]
    return flags


# --------------------------------------------------------------------------- securityContext


def security_flags(pod: DesiredPod, c: Container) -> list[str]:
    """docker run flags of a container's effective securityContext (the pod's under the container's)."""
    sc = effective_security_context(pod.spec.security_context, c.security_context)
    flags: list[str] = []
    if sc.run_as_user is not None:  # runAsGroup alone is warned at validation: docker needs the user
        group = f":{int(sc.run_as_group)}" if sc.run_as_group is not None else ""
        flags += ["--user", f"{int(sc.run_as_user)}{group}"]
    groups = ([sc.fs_group] if sc.fs_group is not None else []) + list(sc.supplemental_groups)
    for gid in dict.fromkeys(int(g) for g in groups):
        flags += ["--group-add", str(gid)]
    if sc.read_only_root_filesystem:
        flags.append("--read-only")
    if sc.allow_privilege_escalation is False:
        flags += ["--security-opt", "no-new-privileges"]
    if sc.seccomp == "Unconfined":  # RuntimeDefault is docker's default profile
        flags += ["--security-opt", "seccomp=unconfined"]
    if sc.privileged:
        flags.append("--privileged")
    for flag, names in (("--cap-drop", sc.cap_drop), ("--cap-add", sc.cap_add)):
        for raw in names:
            name = capability_name(raw)
            if name is None:
                raise PlanError(
                    f"pod {pod.namespace}/{pod.name}: container {c.name}: {raw!r} is not a Linux capability"
                )
            flags += [flag, name]
    return flags


def sysctl_flags(pod: DesiredPod) -> list[str]:
    """The pod's sysctls (validated: Kubernetes' safe set), for the container owning its namespaces."""
    sc = pod.spec.security_context
    return [w for name, value in (sc.sysctls if sc else ()) for w in ("--sysctl", f"{normalize_sysctl(name)}={value}")]


def _kubelet_pod(pod: DesiredPod, uid: str, c: Container) -> str:
    """How kubelet names a pod and container in its errors: ``(pod: "NAME_NS(UID)", container: C)``."""
    return f'(pod: "{pod.name}_{pod.namespace}({uid})", container: {c.name})'


def run_as_non_root_lines(pod: DesiredPod, uid: str) -> list[str]:
    """kubelet's runAsNonRoot check, before any container starts: a runAsUser of 0 is refused here,
    no runAsUser means the image's user is read on the node (after the pulls): empty or 0 is root,
    a name cannot be verified; either fails the create with CreateContainerConfigError."""
    lines: list[str] = []
    for c in (*pod.spec.init_containers, *pod.spec.containers):
        sc = effective_security_context(pod.spec.security_context, c.security_context)
        if not sc.run_as_non_root or (sc.run_as_user is not None and sc.run_as_user != 0):
            continue
        who = _kubelet_pod(pod, uid, c)
        if sc.run_as_user == 0:
            raise PlanError(f"pod {pod.namespace}/{pod.name}: container's runAsUser breaks non-root policy {who}")
        root = fail("CreateContainerConfigError:", f"container has runAsNonRoot and image will run as root {who}")
        named = (
            "{ printf '%s%s%s\\n' "
            + shlex.quote("CreateContainerConfigError: container has runAsNonRoot and image has non-numeric user (")
            + ' "${kcli_user%%:*}" '
            + shlex.quote(f"), cannot verify user is non-root {who}")
            + " >&2; exit 1; }"
        )
        lines += [
            f"kcli_user=$({sh(('docker', 'image', 'inspect', '-f', '{{.Config.User}}', c.image))})",
            f"case ${{kcli_user%%:*}} in '') {root};; *[!0-9]*) {named};; *[!0]*) ;; *) {root};; esac",
        ]
    return lines


def _fs_group_lines(pod: DesiredPod, paths: Mapping[str, str]) -> list[str]:
    """fsGroup as kubelet applies it to the volumes it makes: group-owned by it, group-readable
    (group-writable: emptyDir), directories setgid so new files keep the group. Not hostPath."""
    sc = pod.spec.security_context
    if sc is None or sc.fs_group is None:
        return []
    gid = str(int(sc.fs_group))
    lines: list[str] = []
    for v in pod.spec.volumes:
        if v.source == "emptyDir":
            lines += [sh(("chgrp", gid, paths[v.name])), sh(("chmod", "g+rwxs", paths[v.name]))]
        elif v.source in ("configMap", "secret"):
            lines += [
                sh(("chgrp", "-R", gid, paths[v.name])),
                sh(("chmod", "-R", "g+rX", paths[v.name])),
                sh(("chmod", "g+s", paths[v.name])),
            ]
        elif v.source == "persistentVolumeClaim":  # fsGroupChangePolicy Always: the whole volume
            lines += [
                sh(("chgrp", "-R", gid, paths[v.name])),
                sh(("chmod", "-R", "g+rwX", paths[v.name])),
                sh(("chmod", "g+s", paths[v.name])),
            ]
    return lines


def _relative(path: str, what: str, pod: DesiredPod) -> str:
    """A relative path that stays below its directory (no absolute path, no '..' element)."""
    if not path or path.startswith("/") or ".." in path.split("/") or "\0" in path:
        raise PlanError(f"pod {pod.namespace}/{pod.name}: {what} {path!r} must be a relative path without '..'")
    return path


def _downward_field(path: str, pod: DesiredPod, uid: str, place: PodPlacement) -> str:
    """A downwardAPI file's content: all labels or annotations as kubelet writes them (sorted
    ``key="value"`` lines, values Go-quoted), else the field's value."""
    if path in ("metadata.labels", "metadata.annotations"):
        src = pod.labels if path == "metadata.labels" else pod.annotations
        return "\n".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(src.items()))
    return _field_ref(path, pod, uid, place)


def _volume_lines(
    pod: DesiredPod,
    uid: str,
    configs: Mapping[ObjectKey, ConfigMap | Secret],
    claim_paths: Mapping[str, str] | None = None,
    place: PodPlacement | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Lines that materialise the pod's volumes on the node, and volume name → host path."""
    lines: list[str] = []
    paths: dict[str, str] = {}
    base = f"{POD_DIR}/{uid}/volumes"
    for v in pod.spec.volumes:
        if "/" in v.name or v.name in ("", ".", ".."):
            raise PlanError(f"pod {pod.namespace}/{pod.name}: volume name {v.name!r} cannot name a directory")
        if v.source == "emptyDir":
            p = f"{base}/empty-dir/{v.name}"
            lines.append(sh(("mkdir", "-p", p)))
            if v.medium == "Memory":
                size = [f"size={int(v.size_limit)}"] if v.size_limit else []
                lines.append(
                    f"mountpoint -q {shlex.quote(p)} || {sh(('mount', '-t', 'tmpfs', '-o', ','.join(['mode=0777', *size]), 'tmpfs', p))}"
                )
            else:
                lines.append(sh(("chmod", "0777", p)))
            paths[v.name] = p
        elif v.source == "downwardAPI":
            p = f"{base}/downward-api/{v.name}"
            lines.append(sh(("mkdir", "-p", p)))
            for f in v.downward:
                rel = _relative(f.path, f"volume {v.name}: item path", pod)
                where = place or PodPlacement("", "", "")
                value = (
                    resource_field_value(f.resource, pod, where)
                    if f.resource is not None
                    else _downward_field(f.field_path, pod, uid, where)
                )
                lines.append(
                    write_file(f"{p}/{rel}", value, f"{int(f.mode if f.mode is not None else v.default_mode):04o}")
                )
            paths[v.name] = p
        elif v.source == "persistentVolumeClaim":
            p = (claim_paths or {}).get(v.ref_name, "")
            if not p.startswith("/"):
                raise PlanError(f"pod {pod.namespace}/{pod.name}: persistentvolumeclaim {v.ref_name!r} has no volume")
            lines.append(
                sh(("mkdir", "-p", p))
            )  # provisioned at first use; a pre-created volume's directory may be new
            paths[v.name] = p
        elif v.source == "hostPath":
            if not v.path.startswith("/"):
                raise PlanError(f"pod {pod.namespace}/{pod.name}: hostPath {v.path!r} must be an absolute path")
            if v.host_path_type == "DirectoryOrCreate":
                lines.append(sh(("mkdir", "-p", v.path)))
            elif v.host_path_type == "FileOrCreate":
                parent = v.path.rsplit("/", 1)[0] or "/"
                lines.append(
                    f"[ -e {shlex.quote(v.path)} ] || {{ {sh(('mkdir', '-p', parent))} && {sh(('touch', v.path))}; }}"
                )
            elif v.host_path_type in ("Directory", "File", "Socket", "CharDevice", "BlockDevice"):
                test = {"Directory": "-d", "File": "-f", "Socket": "-S", "CharDevice": "-c", "BlockDevice": "-b"}[
                    v.host_path_type
                ]
                lines.append(
                    f"[ {test} {shlex.quote(v.path)} ] || {fail('hostPath', v.path, 'is not a', v.host_path_type)}"
                )
            paths[v.name] = v.path
        elif v.source in ("configMap", "secret"):
            kind = "ConfigMap" if v.source == "configMap" else "Secret"
            obj = configs.get(ObjectKey(kind, pod.namespace, v.ref_name))
            secret = kind == "Secret"
            p = f"{SECRET_DIR}/{uid}/secret/{v.name}" if secret else f"{base}/configmap/{v.name}"
            if secret:  # the files are 0644 as in Kubernetes: on the host, only root may reach them
                lines.append(f"{sh(('mkdir', '-p', SECRET_DIR))} && {sh(('chmod', '0700', SECRET_DIR))}")
            lines.append(sh(("mkdir", "-p", p)))
            if obj is None:
                if not v.optional:
                    raise _not_applied(kind, pod.namespace, v.ref_name, pod)
            else:
                data: dict[str, str | bytes] = (
                    dict(obj.data)
                    if isinstance(obj, Secret)
                    else {**dict(obj.data), **{k: b for k, b in obj.binary_data.items()}}
                )
                items = v.items or tuple(KeyToPath(k, k) for k in sorted(data))
                for it in items:
                    if it.key not in data:
                        if v.optional:
                            continue
                        raise PlanError(f"pod {pod.namespace}/{pod.name}: {kind} {v.ref_name} has no key {it.key!r}")
                    raw = data[it.key]
                    mode = it.mode if it.mode is not None else v.default_mode  # defaultMode: 0644 unless set
                    rel = _relative(it.path, f"volume {v.name}: item path", pod)
                    lines.append(write_file(f"{p}/{rel}", raw, f"{int(mode):04o}"))
            if secret:  # written last: its absence says the files are gone (a reboot empties the tmpfs)
                lines.append(sh(("touch", secret_volume_mark(uid, v.name))))
            paths[v.name] = p
        else:
            raise PlanError(f"pod {pod.namespace}/{pod.name}: volume {v.name} ({v.source}) is not supported")
    return lines + _fs_group_lines(pod, paths), paths


def _mounts(c: Container, paths: Mapping[str, str], pod: DesiredPod) -> list[str]:
    out: list[str] = []
    for m in c.volume_mounts:
        if m.name not in paths:
            raise PlanError(f"pod {pod.namespace}/{pod.name}: container {c.name} mounts unknown volume {m.name}")
        src = paths[m.name] + (f"/{_relative(m.sub_path, 'subPath', pod)}" if m.sub_path else "")
        if ":" in src or ":" in m.mount_path:
            raise PlanError(
                f"pod {pod.namespace}/{pod.name}: container {c.name}: docker -v cannot mount "
                f"{src!r} at {m.mount_path!r}: a path with ':' is not supported"
            )
        ro = m.read_only or any(
            v.name == m.name and (v.source in ("configMap", "secret") or v.read_only) for v in pod.spec.volumes
        )
        out += ["-v", f"{src}:{m.mount_path}{':ro' if ro else ''}"]
    return out


LAYOUT_LABEL = "io.kcli.layout"


SECRET_VOLUMES_LABEL = "io.kcli.secret-volumes"  # the pod's secret volumes, checked by their marks


def secret_volume_mark(uid: str, volume: str) -> str:
    """The file that says a pod's secret volume was written (beside it, unseen by the container)."""
    return f"{SECRET_DIR}/{uid}/secret/.{volume}.ok"


PROBES_LABEL = "io.kcli.probes"  # on the pause container: the containers its healthcheck probes
PROBE_STATE = "/.kcli-probe-state"
PROBE_MARK = "KCLI_CONTAINER"  # env var by which kcli-probe finds a container's processes


def uses_pause(pod: DesiredPod) -> bool:
    """Whether the pod needs a pause container (see the module docstring): several containers
    share its namespaces, init containers run in it before the app, or it has probes (dockerd's
    healthcheck runs them in the pause container, in the pod's network namespace)."""
    spec = pod.spec
    return (
        bool(spec.init_containers)
        or len(spec.containers) != 1
        or spec.share_process_namespace
        or any(c.readiness_probe or c.startup_probe or c.liveness_probe for c in spec.containers)
    )


def probes_act_in_containers(pod: DesiredPod) -> bool:
    """Liveness and exec probes reach into the app containers (kill them, run a command in their
    root): those pods' containers join the pause container's PID namespace and carry
    ``KCLI_CONTAINER=<name>`` in their environment, so kcli-probe can find their processes."""
    return any(
        pr is not None and (kind == "l" or pr.type == "exec")
        for c in pod.spec.containers
        for kind, pr in (("s", c.startup_probe), ("r", c.readiness_probe), ("l", c.liveness_probe))
    )


def probe_flags(pod: DesiredPod) -> tuple[list[str], list[str]]:
    """(docker run flags of the pause container's healthcheck, probed containers). The health
    command is shell text (docker runs CMD-SHELL): every word in it is quoted."""
    words: list[str] = []
    probed: list[str] = []
    timeout = 1
    for c in pod.spec.containers:
        for kind, pr in (("s", c.startup_probe), ("r", c.readiness_probe), ("l", c.liveness_probe)):
            if pr is None:
                continue
            port = pr.port
            if pr.type == "exec":
                if not pr.command or any("\x1f" in w or "\0" in w for w in pr.command):
                    raise PlanError(
                        f"pod {pod.namespace}/{pod.name}: container {c.name}: an exec probe needs a command "
                        "without \\x1f or NUL characters"
                    )
                words += [
                    kind,
                    c.name,
                    "exec",
                    "0",
                    "\x1f".join(pr.command),
                    str(pr.timeout),
                    str(pr.period),
                    str(pr.initial_delay),
                    str(pr.success),
                    str(pr.failure),
                    "-",
                ]
                timeout = max(timeout, pr.timeout)
                probed.append(c.name)
                continue
            if isinstance(port, str):
                port = (
                    next((q.container_port for q in c.ports if q.name == port), 0) if not port.isdigit() else int(port)
                )
            if not port or not 0 < int(port) < 65536:
                raise PlanError(
                    f"pod {pod.namespace}/{pod.name}: container {c.name}: probe port {pr.port!r} is not a "
                    "port of the container"
                )
            headers = "\n".join(f"{k}: {v}" for k, v in pr.headers)
            if any(ch in headers for ch in "\r\0"):
                raise PlanError(
                    f"pod {pod.namespace}/{pod.name}: container {c.name}: a probe header holds a control character"
                )
            words += [
                kind,
                c.name,
                pr.type,
                str(port),
                pr.path or "/",
                str(pr.timeout),
                str(pr.period),
                str(pr.initial_delay),
                str(pr.success),
                str(pr.failure),
                headers or "-",
            ]
            timeout = max(timeout, pr.timeout)
            probed.append(c.name)
    if not words:
        return [], []
    cmd = "exec /kcli-probe " + " ".join(shlex.quote(w) for w in [PROBE_STATE, *words])
    return [
        "--health-cmd",
        cmd,
        "--health-interval",
        "1s",
        "--health-timeout",
        f"{timeout + 1}s",
        "--health-retries",
        "1",
        "--health-start-period",
        "0s",
    ], list(dict.fromkeys(probed))


def image_var(image: str) -> str:
    """The shell variable a batch's prelude sets to 1 when ``image`` is present on the node."""
    return "kcli_img_" + hashlib.sha256(image.encode()).hexdigest()[:16]


def image_prelude(pod: DesiredPod, pause: bool | None = None) -> tuple[str, ...]:
    """Lines a batch runs once per image (not once per pod): is the image on the node? The pod's
    own lines read the answer and only ask docker again when the prelude did not run or said no."""
    images = ([PAUSE_IMAGE] if (uses_pause(pod) if pause is None else pause) else []) + [
        c.image for c in (*pod.spec.init_containers, *pod.spec.containers) if c.image_pull_policy != "Always"
    ]
    return tuple(
        f"{image_var(i)}=0; {sh(('docker', 'image', 'inspect', i))} >/dev/null 2>&1 && {image_var(i)}=1"
        for i in dict.fromkeys(images)
    )


def _pull_lines(images: Sequence[tuple[str, str]], pull_secrets: Sequence[Secret]) -> list[str]:
    """Image pulls per imagePullPolicy, with imagePullSecrets as a throw-away docker config on tmpfs."""
    lines: list[str] = []
    auth = ""
    if pull_secrets:
        merged: dict[str, dict[str, Any]] = {"auths": {}}
        for s in pull_secrets:
            raw = s.data.get(".dockerconfigjson") or s.data.get(".dockercfg") or b"{}"
            try:
                doc = json.loads(raw.decode())
            except ValueError:
                doc = {}
            merged["auths"].update(doc.get("auths", doc))
        cfg = json.dumps(merged)
        lines.append('cfg=$(mktemp -d /run/kcli/dockercfg.XXXXXX) && chmod 700 "$cfg"')
        lines.append(
            f'printf %s {shlex.quote(base64.b64encode(cfg.encode()).decode())} | base64 -d > "$cfg/config.json"'
        )
        auth = '--config "$cfg" '  # constant text: the directory is a shell variable set above
    for image, policy in images:
        have = f'{{ [ "${{{image_var(image)}:-0}}" = 1 ] || {sh(("docker", "image", "inspect", image))} >/dev/null 2>&1; }}'
        pull = f"docker {auth}{sh(('pull', '-q', image))} >/dev/null || {fail('ErrImagePull:', image)}"
        if policy == "Always":
            lines.append(pull)
        elif policy == "Never":
            lines.append(
                f"{have} || {fail('ErrImageNeverPull:', image, 'is not present and imagePullPolicy is Never')}"
            )
        else:
            lines.append(f"{have} || {pull}")
    if pull_secrets:
        lines.append('rm -rf "$cfg"')
    return lines


def _run_args(c: Container, env: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(flags, image+args): command → entrypoint, args → cmd, like kubelet. The environment is
    not among the flags: ``_docker_run_lines`` passes it as data."""
    flags: list[str] = []
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


class HostPortLabel(TypedDict):
    """One published host port as the ``io.kcli.host-ports`` label lists it (read back by kcli.core.facts.pods)."""

    port: int
    protocol: str
    ip: str


def create_pod_lines(
    pod: DesiredPod,
    place: PodPlacement,
    configs: Mapping[ObjectKey, ConfigMap | Secret],
    *,
    dns_args: Sequence[str] = (),
    service_env: Sequence[tuple[str, str]] = (),
    pause: bool | None = None,
    claim_paths: Mapping[str, str] | None = None,
) -> list[str]:
    """Everything to start one pod on its node, in order, as shell lines (run under ``set -e``).
    ``pause``: the layout (module docstring); None picks it from the pod (``uses_pause``).
    ``claim_paths``: claim name → its directory on the node (kcli.core.volumes)."""
    spec = pod.spec
    uid = pod_uid(pod)
    pause = uses_pause(pod) if pause is None else pause
    if not pause and (len(spec.containers) != 1 or spec.init_containers or spec.share_process_namespace):
        raise PlanError(f"pod {pod.namespace}/{pod.name}: only a pod of one container runs without a pause container")
    sandbox = container_name("POD", pod, uid)
    volume_lines, paths = _volume_lines(pod, uid, configs, claim_paths or {}, place)
    pull_secrets = []
    for name in spec.image_pull_secrets:
        s = configs.get(ObjectKey("Secret", pod.namespace, name))
        if isinstance(s, Secret):
            pull_secrets.append(s)
    images: dict[str, str] = {PAUSE_IMAGE: "Never"} if pause else {}
    for c in spec.init_containers + spec.containers:
        if not c.image or c.image.startswith("-") or any(ch.isspace() or not ch.isprintable() for ch in c.image):
            raise PlanError(f"pod {pod.namespace}/{pod.name}: container {c.name}: invalid image reference {c.image!r}")
        images.setdefault(c.image, c.image_pull_policy)
    req_cpu = sum(c.resources.requests.get("cpu", 0) for c in spec.containers)
    req_mem = sum(c.resources.requests.get("memory", 0) for c in spec.containers)
    host_ports: list[HostPortLabel] = [
        {"port": p.host_port, "protocol": p.protocol, "ip": p.host_ip}
        for c in spec.containers
        for p in c.ports
        if p.host_port
    ]
    sandbox_labels = pod_labels(
        pod,
        uid,
        "sandbox",
        "POD",
        {
            "io.kcli.pod-labels": json.dumps(dict(pod.labels), sort_keys=True),
            "io.kcli.containers": ",".join(c.name for c in spec.containers),
            "io.kcli.init-containers": ",".join(c.name for c in spec.init_containers),
            "io.kcli.restart-policy": spec.restart_policy,
            "io.kcli.requests": json.dumps({"cpu": req_cpu, "memory": req_mem}),
            "io.kcli.host-ports": json.dumps(host_ports),
            "io.kcli.ports": json.dumps(
                [
                    {"name": p.name, "containerPort": p.container_port, "protocol": p.protocol}
                    for c in spec.containers
                    for p in c.ports
                ]
            ),
            "io.kcli.node": place.node,
            GRACE_LABEL: str(int(spec.termination_grace_period_seconds)),
            **(
                {SECRET_VOLUMES_LABEL: ",".join(v.name for v in spec.volumes if v.source == "secret")}
                if any(v.source == "secret" for v in spec.volumes)
                else {}
            ),
        },
    )
    net: list[str] = []  # the pod's network: on the pause container, or on its one container
    if spec.host_network:
        net += ["--network", "host"]
    else:
        net += ["--network", POD_NETWORK, "--ip", place.ip, "--hostname", spec.hostname or pod.name, *dns_args]
        if spec.subdomain:  # /etc/hosts: IP HOSTNAME.SUBDOMAIN.NS.svc.cluster.local HOSTNAME, as kubelet writes it
            net += ["--domainname", f"{spec.subdomain}.{pod.namespace}.svc.cluster.local"]
        for hp in host_ports:
            port = next(
                p.container_port
                for c in spec.containers
                for p in c.ports
                if p.host_port == hp["port"] and p.protocol == hp["protocol"]
            )
            bind = f"{hp['ip']}:" if hp["ip"] else ""
            net += ["-p", f"{bind}{hp['port']}:{port}/{hp['protocol'].lower()}"]
    for a in spec.host_aliases:
        try:
            ip = str(ipaddress.ip_address(a.ip))
        except ValueError:
            raise PlanError(f"pod {pod.namespace}/{pod.name}: hostAliases ip {a.ip!r} is not an IP address") from None
        for hn in a.hostnames:
            if not _HOSTNAME.fullmatch(hn):
                raise PlanError(f"pod {pod.namespace}/{pod.name}: hostAliases hostname {hn!r} is not a DNS name")
            net += ["--add-host", f"{hn}:{ip}"]
    net += sysctl_flags(pod)  # on the container that owns the network (and IPC) namespace
    lines = [*volume_lines, *_pull_lines(list(images.items()), pull_secrets), *run_as_non_root_lines(pod, uid)]
    restart = {"Always": "always", "OnFailure": "on-failure", "Never": "no"}[spec.restart_policy]
    env_dir = f"{SECRET_DIR}/{uid}/env"
    if not pause:
        c = spec.containers[0]
        env = container_env(c, pod, uid, place, configs, service_env)
        flags, tail = _run_args(c, env)
        labels = pod_labels(
            pod,
            uid,
            "container",
            c.name,
            {
                **{
                    k: v
                    for k, v in sandbox_labels.items()
                    if k
                    not in (
                        "io.kcli.container",
                        "io.kcli.type",
                        "io.kubernetes.container.name",
                        "io.kubernetes.docker.type",
                    )
                },
                LAYOUT_LABEL: "single",
                **_pre_stop_label(c),
            },
        )
        return lines + _docker_run_lines(
            [
                "docker",
                "run",
                "-d",
                "--name",
                container_name(c.name, pod, uid),
                "--init",
                "--restart",
                restart,
                *net,
                *resource_flags(c),
                *security_flags(pod, c),
                *_mounts(c, paths, pod),
            ],
            env,
            [*flags, *_label_args(labels), *tail],
            env_dir,
            "container-0",
            f"pod {pod.namespace}/{pod.name}: container {c.name}",
        )
    health, probed = probe_flags(pod)
    if probed:
        sandbox_labels[PROBES_LABEL] = ",".join(probed)
    lines.append(
        sh(
            [
                "docker",
                "run",
                "-d",
                "--name",
                sandbox,
                "--restart",
                "always",
                "--init",
                *net,
                *health,
                "--ipc",
                "shareable",
                *_label_args(sandbox_labels),
                PAUSE_IMAGE,
            ]
        )
    )
    shared = ["--network", f"container:{sandbox}", "--ipc", f"container:{sandbox}"]
    acting = probes_act_in_containers(pod)
    if spec.share_process_namespace or acting:
        shared += ["--pid", f"container:{sandbox}"]
    for i, c in enumerate(spec.init_containers):
        env = container_env(c, pod, uid, place, configs, service_env)
        flags, tail = _run_args(c, env)
        name = container_name(c.name, pod, uid)
        labels = pod_labels(pod, uid, "init", c.name)
        # a native sidecar (restartPolicy Always, Kubernetes 1.29+): started in its turn and kept
        # running beside the app containers, restarted by docker; the next init container follows it
        detach = ["-d", "--restart", "always"] if c.restart_policy == "Always" else []
        lines += _docker_run_lines(
            [
                "docker",
                "run",
                *detach,
                "--name",
                name,
                "--init",
                *shared,
                *resource_flags(c),
                *security_flags(pod, c),
                *_mounts(c, paths, pod),
            ],
            env,
            [*flags, *_label_args(labels), *tail],
            env_dir,
            f"init-{i}",
            f"pod {pod.namespace}/{pod.name}: init container {c.name}",
            fail("init container", c.name, "failed"),
        )
    for i, c in enumerate(spec.containers):
        env = container_env(c, pod, uid, place, configs, service_env)
        if acting:
            env = [*env, (PROBE_MARK, c.name)]
        flags, tail = _run_args(c, env)
        name = container_name(c.name, pod, uid)
        labels = pod_labels(pod, uid, "container", c.name, _pre_stop_label(c))
        lines += _docker_run_lines(
            [
                "docker",
                "run",
                "-d",
                "--name",
                name,
                "--init",
                "--restart",
                restart,
                *shared,
                *resource_flags(c),
                *security_flags(pod, c),
                *_mounts(c, paths, pod),
            ],
            env,
            [*flags, *_label_args(labels), *tail],
            env_dir,
            f"container-{i}",
            f"pod {pod.namespace}/{pod.name}: container {c.name}",
        )
    return lines


def delete_pod_lines(uid: str, grace: int = 30) -> list[str]:
    """Stop (grace capped), remove the pod's containers, its volumes and secret files, finding the
    containers by the pod's uid label (the undo of a half-created pod).

    ``uid`` comes from a container label read back from the node: it is quoted like any value,
    and the directories are removed only when it is a plain name (no '/', no '..')."""
    ps = sh(("docker", "ps", "-aq", "--filter", f"label=io.kcli.pod-uid={uid}"))
    t = str(int(min(grace, STOP_GRACE_CAP)))
    return [
        f'ids=$({ps}); if [ -n "$ids" ]; then docker stop -t {t} $ids >/dev/null 2>&1 || true; docker rm -f -v $ids >/dev/null; fi',
        *_pod_dir_lines(uid),
    ]


@dataclass(frozen=True)
class PodContainers:
    """A pod to delete as its node reported it: uid and container ids, app containers apart."""

    uid: str
    apps: tuple[str, ...]  # stopped first, with the grace period
    others: tuple[str, ...] = ()  # pause and init containers: removed with them
    grace: int | None = None  # terminationGracePeriodSeconds (None: the caller's default)
    pre_stop: tuple[tuple[str, dict[str, Any]], ...] = ()  # (app container id, {"exec": [...]} | {"sleep": N})


_CONTAINER_ID = re.compile(r"[0-9a-f]{12,64}")
GRACE_LABEL = "io.kcli.grace"  # on the container holding the pod
PRE_STOP_LABEL = "io.kcli.pre-stop"  # on an app container: its preStop hook as JSON


def pre_stop_of(c: Container) -> dict[str, Any] | None:
    """The preStop hook kcli runs before stopping a container: exec (in it) or sleep."""
    if c.pre_stop_exec:
        return {"exec": list(c.pre_stop_exec)}
    if c.pre_stop_sleep is not None:
        return {"sleep": int(c.pre_stop_sleep)}
    return None


def _pre_stop_label(c: Container) -> dict[str, str]:
    hook = pre_stop_of(c)
    return {PRE_STOP_LABEL: json.dumps(hook, sort_keys=True)} if hook else {}


def _pre_stop_line(cid: str, hook: Mapping[str, Any], grace: int) -> str:
    """One hook, bounded by the grace period (kubelet's preStop), errors ignored as kubelet does."""
    if "sleep" in hook:
        return f"sleep {int(min(max(0, int(hook['sleep'])), grace))}"
    words = [str(w) for w in hook.get("exec") or []]
    if not words:
        return "true"
    return f"timeout {int(grace)} {sh(('docker', 'exec', cid, *words))} >/dev/null 2>&1"


def delete_pods_lines(pods: Sequence[PodContainers], grace: int = 30) -> list[str]:
    """Delete several pods of one node: their preStop hooks (exec in the container, or sleep),
    then one ``docker stop`` per grace period of their app containers (SIGTERM, SIGKILL after each
    pod's terminationGracePeriodSeconds, as kubelet does; docker stops them in parallel) and one
    ``docker rm -f -v`` of all their containers, then each pod's directories. When that ``rm``
    fails (a container went away or appeared since the node was read), each pod's containers are
    found again by its uid label and removed."""
    every = [i for p in pods for i in (*p.apps, *p.others)]
    for i in every + [cid for p in pods for cid, _ in p.pre_stop]:
        if not _CONTAINER_ID.fullmatch(i):
            raise PlanError(f"container id {i!r} is not a docker container id")
    lines = []
    hooks = [
        f"( {_pre_stop_line(cid, hook, p.grace if p.grace is not None else grace)} ) &"
        for p in pods
        for cid, hook in p.pre_stop
    ]
    if hooks:  # preStop hooks first, all pods at once, then SIGTERM
        lines.append(" ".join(hooks) + " wait")
    by_grace: dict[int, list[str]] = {}
    for p in pods:
        by_grace.setdefault(int(p.grace if p.grace is not None else grace), []).extend(p.apps)
    stops = [
        f"{sh(('docker', 'stop', '-t', str(max(0, t)), *ids))} >/dev/null 2>&1"
        for t, ids in sorted(by_grace.items())
        if ids
    ]
    if stops:  # docker stops each group's containers in parallel; the groups run side by side
        lines.append(" & ".join(stops) + " & wait" if len(stops) > 1 else stops[0] + " || true")
    again = " ".join(shlex.quote(p.uid) for p in pods)
    retry = (
        f'for u in {again}; do ids=$(docker ps -aq --filter "label=io.kcli.pod-uid=$u"); '
        'if [ -n "$ids" ]; then docker rm -f -v $ids >/dev/null; fi; done'
    )
    if every:
        lines.append(f"if ! {sh(('docker', 'rm', '-f', '-v', *every))} >/dev/null 2>&1; then {retry}; fi")
    else:
        lines.append(retry)
    return lines + _pod_dir_lines(*(p.uid for p in pods))


def _pod_dir_lines(*uids: str) -> list[str]:
    """Unmount what is mounted below the pods' directories, then remove them and their secret files."""
    safe = [u for u in uids if _SAFE_UID.fullmatch(u)]
    if not safe:
        return []
    # mount points below a pod's directory (mount points with odd bytes are octal-escaped in
    # /proc/mounts; the pods' own never have any); each prefix is matched literally by case
    patterns = "|".join(shlex.quote(f"{POD_DIR}/{u}/") + "*" for u in safe)
    return [
        f"awk '{{print $2}}' /proc/mounts | while IFS= read -r m; do case $m in {patterns}) umount \"$m\" || true;; esac; done",
        sh(("rm", "-rf", *(d for u in safe for d in (f"{POD_DIR}/{u}", f"{SECRET_DIR}/{u}")))),
    ]
