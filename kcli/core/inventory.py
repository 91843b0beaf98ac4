"""Inventory: a YAML dict of hosts → validated, frozen ``Inventory`` (pure; env and paths passed in)."""

from __future__ import annotations

import ipaddress
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kcli.core.network import NETWORK_FLAGS, ClusterNetwork, validate_network
from kcli.errors import InventoryError

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
HOSTNAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$")
ROLES = ("control-plane", "worker")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

TOP_KEYS = {"apiVersion", "kind", "cluster", "defaults", "ssh", "hosts", "network"}
DEFAULT_KEYS = {"user", "port", "identity_file", "sudo", "connect_timeout", "command_timeout"}
SSH_KEYS = {"config_file", "known_hosts", "accept_new_host_keys"}
HOST_KEYS = DEFAULT_KEYS | {"name", "address", "labels", "taints", "roles"}
NETWORK_KEYS = {"pod_cidr", "service_cidr", "backend"}


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    port: int = 22
    user: str = "root"
    identity_file: str | None = None
    sudo: bool = False
    connect_timeout: float = 5.0
    command_timeout: float = 300.0
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Inventory:
    cluster: str
    hosts: tuple[Host, ...]
    source: str = "<inventory>"
    ssh_config: str | None = None
    known_hosts: str | None = None
    accept_new_host_keys: bool = False
    network: Mapping[str, str] = field(default_factory=dict)

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise InventoryError(f"{self.source}: no host named {name!r} (hosts: {', '.join(self.names())})")

    def names(self) -> list[str]:
        return [h.name for h in self.hosts]


def _resolve(path: str | None, base_dir: str, home: str) -> str | None:
    if path is None:
        return None
    if path.startswith("~"):
        path = home + path[1:]
    return posixpath.normpath(posixpath.join(base_dir, path))


class _Errors:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, path: str, msg: str) -> None:
        self.items.append(f"{self.source}: {path}: {msg}")


def _check_keys(d: Mapping[str, Any], allowed: set[str], path: str, errs: _Errors) -> None:
    for k in d:
        if k not in allowed:
            errs.add(f"{path}.{k}" if path else str(k), f"unknown field (allowed: {', '.join(sorted(allowed))})")


def _int(v: Any, path: str, errs: _Errors, lo: int, hi: int) -> int | None:
    if isinstance(v, bool) or not isinstance(v, int):
        errs.add(path, f"must be an integer, got {v!r}")
        return None
    if not lo <= v <= hi:
        errs.add(path, f"must be between {lo} and {hi}, got {v}")
        return None
    return v


def _number(v: Any, path: str, errs: _Errors) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
        errs.add(path, f"must be a positive number of seconds, got {v!r}")
        return None
    return float(v)


def _settings(d: Mapping[str, Any], path: str, errs: _Errors) -> dict[str, Any]:
    """Validate the connection settings shared by ``defaults`` and each host."""
    out: dict[str, Any] = {}
    if "user" in d:
        if not isinstance(d["user"], str) or not d["user"]:
            errs.add(f"{path}.user", "must be a non-empty string")
        else:
            out["user"] = d["user"]
    if "port" in d:
        p = _int(d["port"], f"{path}.port", errs, 1, 65535)
        if p is not None:
            out["port"] = p
    if "identity_file" in d:
        if not isinstance(d["identity_file"], str):
            errs.add(f"{path}.identity_file", "must be a path")
        else:
            out["identity_file"] = d["identity_file"]
    if "sudo" in d:
        if not isinstance(d["sudo"], bool):
            errs.add(f"{path}.sudo", "must be true or false")
        else:
            out["sudo"] = d["sudo"]
    for key in ("connect_timeout", "command_timeout"):
        if key in d:
            n = _number(d[key], f"{path}.{key}", errs)
            if n is not None:
                out[key] = n
    return out


