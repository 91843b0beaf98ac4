"""kube-proxy (iptables mode) rules rendered from the outside, per node (pure).

Reference: docs/k8s-reference.md §1. Chain names, comments, rule argument order
and probabilities are written exactly as ``pkg/proxy/iptables/proxier.go`` writes them, so a
node programmed by kcli looks like a node programmed by kube-proxy (Cluster traffic policy).

* ``render_filter`` / ``render_nat``: one complete ``iptables-restore --noflush`` payload per
  table. Every chain kcli owns is declared (``:CHAIN - [0:0]``), which flushes it; stale
  per-service chains found on the node are declared and deleted with ``-X``.
* ``JUMP_RULES`` / ``render_jump_script``: the jumps from built-in chains cannot go in the
  payload (declaring a built-in chain flushes it; ``-A PREROUTING`` would append a duplicate on
  every apply), so they are ensured one by one with ``iptables -C ... || iptables -I ...``.
* ``parse_iptables_save`` / ``normalize_rule`` / ``diff_rules``: drift detection on parsed,
  normalised rules; ``iptables-save`` never echoes the restore payload verbatim.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence

from kcli.core.services import Endpoint, ServicePort, ServiceSpec, ready_endpoints

Parsed = dict[str, dict[str, list[str]]]
"""``{table: {chain: [rule, ...]}}``; a rule is what follows ``-A CHAIN``."""

MASQ_BIT = 14
MASQ_MARK = f"{1 << MASQ_BIT:#x}"  # 0x4000
BUILTIN_CHAINS = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
SERVICE_CHAIN_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-")

KUBE_SERVICES = "KUBE-SERVICES"
KUBE_EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES"
KUBE_NODEPORTS = "KUBE-NODEPORTS"
KUBE_POSTROUTING = "KUBE-POSTROUTING"
KUBE_MARK_MASQ = "KUBE-MARK-MASQ"
KUBE_FORWARD = "KUBE-FORWARD"
KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL"

FILTER_CHAINS = (KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL)
NAT_CHAINS = (KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ)

_NEW = ("-m", "conntrack", "--ctstate", "NEW")


def _jump(
    table: str, chain: str, target: str, comment: str, extra: tuple[str, ...] = ()
) -> tuple[str, str, tuple[str, ...]]:
    return (table, chain, (*extra, "-m", "comment", "--comment", comment, "-j", target))


JUMP_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # Order of kube-proxy's iptablesJumpChains, then the POSTROUTING jump (docs/k8s-reference.md §1.3).
    _jump("filter", "INPUT", KUBE_EXTERNAL_SERVICES, "kubernetes externally-visible service portals", _NEW),
    _jump("filter", "FORWARD", KUBE_EXTERNAL_SERVICES, "kubernetes externally-visible service portals", _NEW),
    _jump("filter", "INPUT", KUBE_NODEPORTS, "kubernetes health check service ports"),
    _jump("filter", "FORWARD", KUBE_SERVICES, "kubernetes service portals", _NEW),
    _jump("filter", "OUTPUT", KUBE_SERVICES, "kubernetes service portals", _NEW),
    _jump("filter", "FORWARD", KUBE_FORWARD, "kubernetes forwarding rules"),
    _jump("filter", "INPUT", KUBE_PROXY_FIREWALL, "kubernetes load balancer firewall", _NEW),
    _jump("filter", "OUTPUT", KUBE_PROXY_FIREWALL, "kubernetes load balancer firewall", _NEW),
    _jump("filter", "FORWARD", KUBE_PROXY_FIREWALL, "kubernetes load balancer firewall", _NEW),
    _jump("nat", "OUTPUT", KUBE_SERVICES, "kubernetes service portals"),
    _jump("nat", "PREROUTING", KUBE_SERVICES, "kubernetes service portals"),
    _jump("nat", "POSTROUTING", KUBE_POSTROUTING, "kubernetes postrouting rules"),
)
"""Jumps from built-in chains as ``(table, chain, rule_args)``; ensure with check-then-insert."""


# --------------------------------------------------------------------------- hashing


def _hash16(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def service_port_name(namespace: str, name: str, port_name: str = "") -> str:
    """``ServicePortName.String()``: ``ns/name`` plus ``:port`` when the port is named."""
    return f"{namespace}/{name}" + (f":{port_name}" if port_name else "")


def port_proto_hash(svc_port_name: str, protocol: str) -> str:
    """The 16-char hash shared by KUBE-SVC/SVL/EXT/FW chains of one service port."""
    return _hash16(svc_port_name + protocol.lower())


def service_chain(svc_port_name: str, protocol: str) -> str:
    return "KUBE-SVC-" + port_proto_hash(svc_port_name, protocol)


def local_chain(svc_port_name: str, protocol: str) -> str:
    return "KUBE-SVL-" + port_proto_hash(svc_port_name, protocol)


def external_chain(svc_port_name: str, protocol: str) -> str:
    return "KUBE-EXT-" + port_proto_hash(svc_port_name, protocol)


def firewall_chain(svc_port_name: str, protocol: str) -> str:
    return "KUBE-FW-" + port_proto_hash(svc_port_name, protocol)


def endpoint_chain(svc_port_name: str, protocol: str, endpoint: str) -> str:
    """``KUBE-SEP-`` chain of one endpoint; ``endpoint`` is ``ip:port`` (``[v6]:port``)."""
    return "KUBE-SEP-" + _hash16(svc_port_name + protocol.lower() + endpoint)


def is_service_chain(chain: str) -> bool:
    """Per service-port chains: the ones kcli deletes when no longer wanted."""
    return chain.startswith(SERVICE_CHAIN_PREFIXES)


# --------------------------------------------------------------------------- rendering

_BARE = re.compile(r"^[A-Za-z0-9_./:,=+@%\[\]-]+$")


def quote(arg: str) -> str:
    """Quote an argument the way kube-proxy does in a restore payload (double quotes if needed).

    Inside double quotes iptables-restore takes ``\\`` and ``\"`` as escapes and everything else
    literally, so a quoted value stays one argument; but it reads one rule per line, so a line
    break (or NUL) in a value could end the rule and start another one: such a value is refused.
    The names that reach comments are validated long before (Service names DNS-1035 labels,
    namespaces and port names DNS labels)."""
    if "\n" in arg or "\r" in arg or "\0" in arg:
        raise ValueError(f"iptables argument {arg!r}: a line break or NUL cannot be passed to iptables-restore")
    if arg == "!" or _BARE.match(arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rule(chain: str, *args: str) -> str:
    return " ".join(("-A", chain, *(quote(a) for a in args)))


def probability(n: int, i: int) -> str:
    """``--probability`` of load-balancing rule ``i`` of ``n`` (Go ``%0.10f`` of ``1/(n-i)``)."""
    return f"{1.0 / (n - i):0.10f}"


def _ports(services: Iterable[ServiceSpec]) -> list[tuple[ServiceSpec, ServicePort, str]]:
    """Proxied (non-headless) service ports in a stable order, with their service port names."""
    out = []
    for svc in services:
        if svc.headless:
            continue
        if not svc.cluster_ip:
            raise ValueError(f"service {svc.key} has no clusterIP allocated")
        for sp in svc.ports:
            out.append((svc, sp, service_port_name(svc.namespace, svc.name, sp.name)))
    return sorted(out, key=lambda t: (t[2], t[1].protocol))


def _endpoints(
    svc: ServiceSpec, sp: ServicePort, endpoints_by_service: Mapping[str, Sequence[Endpoint]]
) -> tuple[Endpoint, ...]:
    return ready_endpoints(endpoints_by_service.get(svc.key, ()), sp)


def render_nat(
    services: Sequence[ServiceSpec],
    endpoints_by_service: Mapping[str, Sequence[Endpoint]],
    node: str | None = None,
    cluster_cidr: str | None = None,
    *,
    existing_chains: Iterable[str] = (),
    masquerade_all: bool = False,
    random_fully: bool = True,
    localhost_nodeports: bool = True,
) -> str:
    """The nat table payload for one node (docs/k8s-reference.md §1.4-1.10).

    ``endpoints_by_service`` maps ``service.key`` to its endpoints (ready ones are used).
    ``cluster_cidr`` enables the "masquerade off-cluster clients" rule (``! -s CIDR``);
    ``masquerade_all`` marks all ClusterIP traffic instead. ``existing_chains`` are the nat
    chains currently on the node (e.g. ``parse_iptables_save(out)["nat"]``): per-service chains
    among them that are no longer wanted are flushed and deleted with ``-X``.
    ``node`` is accepted for the Local traffic policy, which kcli does not implement: with the
    Cluster policy the payload is the same on every node.
    """
    del node
    chains: list[str] = list(NAT_CHAINS)
    rules: list[str] = [
        _rule(KUBE_POSTROUTING, "-m", "mark", "!", "--mark", f"{MASQ_MARK}/{MASQ_MARK}", "-j", "RETURN"),
        _rule(KUBE_POSTROUTING, "-j", "MARK", "--xor-mark", MASQ_MARK),
        _rule(
            KUBE_POSTROUTING,
            "-m",
            "comment",
            "--comment",
            "kubernetes service traffic requiring SNAT",
            "-j",
            "MASQUERADE",
            *(("--random-fully",) if random_fully else ()),
        ),
        _rule(KUBE_MARK_MASQ, "-j", "MARK", "--or-mark", MASQ_MARK),
    ]
    for svc, sp, spn in _ports(services):
        eps = _endpoints(svc, sp, endpoints_by_service)
        if not eps:
            continue  # REJECTed in the filter table instead
        proto = sp.protocol.lower()
        svc_chain = service_chain(spn, proto)
        ext_chain = external_chain(spn, proto)
        sep = [(e, endpoint_chain(spn, proto, e.address)) for e in eps]
        chains.append(svc_chain)
        if sp.node_port:
            chains.append(ext_chain)
        chains.extend(c for _, c in sep)

        vip = (
            "-m",
            "comment",
            "--comment",
            f"{spn} cluster IP",
            "-m",
            proto,
            "-p",
            proto,
            "-d",
            svc.cluster_ip or "",
            "--dport",
            str(sp.port),
        )
        rules.append(_rule(KUBE_SERVICES, *vip, "-j", svc_chain))
        if sp.node_port:
            rules.append(
                _rule(
                    KUBE_NODEPORTS,
                    "-m",
                    "comment",
                    "--comment",
                    spn,
                    "-m",
                    proto,
                    "-p",
                    proto,
                    "--dport",
                    str(sp.node_port),
                    "-j",
                    ext_chain,
                )
            )
            rules.append(
                _rule(
                    ext_chain,
                    "-m",
                    "comment",
                    "--comment",
                    f"masquerade traffic for {spn} external destinations",
                    "-j",
                    KUBE_MARK_MASQ,
                )
            )
            rules.append(_rule(ext_chain, "-j", svc_chain))
        if masquerade_all:
            rules.append(_rule(svc_chain, *vip, "-j", KUBE_MARK_MASQ))
        elif cluster_cidr:
            rules.append(_rule(svc_chain, *vip, "!", "-s", cluster_cidr, "-j", KUBE_MARK_MASQ))
        affinity = svc.session_affinity == "ClientIP"
        if affinity:
            for e, chain in sep:
                rules.append(
                    _rule(
                        svc_chain,
                        "-m",
                        "comment",
                        "--comment",
                        f"{spn} -> {e.address}",
                        "-m",
                        "recent",
                        "--name",
                        chain,
                        "--rcheck",
                        "--seconds",
                        str(svc.affinity_timeout),
                        "--reap",
                        "-j",
                        chain,
                    )
                )
        n = len(sep)
        for i, (e, chain) in enumerate(sep):
            stat = ("-m", "statistic", "--mode", "random", "--probability", probability(n, i)) if i < n - 1 else ()
            rules.append(_rule(svc_chain, "-m", "comment", "--comment", f"{spn} -> {e.address}", *stat, "-j", chain))
        for e, chain in sep:
            rules.append(_rule(chain, "-m", "comment", "--comment", spn, "-s", e.ip, "-j", KUBE_MARK_MASQ))
            recent = ("-m", "recent", "--name", chain, "--set") if affinity else ()
            rules.append(
                _rule(
                    chain,
                    "-m",
                    "comment",
                    "--comment",
                    spn,
                    *recent,
                    "-m",
                    proto,
                    "-p",
                    proto,
                    "-j",
                    "DNAT",
                    "--to-destination",
                    e.address,
                )
            )
    wanted = set(chains)
    for stale in sorted(c for c in set(existing_chains) if is_service_chain(c) and c not in wanted):
        chains.append(stale)
        rules.append(f"-X {stale}")
    rules.append(
        _rule(
            KUBE_SERVICES,
            "-m",
            "comment",
            "--comment",
            "kubernetes service nodeports; NOTE: this must be the last rule in this chain",
            *(() if localhost_nodeports else ("!", "-d", "127.0.0.0/8")),
            "-m",
            "addrtype",
            "--dst-type",
            "LOCAL",
            "-j",
            KUBE_NODEPORTS,
        )
    )
    return _table("nat", chains, rules)


def render_filter(
    services: Sequence[ServiceSpec],
    endpoints_by_service: Mapping[str, Sequence[Endpoint]],
    node: str | None = None,
    *,
    conntrack_tcp_be_liberal: bool = False,
) -> str:
    """The filter table payload for one node: REJECT for service ports without ready endpoints
    (ClusterIP in KUBE-SERVICES, NodePort in KUBE-EXTERNAL-SERVICES) and the KUBE-FORWARD rules.

    ``conntrack_tcp_be_liberal`` (the node's ``nf_conntrack_tcp_be_liberal`` is 1) drops the
    INVALID rule, as kube-proxy does.
    """
    del node
    rules: list[str] = []
    for svc, sp, spn in _ports(services):
        if _endpoints(svc, sp, endpoints_by_service):
            continue
        proto = sp.protocol.lower()
        comment = f"{spn} has no endpoints"
        rules.append(
            _rule(
                KUBE_SERVICES,
                "-m",
                "comment",
                "--comment",
                comment,
                "-m",
                proto,
                "-p",
                proto,
                "-d",
                svc.cluster_ip or "",
                "--dport",
                str(sp.port),
                "-j",
                "REJECT",
            )
        )
        if sp.node_port:
            rules.append(
                _rule(
                    KUBE_EXTERNAL_SERVICES,
                    "-m",
                    "comment",
                    "--comment",
                    comment,
                    "-m",
                    "addrtype",
                    "--dst-type",
                    "LOCAL",
                    "-m",
                    proto,
                    "-p",
                    proto,
                    "--dport",
                    str(sp.node_port),
                    "-j",
                    "REJECT",
                )
            )
    if not conntrack_tcp_be_liberal:
        rules.append(_rule(KUBE_FORWARD, "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP"))
    rules.append(
        _rule(
            KUBE_FORWARD,
            "-m",
            "comment",
            "--comment",
            "kubernetes forwarding rules",
            "-m",
            "mark",
            "--mark",
            f"{MASQ_MARK}/{MASQ_MARK}",
            "-j",
            "ACCEPT",
        )
    )
    rules.append(
        _rule(
            KUBE_FORWARD,
            "-m",
            "comment",
            "--comment",
            "kubernetes forwarding conntrack rule",
            "-m",
            "conntrack",
            "--ctstate",
            "RELATED,ESTABLISHED",
            "-j",
            "ACCEPT",
        )
    )
    return _table("filter", list(FILTER_CHAINS), rules)


def _table(table: str, chains: list[str], rules: list[str]) -> str:
    lines = [f"*{table}", *(f":{c} - [0:0]" for c in dict.fromkeys(chains)), *rules, "COMMIT"]
    return "\n".join(lines) + "\n"


def render_teardown_nat(existing_chains: Iterable[str]) -> str:
    """A nat payload that empties kcli's top-level chains and deletes every per-service chain
    (e.g. after the last service is deleted the normal payload already does this; this is for
    removing kcli from a node). The jumps from built-in chains stay and hit empty chains."""
    stale = sorted(c for c in set(existing_chains) if is_service_chain(c))
    chains = [*NAT_CHAINS, *stale]
    return _table("nat", chains, [f"-X {c}" for c in stale])


# --------------------------------------------------------------------------- applying


def restore_argv() -> tuple[str, ...]:
    """``iptables-restore`` as kube-proxy runs it; the payload of one table goes on stdin."""
    return ("iptables-restore", "-w", "5", "-W", "100000", "--noflush", "--counters")


def save_argv(table: str) -> tuple[str, ...]:
    """``iptables-save`` of one table (observation; parse with ``parse_iptables_save``)."""
    return ("iptables-save", "-t", table)


def jump_rules(tables: Iterable[str] = ("filter", "nat")) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """``JUMP_RULES`` restricted to ``tables``."""
    keep = set(tables)
    return tuple(j for j in JUMP_RULES if j[0] in keep)


def ensure_jump_argvs(
    jump: tuple[str, str, tuple[str, ...]], iptables: str = "iptables"
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The ``(check, insert)`` argv pair for one jump: run insert only if check fails."""
    table, chain, args = jump
    base = (iptables, "-w", "-t", table)
    return (*base, "-C", chain, *args), (*base, "-I", chain, *args)


def render_jump_script(
    jumps: Iterable[tuple[str, str, tuple[str, ...]]] = JUMP_RULES, iptables: str = "iptables"
) -> str:
    """A POSIX sh snippet that ensures each jump exactly once (idempotent, re-run after a docker
    restart): ``-N`` the target chain if missing, then ``-C ... || -I ...`` (prepend)."""
    lines = ["set -e"]
    created: set[tuple[str, str]] = set()
    for jump in jumps:
        table, _, args = jump
        target = args[args.index("-j") + 1]
        if (table, target) not in created:
            created.add((table, target))
            lines.append(f"{shlex.join((iptables, '-w', '-t', table, '-N', target))} 2>/dev/null || true")
        check, insert = ensure_jump_argvs(jump, iptables)
        lines.append(f"{shlex.join(check)} 2>/dev/null || {shlex.join(insert)}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- observing


def parse_iptables_save(text: str, prefixes: tuple[str, ...] = ("KUBE-",)) -> Parsed:
    """``iptables-save`` output (or a restore payload) -> ``{table: {chain: [rule]}}``.

    Keeps every chain named with one of ``prefixes`` (empty ones too) and, from built-in chains,
    only the rules that jump to such a chain. ``-X CHAIN`` (payloads only) removes the chain. Counters
    (``[0:0]`` prefixes) and comments are ignored.
    """
    out: Parsed = {}
    table: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and "]" in line:
            line = line.split("]", 1)[1].strip()
        if not line or line.startswith("#") or line == "COMMIT":
            continue
        if line.startswith("*"):
            table = out.setdefault(line[1:].strip(), {})
            continue
        if table is None:
            continue
        if line.startswith(":"):
            chain = line[1:].split()[0]
            if chain.startswith(prefixes):
                table.setdefault(chain, [])
            continue
        parts = line.split(None, 2)
        if parts[0] == "-X" and len(parts) > 1:
            table.pop(parts[1], None)
        elif parts[0] == "-N" and len(parts) > 1 and parts[1].startswith(prefixes):
            table.setdefault(parts[1], [])
        elif parts[0] == "-A" and len(parts) > 1:
            chain, rule = parts[1], (parts[2] if len(parts) > 2 else "")
            if chain.startswith(prefixes):
                table.setdefault(chain, []).append(rule)
            elif chain in BUILTIN_CHAINS and _target(rule).startswith(prefixes):
                table.setdefault(chain, []).append(rule)
    return out


_WORD = re.compile(r'(?:"[^"]*"|[^\s"])+')


def split_rule(rule: str) -> list[str]:
    """A rule's words as ``shlex.split`` gives them, 10x faster for what iptables-save prints
    (double quotes, no escapes); anything with single quotes or backslashes goes to shlex."""
    if "'" in rule or "\\" in rule:
        return shlex.split(rule)
    if rule.count('"') % 2:
        raise ValueError("No closing quotation")
    return [w.replace('"', "") for w in _WORD.findall(rule)]


def _target(rule: str) -> str:
    try:
        tokens = split_rule(rule)
    except ValueError:
        return ""
    for i, tok in enumerate(tokens[:-1]):
        if tok in ("-j", "--jump", "-g", "--goto"):
            return tokens[i + 1]
    return ""


def expected_rules(
    payloads: Iterable[str],
    jumps: Iterable[tuple[str, str, tuple[str, ...]]] = JUMP_RULES,
    prefixes: tuple[str, ...] = ("KUBE-",),
) -> Parsed:
    """What ``parse_iptables_save`` should find on a node after applying ``payloads`` and ``jumps``."""
    out: Parsed = {}
    for payload in payloads:
        for table, chains in parse_iptables_save(payload, prefixes).items():
            out.setdefault(table, {}).update(chains)
    for table, chain, args in jumps:
        out.setdefault(table, {}).setdefault(chain, []).append(" ".join(quote(a) for a in args))
    return out


_BASE_OPTS = {
    "-s": "-s",
    "--source": "-s",
    "-d": "-d",
    "--destination": "-d",
    "-i": "-i",
    "--in-interface": "-i",
    "-o": "-o",
    "--out-interface": "-o",
    "-p": "-p",
    "--protocol": "-p",
}
_TARGET_OPTS = ("-j", "--jump", "-g", "--goto")
_DROP_DEFAULTS = {
    ("recent", "--mask", "255.255.255.255"),
    ("recent", "--rsource", ""),
    ("REJECT", "--reject-with", "icmp-port-unreachable"),
}


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        return value


def _canon_value(module: str, opt: str, value: str) -> str:
    if module == "statistic" and opt == "--probability":
        return str(round(float(value) * 0x80000000))  # the kernel keeps a 31-bit fraction
    if opt == "--mark":
        return "/".join(hex(int(v, 0)) for v in value.split("/"))
    return value


def _canon_mark_target(opt: str, value: str) -> tuple[str, str]:
    """MARK target options as ``iptables-save`` prints them (``--set-xmark value/mask``)."""
    full = 0xFFFFFFFF
    parts = [int(v, 0) for v in value.split("/")]
    if opt == "--or-mark":
        return "--set-xmark", f"{parts[0]:#x}/{parts[0]:#x}"
    if opt == "--xor-mark":
        return "--set-xmark", f"{parts[0]:#x}/0x0"
    if opt == "--and-mark":
        return "--set-xmark", f"0x0/{~parts[0] & full:#x}"
    if opt in ("--set-mark", "--set-xmark"):  # libxt_MARK: set-mark v/m is stored as v/(v|m)
        mask = parts[1] if len(parts) > 1 else full
        if opt == "--set-mark":
            mask |= parts[0]
        return "--set-xmark", f"{parts[0]:#x}/{mask:#x}"
    return opt, value


def _protocol(base: Mapping[str, str]) -> str:
    return base["-p"].split()[-1] if "-p" in base else ""


def normalize_rule(rule: str) -> str:
    """A canonical form of one rule (the text after ``-A CHAIN``), equal for what kcli renders
    and what ``iptables-save`` prints back: addresses get a prefix length, protocol matches
    (``-m tcp``) fold into ``-p``, match modules and their options are sorted, ``recent`` and
    ``REJECT`` defaults are dropped, probabilities compare as the kernel's 31-bit fraction."""
    tokens = split_rule(rule)
    base: dict[str, str] = {}
    modules: dict[str, list[tuple[str, str, str]]] = {}
    target = ""
    target_opts: list[tuple[str, str, str]] = []
    current: str | None = None  # module receiving options; "" = the target
    neg = ""
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "!":
            neg = "!"
            i += 1
            continue
        if tok in _BASE_OPTS:
            value = tokens[i + 1] if i + 1 < len(tokens) else ""
            key = _BASE_OPTS[tok]
            if key in ("-s", "-d"):
                value = _cidr(value)
            elif key == "-p":
                value = value.lower()
            base[key] = f"{neg}{key} {value}".strip()
            neg, current, i = "", None, i + 2
            continue
        if tok in ("-m", "--match"):
            current = tokens[i + 1] if i + 1 < len(tokens) else ""
            modules.setdefault(current, [])
            i += 2
            continue
        if tok in _TARGET_OPTS:
            target = tokens[i + 1] if i + 1 < len(tokens) else ""
            current, i = "", i + 2
            continue
        # an option of the current module / target, with its values up to the next option
        j = i + 1
        values: list[str] = []
        while (
            j < len(tokens)
            and tokens[j] != "!"
            and not (tokens[j].startswith("-") and len(tokens[j]) > 1 and not tokens[j][1].isdigit())
        ):
            values.append(tokens[j])
            j += 1
            if tok == "--comment":
                break
        value = " ".join(values)
        if current == "":
            opt, val = _canon_mark_target(tok, value) if target == "MARK" else (tok, value)
            target_opts.append((neg, opt, val))
        else:
            mod = current if current is not None else _protocol(base)
            modules.setdefault(mod, []).append((neg, tok, _canon_value(mod, tok, value)))
        neg, i = "", j
    proto = _protocol(base)
    parts: list[str] = [base[k] for k in ("-s", "-d", "-i", "-o", "-p") if k in base]
    for name in sorted(modules):
        opts = sorted(o for o in modules[name] if (name, o[1], o[2]) not in _DROP_DEFAULTS)
        if not opts and name == proto:
            continue
        parts.append(f"-m {name}")
        parts.extend(" ".join(p for p in (n, o, quote(v) if v else "") if p) for n, o, v in opts)
    if target:
        parts.append(f"-j {target}")
        opts = [o for o in target_opts if (target, o[1], o[2]) not in _DROP_DEFAULTS]
        parts.extend(" ".join(p for p in (n, o, quote(v) if v else "") if p) for n, o, v in opts)
    return " ".join(parts)


def diff_rules(
    desired: Mapping[str, Mapping[str, Sequence[str]]], observed: Mapping[str, Mapping[str, Sequence[str]]]
) -> list[str]:
    """Human-readable drift between ``expected_rules(...)`` and ``parse_iptables_save(...)``.

    KUBE-* chains must match rule for rule (normalised, in order); in built-in chains each
    desired jump must be present exactly once. Observed per-service chains that are not desired
    are reported as stale; other foreign KUBE-* chains (kubelet's, kube-proxy canaries) and
    foreign jumps are ignored. An empty list means no drift.
    """
    problems: list[str] = []
    for table in sorted(desired):
        want_chains = desired[table]
        have_chains = observed.get(table, {})
        for chain, want in want_chains.items():
            have = [normalize_rule(r) for r in have_chains.get(chain, ())]
            if chain in BUILTIN_CHAINS:
                for rule in want:
                    count = have.count(normalize_rule(rule))
                    if count == 0:
                        problems.append(f"{table} {chain}: jump missing: {rule}")
                    elif count > 1:
                        problems.append(f"{table} {chain}: jump present {count} times: {rule}")
                continue
            if chain not in have_chains:
                problems.append(f"{table} chain {chain} missing")
                continue
            want_norm = [normalize_rule(r) for r in want]
            if want_norm == have:
                continue
            raw_have = list(have_chains[chain])
            missing = [r for r, n in zip(want, want_norm, strict=False) if n not in have]
            extra = [r for r, n in zip(raw_have, have, strict=False) if n not in want_norm]
            problems.extend(f"{table} chain {chain}: rule missing: {r}" for r in missing)
            problems.extend(f"{table} chain {chain}: unexpected rule: {r}" for r in extra)
            if not missing and not extra:
                problems.append(f"{table} chain {chain}: rules differ in order or count")
        for chain in sorted(have_chains):
            if chain not in want_chains and is_service_chain(chain):
                problems.append(f"{table} chain {chain} is stale")
    return problems
