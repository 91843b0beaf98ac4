"""Host facts for bootstrap, preflight and overlay drift: snippets (one round trip) and parsers."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kcli.core.facts.node import NODE_SNIPPETS, NodeFacts, parse_node_facts
from kcli.core.facts.sections import Section
from kcli.core.facts.view_script import PODNET_SNIPPET
from kcli.core.network import VXLAN_DEV

MANAGED_FILES = {
    "modules": "/etc/modules-load.d/kcli.conf",
    "sysctl": "/etc/sysctl.d/99-kcli.conf",
    "daemon": "/etc/docker/daemon.json",
    "subnet_env": "/run/flannel/subnet.env",
}
DAEMON_BACKUP = "/etc/docker/daemon.json.kcli-orig"
DAEMON_ABSENT_MARK = "/etc/docker/daemon.json.kcli-absent"
SYSCTLS = ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables")
KERNEL_MODULES = ("overlay", "br_netfilter", "vxlan")
# iptables matches/targets kcli's rules use, probed with a harmless `-C` (reports a missing kernel match).
XT_PROBES = {
    "comment": "-m comment --comment kcli-probe",
    "statistic": "-m statistic --mode random --probability 0.5",
    "recent": "-m recent --name kcli-probe --rcheck --seconds 1",
    "conntrack": "-m conntrack --ctstate NEW",
    "addrtype": "-m addrtype --dst-type LOCAL",
    "mark": "-m mark --mark 0x4000/0x4000",
}


def host_snippets(address: str) -> dict[str, str]:
    """Everything bootstrap needs to know about one host, besides NODE_SNIPPETS."""
    a = shlex.quote(f"{address}/32")
    files = {f"file:{k}": f"cat {shlex.quote(p)}" for k, p in MANAGED_FILES.items()}
    xt = "; ".join(
        f"out=$(iptables -w -t filter -C INPUT {probe} -j ACCEPT 2>&1); "
        f'case "$out" in *"load"*|*"No chain/target/match"*|*"unknown option"*) echo {name}=missing;; *) echo {name}=ok;; esac'
        for name, probe in XT_PROBES.items()
    )
    kmods = "; ".join(
        f"if [ -d /sys/module/{m} ] || grep -qw '^{m}' /proc/modules 2>/dev/null || "
        + ("[ -d /proc/sys/net/bridge ] || " if m == "br_netfilter" else "")
        + ("grep -qw overlay /proc/filesystems || " if m == "overlay" else "")
        + f"modprobe -n {m} 2>/dev/null; then echo {m}=yes; else echo {m}=no; fi"
        for m in KERNEL_MODULES
    )
    return {
        **NODE_SNIPPETS,
        "uid": "id -u",
        "osrel": "cat /etc/os-release",
        "pkg": "command -v apt-get || command -v dnf || command -v yum || echo none",
        "uplink": (
            f"dev=$(ip -o -4 addr show to {a} | awk '{{print $2; exit}}'); [ -n \"$dev\" ] || exit 1; "
            f"echo \"$dev $(cat /sys/class/net/$dev/mtu) $(ip -o -4 addr show to {a} | awk '{{print $4; exit}}')\""
        ),
        "addrs": "ip -j -4 addr show",
        "routes": "ip -j -4 route show",
        "vxlan": f"ip -d -j link show {VXLAN_DEV}",
        "vxlan_addr": f"ip -j -4 addr show dev {VXLAN_DEV}",
        "neigh": f"ip -j neigh show dev {VXLAN_DEV}",
        "fdb": f"bridge -j fdb show dev {VXLAN_DEV}",
        "iptables": "iptables-save -t filter && iptables-save -t nat",
        "ipt_version": "iptables -V",
        "legacy_rules": "iptables-legacy-save 2>/dev/null | grep -c '^-A' || true",
        "xt": xt,
        "kmods": kmods,
        "sysctl": "; ".join(f"echo {k}=$(sysctl -n {k} 2>/dev/null)" for k in SYSCTLS),
        "disk": "df -Pk /var/lib/docker 2>/dev/null || df -Pk /",
        "clock": "date +%s.%N",
        "podnet": PODNET_SNIPPET,
        "daemon_backup": f"if [ -e {DAEMON_BACKUP} ]; then echo backup; elif [ -e {DAEMON_ABSENT_MARK} ]; then echo absent; else echo none; fi",
        **files,
    }


@dataclass(frozen=True)
class HostFacts:
    """Parsed host observation. ``None`` means absent (device, file, network)."""

    node: NodeFacts
    uid: int | None = None
    os_id: str = ""
    os_like: str = ""
    package_manager: str | None = None
    uplink_dev: str | None = None
    uplink_mtu: int | None = None
    uplink_cidr: str | None = None
    addrs: tuple[tuple[str, str], ...] = ()  # (ifname, cidr)
    routes: tuple[dict[str, Any], ...] = ()  # `ip -j` objects
    vxlan: dict[str, Any] | None = None
    vxlan_addrs: tuple[str, ...] = ()
    neigh: tuple[dict[str, Any], ...] = ()
    fdb: tuple[dict[str, Any], ...] = ()
    iptables_save: str = ""
    iptables_backend: str = ""
    legacy_rule_count: int = 0
    xt: dict[str, str] = field(default_factory=dict)
    kmods: dict[str, str] = field(default_factory=dict)
    sysctls: dict[str, str] = field(default_factory=dict)
    disk_free_kib: int | None = None
    clock: float | None = None
    pod_network: dict[str, Any] | None = None  # `docker network inspect` object
    files: dict[str, str | None] = field(default_factory=dict)  # key → content or None
    daemon_backup: str = "none"  # backup | absent | none


def _json(sec: Section | None, default: Any) -> Any:
    if sec is None or sec.rc != 0:
        return default
    try:
        return json.loads(sec.text.strip() or "null") or default
    except ValueError:
        return default


def _kv(sec: Section | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if sec is not None:
        for line in sec.text.splitlines():
            k, sep, v = line.partition("=")
            if sep:
                out[k.strip()] = v.strip()
    return out


def parse_host_facts(s: Mapping[str, Section]) -> HostFacts:
    node = parse_node_facts(s)
    osrel = _kv(s.get("osrel"))
    uplink = s.get("uplink")
    dev = mtu = cidr = None
    if uplink is not None and uplink.rc == 0 and len(uplink.text.split()) >= 3:
        dev, mtu_s, cidr = uplink.text.split()[:3]
        mtu = int(mtu_s) if mtu_s.isdigit() else None
    addrs = []
    for link in _json(s.get("addrs"), []):
        for a in link.get("addr_info", []):
            if a.get("family") == "inet":
                addrs.append((link.get("ifname", ""), f"{a['local']}/{a['prefixlen']}"))
    vx = _json(s.get("vxlan"), [])
    vx_addrs = tuple(
        f"{a['local']}/{a['prefixlen']}"
        for link in _json(s.get("vxlan_addr"), [])
        for a in link.get("addr_info", [])
        if a.get("family") == "inet"
    )
    uid_sec = s.get("uid")
    uid = int(uid_sec.text.strip()) if uid_sec and uid_sec.rc == 0 and uid_sec.text.strip().isdigit() else None
    ipt = s.get("iptables")
    ver = s.get("ipt_version")
    backend = ""
    if ver is not None and ver.rc == 0:
        backend = "nft" if "nf_tables" in ver.text else "legacy"
    legacy = s.get("legacy_rules")
    disk = None
    dsec = s.get("disk")
    if dsec is not None and dsec.rc == 0:
        lines = dsec.text.strip().splitlines()
        if len(lines) >= 2 and len(lines[-1].split()) >= 4:
            try:
                disk = int(lines[-1].split()[3])
            except ValueError:
                disk = None
    clock = None
    csec = s.get("clock")
    if csec is not None and csec.rc == 0:
        try:
            clock = float(csec.text.strip())
        except ValueError:
            clock = None
    podnet = _json(s.get("podnet"), [])
    files: dict[str, str | None] = {}
    for key in MANAGED_FILES:
        sec = s.get(f"file:{key}")
        files[key] = sec.text + ("\n" if sec.text else "") if sec is not None and sec.rc == 0 else None
    pkg = s.get("pkg")
    pkg_path = pkg.text.strip() if pkg is not None and pkg.rc == 0 else "none"
    daemon_backup = s.get("daemon_backup")
    return HostFacts(
        node=node,
        uid=uid,
        os_id=osrel.get("ID", "").strip('"'),
        os_like=osrel.get("ID_LIKE", "").strip('"'),
        package_manager=None if pkg_path in ("", "none") else pkg_path.rsplit("/", 1)[-1],
        uplink_dev=dev,
        uplink_mtu=mtu,
        uplink_cidr=cidr,
        addrs=tuple(addrs),
        routes=tuple(_json(s.get("routes"), [])),
        vxlan=vx[0] if vx else None,
        vxlan_addrs=vx_addrs,
        neigh=tuple(_json(s.get("neigh"), [])),
        fdb=tuple(_json(s.get("fdb"), [])),
        iptables_save=ipt.text if ipt is not None and ipt.rc == 0 else "",
        iptables_backend=backend,
        legacy_rule_count=int(legacy.text.strip() or 0) if legacy is not None and legacy.text.strip().isdigit() else 0,
        xt=_kv(s.get("xt")),
        kmods=_kv(s.get("kmods")),
        sysctls=_kv(s.get("sysctl")),
        disk_free_kib=disk,
        clock=clock,
        pod_network=podnet[0] if podnet else None,
        files=files,
        daemon_backup=(daemon_backup.text.strip() if daemon_backup else "none") or "none",
    )


OVERLAY_KEYS = ("uplink", "routes", "vxlan", "vxlan_addr", "neigh", "fdb", "iptables", "podnet", "file:subnet_env")


def overlay_snippets(address: str) -> dict[str, str]:
    """The subset of host_snippets that overlay drift detection needs (cheap enough for get nodes)."""
    full = host_snippets(address)
    return {k: full[k] for k in OVERLAY_KEYS}