def _labels(v: Any, path: str, errs: _Errors) -> dict[str, str]:
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        errs.add(path, "must be a mapping of label key to value")
        return {}
    from kcli.core.names import label_key_error, label_value_error

    out = {}
    for k, val in v.items():
        key = str(k)
        problem = label_key_error(key)
        if problem:
            errs.add(f"{path}.{key}", f"invalid label key: {problem}")
            continue
        sval = "" if val is None else str(val)
        problem = label_value_error(sval)
        if problem:
            errs.add(f"{path}.{key}", f"invalid label value {sval!r}: {problem}")
            continue
        out[key] = sval
    return out


def _taints(v: Any, path: str, errs: _Errors) -> tuple[Taint, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        errs.add(path, "must be a list of {key, value, effect}")
        return ()
    out = []
    for i, t in enumerate(v):
        p = f"{path}[{i}]"
        if isinstance(t, str):  # kubectl taint syntax: key=value:Effect
            m = re.match(r"^([^=:]+)(?:=([^:]*))?:(\w+)$", t)
            t = {"key": m.group(1), "value": m.group(2) or "", "effect": m.group(3)} if m else None
            if t is None:
                errs.add(p, "must look like key=value:Effect")
                continue
        if not isinstance(t, Mapping):
            errs.add(p, "must be a mapping with key, value, effect")
            continue
        _check_keys(t, {"key", "value", "effect"}, p, errs)
        if not t.get("key"):
            errs.add(f"{p}.key", "required")
            continue
        if t.get("effect") not in TAINT_EFFECTS:
            errs.add(f"{p}.effect", f"must be one of {', '.join(TAINT_EFFECTS)}")
            continue
        out.append(Taint(str(t["key"]), str(t.get("value") or ""), str(t["effect"])))
    return tuple(out)


def parse_inventory(
    data: Any,
    *,
    source: str = "<inventory>",
    base_dir: str = ".",
    home: str = "/root",
    env: Mapping[str, str] | None = None,
) -> Inventory:
    """Validate an inventory document; collect every error with its path, then raise once."""
    env = env or {}
    errs = _Errors(source)
    if not isinstance(data, Mapping):
        raise InventoryError(f"{source}: invalid inventory", details=[f"{source}: must be a mapping with 'hosts'"])
    _check_keys(data, TOP_KEYS, "", errs)
    cluster = data.get("cluster", "default")
    if not isinstance(cluster, str) or not DNS1123_SUBDOMAIN.match(cluster):
        errs.add("cluster", "must be a DNS-1123 name (lower case letters, digits, '-', '.')")
    defaults_raw = data.get("defaults") or {}
    if not isinstance(defaults_raw, Mapping):
        errs.add("defaults", "must be a mapping")
        defaults_raw = {}
    _check_keys(defaults_raw, DEFAULT_KEYS, "defaults", errs)
    defaults = _settings(defaults_raw, "defaults", errs)
    ssh = data.get("ssh") or {}
    if not isinstance(ssh, Mapping):
        errs.add("ssh", "must be a mapping")
        ssh = {}
    _check_keys(ssh, SSH_KEYS, "ssh", errs)
    network = data.get("network") or {}
    if not isinstance(network, Mapping):
        errs.add("network", "must be a mapping")
        network = {}
    _check_keys(network, NETWORK_KEYS, "network", errs)
    network = _network(network, errs)

    # Environment overrides (CI): they win over the file's defaults.
    if env.get("KCLI_SSH_KEY"):
        defaults["identity_file"] = env["KCLI_SSH_KEY"]
    if env.get("KCLI_SSH_USER"):
        defaults["user"] = env["KCLI_SSH_USER"]
    if env.get("KCLI_CONNECT_TIMEOUT"):
        try:
            defaults["connect_timeout"] = float(env["KCLI_CONNECT_TIMEOUT"])
        except ValueError:
            errs.add("$KCLI_CONNECT_TIMEOUT", "must be a number of seconds")

    hosts_raw = data.get("hosts")
    hosts: list[Host] = []
    if hosts_raw is None:
        errs.add("hosts", "required")
        hosts_raw = []
    elif not isinstance(hosts_raw, list) or not hosts_raw:
        errs.add("hosts", "must be a non-empty list")
        hosts_raw = []
    seen_names: dict[str, int] = {}
    seen_addrs: dict[tuple[str, int], int] = {}
    for i, h in enumerate(hosts_raw):
        p = f"hosts[{i}]"
        if not isinstance(h, Mapping):
            errs.add(p, "must be a mapping with name and address")
            continue
        _check_keys(h, HOST_KEYS, p, errs)
        before = len(errs.items)
        name = h.get("name")
        if name is None:
            errs.add(f"{p}.name", "required")
        elif not isinstance(name, str) or len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
            errs.add(f"{p}.name", f"{name!r} is not a DNS-1123 name (lower case letters, digits, '-', '.')")
        elif name in seen_names:
            errs.add(f"{p}.name", f"duplicate name {name!r} (also hosts[{seen_names[name]}])")
        else:
            seen_names[name] = i
        addr = h.get("address")
        if addr is None:
            errs.add(f"{p}.address", "required")
        elif not isinstance(addr, str) or not _valid_address(addr):
            errs.add(f"{p}.address", f"{addr!r} is not an IP address or host name")
        settings = {**defaults, **_settings(h, p, errs)}
        roles = h.get("roles") or []
        if isinstance(roles, str):
            roles = [roles]
        if not isinstance(roles, list) or any(r not in ROLES for r in roles):
            errs.add(f"{p}.roles", f"must be a list of {', '.join(ROLES)}")
            roles = []
        labels = _labels(h.get("labels"), f"{p}.labels", errs)
        taints = _taints(h.get("taints"), f"{p}.taints", errs)
        if isinstance(addr, str):
            key = (addr, settings.get("port", 22))
            if key in seen_addrs:
                errs.add(f"{p}.address", f"duplicate address {addr}:{key[1]} (also hosts[{seen_addrs[key]}])")
            else:
                seen_addrs[key] = i
        if len(errs.items) != before or not isinstance(name, str) or not isinstance(addr, str):
            continue  # (a name or address that is not a string was reported above)
        if "identity_file" in settings:
            settings["identity_file"] = _resolve(settings["identity_file"], base_dir, home)
        hosts.append(Host(name=name, address=addr, labels=labels, taints=taints, roles=tuple(roles), **settings))
    if errs.items:
        n = len(errs.items)
        raise InventoryError(f"{source}: {n} error{'s' if n > 1 else ''} in inventory", details=errs.items)
    accept_new = ssh.get("accept_new_host_keys", False) or env.get("KCLI_ACCEPT_NEW_HOST_KEYS") == "1"
    known = env.get("KCLI_KNOWN_HOSTS") or ssh.get("known_hosts")
    return Inventory(
        cluster=cluster,
        hosts=tuple(hosts),
        source=source,
        ssh_config=_resolve(ssh.get("config_file"), base_dir, home),
        known_hosts=_resolve(known, base_dir, home) if known else None,
        accept_new_host_keys=bool(accept_new),
        network=network,
    )


def _network(raw: Mapping[str, Any], errs: _Errors) -> dict[str, str]:
    """The ``network`` section, checked as bootstrap would check it (same rules, inventory field names)."""
    out: dict[str, str] = {}
    for key in sorted(NETWORK_KEYS & set(raw)):
        v = raw[key]
        if isinstance(v, str) and v:
            out[key] = v
        else:
            errs.add(
                f"network.{key}",
                "must be a non-empty string" + (" (a CIDR like 10.244.0.0/16)" if key != "backend" else ""),
            )
    defaults = ClusterNetwork()
    net = ClusterNetwork(
        pod_cidr=out.get("pod_cidr", defaults.pod_cidr),
        service_cidr=out.get("service_cidr", defaults.service_cidr),
        backend=out.get("backend", defaults.backend),
    )
    names = {k: f"network.{k}" for k in NETWORK_FLAGS}
    errs.items.extend(f"{errs.source}: {msg}" for msg in validate_network(net, names))
    return out


def _valid_address(addr: str) -> bool:
    try:
        ipaddress.ip_address(addr)
        return True
    except ValueError:
        return bool(HOSTNAME.match(addr)) and len(addr) <= 253


def node_roles(host: Host) -> str:
    """kubectl's ROLES column: comma list, or <none>."""
    return ",".join(host.roles) if host.roles else "<none>"
