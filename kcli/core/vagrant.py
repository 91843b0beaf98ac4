"""From a Vagrant environment to an inventory and its known_hosts (pure: text in, text out).

Inputs are what Vagrant prints: ``vagrant ssh-config`` (one ``Host`` block per running machine)
and, per machine, what ``PROBE_COMMAND`` prints inside the VM when run through ``vagrant ssh``
(its SSH host public keys and its IPv4 addresses). Why those keys can be trusted, and why the
address is the VM's private-network address and not the ``127.0.0.1:2222`` forward that
``vagrant ssh-config`` names: docs/vagrant.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from kcli.core.inventory import DNS1123_SUBDOMAIN, parse_inventory
from kcli.errors import UsageError, ValidationError

WRITTEN_BY = "# Written by `kcli inventory from-vagrant`"
DEFAULT_NETWORK = "192.168.56.0/24"

# Run inside each VM through `vagrant ssh NAME -c ...` (a fixed string: no value of ours in it).
# `ip` lives in /usr/sbin on some systems, outside an ordinary user's PATH.
PROBE_COMMAND = 'cat /etc/ssh/ssh_host_*_key.pub; PATH="$PATH:/usr/sbin:/sbin" ip -4 -o addr show scope global'

# The host key types OpenSSH's sshd offers, in the order kcli prefers them (paramiko asks the
# server for the type of the first key known_hosts holds for it).
KEY_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
)
_INET = re.compile(r"\binet (\d{1,3}(?:\.\d{1,3}){3}/\d{1,2})\b")
_KEYWORD = re.compile(r"^\s*([A-Za-z]+)(?:\s*=\s*|\s+)(.*?)\s*$")


@dataclass(frozen=True)
class SshEntry:
    """One ``Host`` block of ``vagrant ssh-config``: how Vagrant itself reaches the machine."""

    name: str
    hostname: str
    port: int
    user: str
    identity_files: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class HostKey:
    type: str
    blob: str  # base64, as in a .pub file

    @property
    def fingerprint(self) -> str:
        """OpenSSH's SHA256 fingerprint (what ``ssh-keygen -l`` prints)."""
        digest = hashlib.sha256(base64.b64decode(self.blob)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class Probe:
    """What one VM said about itself: its host keys and its IPv4 addresses (with prefix)."""

    keys: tuple[HostKey, ...]
    addresses: tuple[ipaddress.IPv4Interface, ...]


@dataclass(frozen=True)
class VagrantNode:
    name: str
    address: str
    user: str
    identity_file: str
    keys: tuple[HostKey, ...]
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Generated:
    nodes: tuple[VagrantNode, ...]
    inventory: dict[str, Any]
    inventory_text: str
    known_hosts_text: str


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def parse_ssh_config(text: str, *, source: str = "vagrant ssh-config") -> tuple[SshEntry, ...]:
    """The ``Host`` blocks of ``vagrant ssh-config`` output, in order; every problem is reported
    at once with its line. Vagrant's own progress lines (``==> node1: ...``) are skipped."""
    problems: list[str] = []
    blocks: list[tuple[int, str, dict[str, list[str]]]] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("==>"):
            continue
        m = _KEYWORD.match(line)
        if m is None or not m.group(2):
            problems.append(f"{source}:{n}: not an ssh_config line: {line[:80]!r}")
            continue
        keyword, value = m.group(1).lower(), m.group(2)
        if keyword == "host":
            names = value.split()
            if len(names) != 1:
                problems.append(f"{source}:{n}: Host must name one machine, got {value[:80]!r}")
                continue
            blocks.append((n, names[0], {}))
        elif not blocks:
            problems.append(f"{source}:{n}: {m.group(1)} before the first Host line")
        else:
            blocks[-1][2].setdefault(keyword, []).append(_unquote(value))
    entries: list[SshEntry] = []
    seen: dict[str, int] = {}
    for line_no, name, opts in blocks:
        where = f"{source}:{line_no}: Host {name}"
        before = len(problems)
        if not DNS1123_SUBDOMAIN.match(name) or len(name) > 253:
            problems.append(f"{where}: the machine name is not a DNS-1123 name (lower case letters, digits, '-', '.')")
        if name in seen:
            problems.append(f"{where}: listed twice (also line {seen[name]})")
        seen.setdefault(name, line_no)
        for keyword, spelled in (("hostname", "HostName"), ("user", "User")):
            if keyword not in opts:
                problems.append(f"{where}: no {spelled} line")
        if "identityfile" not in opts:
            problems.append(f"{where}: no IdentityFile line (kcli authenticates with the machine's key)")
        port = 22
        if "port" in opts:
            try:
                port = int(opts["port"][0])
                if not 1 <= port <= 65535:
                    raise ValueError
            except ValueError:
                problems.append(f"{where}: Port {opts['port'][0]!r} is not a port number")
        if len(problems) != before:
            continue
        entries.append(
            SshEntry(
                name=name,
                hostname=opts["hostname"][0],
                port=port,
                user=opts["user"][0],
                identity_files=tuple(opts["identityfile"]),
                line=line_no,
            )
        )
    if not problems and not entries:
        raise ValidationError(f"{source}: no Host entry (are the machines up? `vagrant status`)")
    if problems:
        n = len(problems)
        raise ValidationError(f"{source}: {n} problem{'s' if n > 1 else ''} in the ssh-config", details=problems)
    return tuple(entries)


def parse_public_key(line: str) -> HostKey | None:
    """One OpenSSH public key line (``TYPE BASE64 [comment]``), checked: the base64 must decode to
    a key blob naming the same type. Anything else is None."""
    words = line.split()
    if len(words) < 2 or words[0] not in KEY_TYPES:
        return None
    try:
        blob = base64.b64decode(words[1], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(blob) < 4:
        return None
    size = int.from_bytes(blob[:4], "big")
    if blob[4 : 4 + size] != words[0].encode():
        return None
    return HostKey(words[0], words[1])


def parse_probe(text: str, machine: str, *, source: str = "vagrant ssh") -> Probe:
    """Host keys (``cat /etc/ssh/ssh_host_*_key.pub``) and addresses (``ip -4 -o addr``) from
    what ``PROBE_COMMAND`` printed in one VM. Other lines are ignored; no key is an error."""
    keys: list[HostKey] = []
    addresses: list[ipaddress.IPv4Interface] = []
    for line in text.splitlines():
        key = parse_public_key(line)
        if key is not None:
            if key not in keys:
                keys.append(key)
            continue
        m = _INET.search(line)
        if m is not None:
            try:
                addresses.append(ipaddress.IPv4Interface(m.group(1)))
            except ValueError:
                continue
    if not keys:
        raise ValidationError(
            f"{source}: {machine}: no SSH host public key in the VM's answer "
            "(expected /etc/ssh/ssh_host_*_key.pub); is sshd installed there?"
        )
    order = {t: i for i, t in enumerate(KEY_TYPES)}
    keys.sort(key=lambda k: order[k.type])
    return Probe(tuple(keys), tuple(addresses))


def choose_address(machine: str, probe: Probe, network: str) -> str:
    """The VM's one address inside ``network`` (the private network the nodes share)."""
    net = ipaddress.IPv4Network(network, strict=False)
    found = [a for a in probe.addresses if a.ip in net]
    have = ", ".join(str(a) for a in probe.addresses) or "none"
    if not found:
        raise ValidationError(
            f"{machine}: no address in {net} (the VM has {have}); "
            "pass --network with the private network the Vagrantfile defines"
        )
    if len({a.ip for a in found}) > 1:
        raise ValidationError(f"{machine}: several addresses in {net} ({have}); pass a narrower --network")
    return str(found[0].ip)


def build(
    entries: Sequence[SshEntry],
    probes: Mapping[str, Probe],
    *,
    network: str = DEFAULT_NETWORK,
    cluster: str = "vagrant",
    known_hosts: str = "known_hosts",
    origin: str = "vagrant ssh-config",
) -> Generated:
    """The inventory (the first machine is the control plane, as in the sandbox) and its
    known_hosts. Every node is reached on port 22 of its private-network address, as the vagrant
    user (passwordless sudo in Vagrant boxes) with the key Vagrant put in that machine."""
    try:
        ipaddress.IPv4Network(network, strict=False)
    except ValueError as exc:
        raise UsageError(f"--network {network!r}: not an IPv4 network ({exc})") from exc
    if not DNS1123_SUBDOMAIN.match(cluster):
        raise UsageError(f"--cluster {cluster!r}: must be a DNS-1123 name (lower case letters, digits, '-', '.')")
    problems: list[str] = []
    nodes: list[VagrantNode] = []
    for i, e in enumerate(entries):
        probe = probes.get(e.name)
        if probe is None:
            problems.append(f"{e.name}: no answer from the VM (host keys and addresses)")
            continue
        try:
            address = choose_address(e.name, probe, network)
        except ValidationError as exc:
            problems.append(exc.message)
            continue
        nodes.append(
            VagrantNode(
                name=e.name,
                address=address,
                user=e.user,
                identity_file=e.identity_files[0],
                keys=probe.keys,
                roles=("control-plane",) if i == 0 else ("worker",),
            )
        )
    by_address: dict[str, str] = {}
    by_key: dict[HostKey, str] = {}
    for node in nodes:
        if node.address in by_address:
            problems.append(f"{node.name}: address {node.address} is also {by_address[node.address]}'s")
        by_address.setdefault(node.address, node.name)
        for key in node.keys:
            if key in by_key:
                problems.append(
                    f"{node.name}: presents the same {key.type} host key as {by_key[key]} "
                    f"({key.fingerprint}): the box image carries baked host keys, and one VM could pose "
                    "as the other; make new ones in each VM (vagrant/provision.sh does) and run this again"
                )
            by_key.setdefault(key, node.name)
    if problems:
        n = len(problems)
        raise ValidationError(
            f"{origin}: cannot write the inventory ({n} problem{'s' if n > 1 else ''})", details=problems
        )
    doc = inventory_doc(nodes, cluster=cluster, known_hosts=known_hosts)
    parse_inventory(doc, source="the generated inventory")  # what is written, kcli can load
    header = f"{WRITTEN_BY} from {origin}.\n# Run it again after the VMs are recreated: new VMs have new host keys.\n"
    return Generated(
        nodes=tuple(nodes),
        inventory=doc,
        inventory_text=header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=200),
        known_hosts_text=known_hosts_text(nodes, origin=origin),
    )


def inventory_doc(nodes: Sequence[VagrantNode], *, cluster: str, known_hosts: str) -> dict[str, Any]:
    users = {n.user for n in nodes}
    user = nodes[0].user if len(users) == 1 else "vagrant"
    hosts: list[dict[str, Any]] = []
    for n in nodes:
        host: dict[str, Any] = {"name": n.name, "address": n.address}
        if n.user != user:
            host["user"] = n.user
            host["sudo"] = n.user != "root"
        host["identity_file"] = n.identity_file
        host["roles"] = list(n.roles)
        hosts.append(host)
    return {
        "cluster": cluster,
        "defaults": {"user": user, "sudo": user != "root", "port": 22, "connect_timeout": 5},
        "ssh": {"known_hosts": known_hosts},
        "hosts": hosts,
    }


def known_hosts_text(nodes: Sequence[VagrantNode], *, origin: str) -> str:
    """One line per host key, the address as OpenSSH writes it for port 22 (``[a]:p`` otherwise)."""
    lines = [f"{WRITTEN_BY} from {origin}: the keys each VM read from /etc/ssh."]
    for n in nodes:
        lines += [f"{n.address} {k.type} {k.blob}" for k in n.keys]
    return "\n".join(lines) + "\n"


def known_keys(text: str) -> dict[str, set[HostKey]]:
    """Plain (unhashed) known_hosts lines: host name → its keys (to tell what changed)."""
    out: dict[str, set[HostKey]] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) < 3 or words[0].startswith(("#", "|", "@")):
            continue
        key = parse_public_key(" ".join(words[1:3]))
        if key is None:
            continue
        for name in words[0].split(","):
            out.setdefault(name, set()).add(key)
    return out


def key_changes(old_known_hosts: str, nodes: Sequence[VagrantNode]) -> list[str]:
    """Nodes whose address had other keys in the known_hosts this run replaces (recreated VMs)."""
    old = known_keys(old_known_hosts)
    return [
        f"{n.name} ({n.address}): host key changed since the last run (a recreated VM?)"
        for n in nodes
        if n.address in old and old[n.address] != set(n.keys)
    ]
