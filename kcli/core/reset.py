"""`kcli reset` (kubeadm reset): the steps that remove everything kcli put on a host (pure)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from kcli.core.commands.shell import Step, sh
from kcli.core.facts.host import DAEMON_ABSENT_MARK, DAEMON_BACKUP, MANAGED_FILES
from kcli.core.hostsetup import RESTART_DOCKER
from kcli.core.lock import KEPT_BY_RESET, LOCK_DIR
from kcli.core.network import POD_NETWORK, VXLAN_DEV, ClusterNetwork, NodeLease
from kcli.core.overlay import GUARD_JUMPS, OVERLAY_JUMPS

MANAGED_LABEL = "io.kcli.managed=true"
OWNED_CHAIN_PREFIXES = ("KCLI-",)


def _remove_jump(table: str, chain: str, args: tuple[str, ...]) -> str:
    base = ("iptables", "-w", "-t", table)
    return f"while {sh((*base, '-C', chain, *args))} 2>/dev/null; do {sh((*base, '-D', chain, *args))}; done"


_CHAIN_PREFIX = re.compile(r"[A-Za-z0-9_-]+")


def _remove_chains(table: str, prefixes: tuple[str, ...]) -> str:
    # The prefixes go into a sed expression: only chain-name characters, which are neither shell
    # nor sed syntax, are accepted (they are kcli's own constants).
    for p in prefixes:
        if not _CHAIN_PREFIX.fullmatch(p):
            raise ValueError(f"chain prefix {p!r}: only letters, digits, '_' and '-'")
    pat = "\\|".join(prefixes)
    t = shlex.quote(table)
    return (
        f"chains=$(iptables-save -t {t} | sed -n 's/^:\\(\\({pat}\\)[^ ]*\\) .*/\\1/p'); "
        f'for c in $chains; do iptables -w -t {t} -F "$c"; done; '
        f'for c in $chains; do iptables -w -t {t} -X "$c"; done'
    )


def reset_steps(
    host: str,
    net: ClusterNetwork | None,
    peers: Mapping[str, NodeLease],
    extra_jumps: tuple[tuple[str, str, tuple[str, ...]], ...] = (),
    extra_chain_prefixes: tuple[str, ...] = (),
) -> list[Step]:
    """Everything idempotent: running reset twice is harmless."""
    prefixes = OWNED_CHAIN_PREFIXES + extra_chain_prefixes
    steps = [
        Step(
            host,
            "containers",
            "remove every container labelled io.kcli.managed",
            (
                f"ids=$({sh(('docker', 'ps', '-aq', '--filter', f'label={MANAGED_LABEL}'))}); "
                'if [ -n "$ids" ]; then docker rm -f -v $ids >/dev/null; fi',
            ),
        ),
        Step(
            host,
            "pod-network",
            f"remove docker network {POD_NETWORK}",
            (
                f"if {sh(('docker', 'network', 'inspect', POD_NETWORK))} >/dev/null 2>&1; then "
                f"{sh(('docker', 'network', 'rm', POD_NETWORK))} >/dev/null; fi",
            ),
        ),
        Step(
            host,
            "vxlan-device",
            f"remove {VXLAN_DEV}",
            (
                f"if {sh(('ip', 'link', 'show', VXLAN_DEV))} >/dev/null 2>&1; then {sh(('ip', 'link', 'del', VXLAN_DEV))}; fi",
            ),
        ),
    ]
    if net is not None and net.backend == "host-gw" and peers:
        steps.append(
            Step(
                host,
                "routes",
                "remove host-gw routes to peers",
                tuple(f"{sh(('ip', 'route', 'del', p.subnet))} 2>/dev/null || true" for p in peers.values()),
            )
        )
    jumps = OVERLAY_JUMPS + GUARD_JUMPS + extra_jumps
    steps.append(
        Step(
            host,
            "iptables",
            f"remove jumps and {', '.join(p + '*' for p in prefixes)} chains",
            (
                *(_remove_jump(*j) for j in jumps),
                _remove_chains("filter", prefixes),
                _remove_chains("nat", prefixes),
            ),
        )
    )
    files = [MANAGED_FILES["modules"], MANAGED_FILES["sysctl"], MANAGED_FILES["subnet_env"]]
    steps.append(
        Step(
            host,
            "files",
            "remove kcli's config files and data directories",
            (
                sh(("rm", "-f", *files)),
                remove_data_but_the_lock(),
                sh(("rm", "-rf", "/run/kcli")),
                "rmdir /run/flannel 2>/dev/null || true",
            ),
        )
    )
    d, b, a = (shlex.quote(x) for x in (MANAGED_FILES["daemon"], DAEMON_BACKUP, DAEMON_ABSENT_MARK))
    steps.append(
        Step(
            host,
            "docker-config",
            "restore the docker config kcli replaced (restart docker if it changes)",
            (
                "restored=0",
                f"if [ -e {b} ]; then if cmp -s {b} {d}; then rm -f {b}; else mv -f {b} {d}; restored=1; fi; "
                f"elif [ -e {a} ]; then rm -f {d} {a}; restored=1; fi",
                f"if [ $restored = 1 ]; then\n{RESTART_DOCKER}\nfi",
            ),
        )
    )
    return steps


def remove_data_but_the_lock(top: str = LOCK_DIR.rsplit("/", 1)[0]) -> str:
    """Remove /var/lib/kcli but what the cluster lock keeps there (kcli.core.lock.KEPT_BY_RESET)."""
    top = shlex.quote(top)
    keep = " ".join(f"! -name {shlex.quote(n)}" for n in KEPT_BY_RESET)
    return f"if [ -d {top} ]; then find {top} -mindepth 1 -maxdepth 1 {keep} -exec rm -rf {{}} +; fi"
