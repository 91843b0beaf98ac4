"""Node facts for `get nodes` / `describe node` / preflight: argv snippets and pure parsers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kcli.core.facts.sections import Section
from kcli.core.facts.view_script import DOCKER_VERSION_SNIPPET

NODE_SNIPPETS: dict[str, str] = {
    "hostname": "hostname",
    "os": '. /etc/os-release && echo "$PRETTY_NAME"',
    "kernel": "uname -r",
    "arch": "uname -m",
    "cpus": "nproc",
    "meminfo": "grep -E '^(MemTotal|MemAvailable):' /proc/meminfo",
    "uptime": "cat /proc/uptime",
    "now": "date +%s",
    "docker": DOCKER_VERSION_SNIPPET,
    "init": "[ -d /run/systemd/system ] && echo systemd || echo none",
}


@dataclass(frozen=True)
class NodeFacts:
    hostname: str = ""
    os_image: str = ""
    kernel: str = ""
    arch: str = ""
    cpus: int = 0
    memory_kib: int = 0
    memory_available_kib: int = 0
    uptime_seconds: float = 0.0
    now: int = 0
    docker_version: str | None = None
    docker_error: str | None = None
    init: str = "none"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def container_runtime(self) -> str:
        return f"docker://{self.docker_version}" if self.docker_version else "<unknown>"


def _text(sections: Mapping[str, Section], name: str) -> str:
    s = sections.get(name)
    return s.text.strip() if s and s.rc == 0 else ""


def _int(s: str) -> int:
    try:
        return int(s.split()[0])
    except (ValueError, IndexError):
        return 0


def parse_node_facts(sections: Mapping[str, Section]) -> NodeFacts:
    mem, avail = 0, 0
    for line in _text(sections, "meminfo").splitlines():
        key, _, rest = line.partition(":")
        if key == "MemTotal":
            mem = _int(rest)
        elif key == "MemAvailable":
            avail = _int(rest)
    docker_version, docker_error = None, None
    d = sections.get("docker")
    if d is None:
        docker_error = "docker not probed"
    elif d.rc != 0:
        docker_error = (d.text.strip().splitlines() or ["docker not answering"])[-1]
    else:
        try:
            docker_version = json.loads(d.text.strip().splitlines()[-1]).get("Version")
        except (ValueError, IndexError, AttributeError):
            docker_error = "unreadable docker version output"
    up = _text(sections, "uptime")
    try:
        uptime = float(up.split()[0]) if up else 0.0
    except ValueError:
        uptime = 0.0
    return NodeFacts(
        hostname=_text(sections, "hostname"),
        os_image=_text(sections, "os"),
        kernel=_text(sections, "kernel"),
        arch=_text(sections, "arch"),
        cpus=_int(_text(sections, "cpus")),
        memory_kib=mem,
        memory_available_kib=avail,
        uptime_seconds=uptime,
        now=_int(_text(sections, "now")),
        docker_version=docker_version,
        docker_error=docker_error,
        init=_text(sections, "init") or "none",
    )
