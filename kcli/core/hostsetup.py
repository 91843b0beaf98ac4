"""Host preparation steps (kubeadm's runtime prerequisites): docker, modules, sysctls, daemon.json.

Reference: docs/k8s-reference.md §3.3. Each function compares the wanted state with HostFacts and
returns a Step whose lines are empty when nothing needs doing.
"""

from __future__ import annotations

import json
from typing import Any

from kcli.core.commands.shell import Step, sh, write_file
from kcli.core.facts.host import DAEMON_ABSENT_MARK, DAEMON_BACKUP, KERNEL_MODULES, MANAGED_FILES, HostFacts
from kcli.errors import PlanError

HEADER = "# Written by kcli bootstrap; removed by kcli reset.\n"
MODULES_CONF = HEADER + "".join(f"{m}\n" for m in KERNEL_MODULES)
SYSCTL_CONF = HEADER + (
    "net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n"
)
# kubelet's container log rotation defaults (containerLogMaxSize 10Mi, containerLogMaxFiles 5).
LOG_OPTS = {"max-size": "10m", "max-file": "5"}

RESTART_DOCKER = r"""old=$(cat /var/run/docker.pid 2>/dev/null || true)
if [ -d /run/systemd/system ] && systemctl is-active -q docker.service; then
  systemctl reset-failed docker.service docker.socket >/dev/null 2>&1 || true
  systemctl restart docker.service
elif [ -x /etc/init.d/docker ] && /etc/init.d/docker status >/dev/null 2>&1; then
  /etc/init.d/docker restart
elif [ -n "$old" ]; then
  kill "$old"  # dockerd runs under a supervisor (s6, runit, a loop), which starts it again
else
  echo "cannot restart docker: not a systemd or init.d service and no /var/run/docker.pid" >&2; exit 1
fi
i=0
while [ "$(cat /var/run/docker.pid 2>/dev/null)" = "$old" ] || ! docker info >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -le 300 ] || { echo "docker did not come back after restart" >&2; exit 1; }
  sleep 0.2
done"""

START_DOCKER = r"""if [ -d /run/systemd/system ]; then systemctl enable --now docker.service
elif [ -x /etc/init.d/docker ]; then /etc/init.d/docker start
else nohup dockerd >/var/log/dockerd.log 2>&1 &
fi
i=0
while ! docker info >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -le 300 ] || { echo "docker did not start" >&2; exit 1; }
  sleep 0.2
done"""


def docker_missing(f: HostFacts) -> bool:
    err = f.node.docker_error or ""
    return f.node.docker_version is None and ("not found" in err or "No such file" in err)


def plan_docker(host: str, f: HostFacts) -> Step:
    if f.node.docker_version:
        return Step(host, "docker", f"docker {f.node.docker_version} running")
    if not docker_missing(f):
        return Step(host, "docker", "docker installed but not answering: start it", (START_DOCKER,))
    if f.package_manager == "apt-get":
        install = "export DEBIAN_FRONTEND=noninteractive\napt-get update -qq\napt-get install -y -qq docker.io iptables iproute2"
    elif f.package_manager in ("dnf", "yum"):
        pm = f.package_manager
        install = f"{sh((pm, 'install', '-y', 'moby-engine', 'iptables', 'iproute'))} || {sh((pm, 'install', '-y', 'docker', 'iptables', 'iproute'))}"
    else:
        raise PlanError(f"{host}: docker is missing and no apt-get or dnf to install it")
    return Step(host, "docker", f"install docker with {f.package_manager}", (install, START_DOCKER))


def _same(content: str | None, wanted: str) -> bool:
    return content is not None and content.strip() == wanted.strip()


def plan_modules(host: str, f: HostFacts) -> Step:
    path = MANAGED_FILES["modules"]
    if _same(f.files.get("modules"), MODULES_CONF):
        return Step(host, "kernel-modules", f"{path} up to date")
    load = " ; ".join(f"{sh(('modprobe', m))} 2>/dev/null || true" for m in KERNEL_MODULES)
    return Step(
        host,
        "kernel-modules",
        f"write {path}, load {', '.join(KERNEL_MODULES)}",
        (write_file(path, MODULES_CONF), load),
    )


def plan_sysctls(host: str, f: HostFacts) -> Step:
    path = MANAGED_FILES["sysctl"]
    live_ok = f.sysctls.get("net.ipv4.ip_forward") == "1" and f.sysctls.get("net.bridge.bridge-nf-call-iptables") in (
        "1",
        "",
    )
    if _same(f.files.get("sysctl"), SYSCTL_CONF) and live_ok:
        return Step(host, "sysctls", f"{path} up to date, ip_forward=1")
    why = "write " + path if not _same(f.files.get("sysctl"), SYSCTL_CONF) else "re-apply (live values differ)"
    return Step(host, "sysctls", why, (write_file(path, SYSCTL_CONF), sh(("sysctl", "-q", "-e", "-p", path))))


def wanted_daemon_config(current: str | None, host: str) -> dict[str, Any]:
    try:
        cfg = json.loads(current) if current and current.strip() else {}
    except ValueError as exc:
        raise PlanError(f"{host}: {MANAGED_FILES['daemon']} is not valid JSON ({exc}); fix it first") from exc
    if not isinstance(cfg, dict):
        raise PlanError(f"{host}: {MANAGED_FILES['daemon']} must hold a JSON object")
    driver = cfg.get("log-driver", "json-file")
    if driver in ("json-file", "local"):
        cfg = {**cfg, "log-driver": driver, "log-opts": {**cfg.get("log-opts", {}), **LOG_OPTS}}
    return cfg


def plan_docker_config(host: str, f: HostFacts, docker_will_be_installed: bool = False) -> Step:
    path = MANAGED_FILES["daemon"]
    current = f.files.get("daemon")
    wanted = wanted_daemon_config(current, host)
    try:
        now = json.loads(current) if current and current.strip() else {}
    except ValueError:
        now = None
    if now == wanted:
        return Step(host, "docker-config", f"{path} up to date (no restart)")
    lines = []
    if f.daemon_backup == "none":
        lines.append(
            sh(("cp", "-p", path, DAEMON_BACKUP)) if current is not None else sh(("touch", DAEMON_ABSENT_MARK))
        )
    lines.append(write_file(path, json.dumps(wanted, indent=2, sort_keys=True) + "\n"))
    lines.append(RESTART_DOCKER)
    return Step(host, "docker-config", f"write {path} (log rotation like kubelet's), restart docker", tuple(lines))
