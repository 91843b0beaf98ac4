"""`kcli verify`: probe every ClusterIP service from the pod network of every node, and every
NodePort from the machine running kcli; name the failing hop."""

from __future__ import annotations

import socket
from contextlib import nullcontext
from dataclasses import dataclass, field

from kcli.core.servicesync import current_services, dns_args, probe_script
from kcli.core.state import leases_of, network_of
from kcli.core.workloads import state_objects
from kcli.errors import PlanError
from kcli.shell.clusterview import observe_cluster
from kcli.shell.fanout import run_on_hosts
from kcli.shell.statestore import StateStore, state_dir_for
from kcli.shell.transport import SshPool

PROBE_IMAGE = "kcli.local/busybox:1"


@dataclass
class VerifyResult:
    rows: list[dict] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return len(self.failed)


def _verdict(vip: str, ep: str, dns: str, has_eps: bool) -> str:
    if not has_eps:
        return "SKIP (no ready endpoints)"
    if vip == "ok":
        return "OK" if dns == "ok" else "FAIL: DNS (VIP answers, name does not resolve)"
    if ep == "ok":
        return f"FAIL: service rules on this node (VIP {vip}, endpoint answers)"
    return f"FAIL: endpoint unreachable from this node (VIP {vip}, endpoint {ep}): overlay or pod"


def verify(inv, timeout: float = 3.0, *, pool: SshPool | None = None, store: StateStore | None = None) -> VerifyResult:
    """With ``pool`` (the caller's, left open) and ``store``; by default its own pool and the default state."""
    state = (store or StateStore(state_dir_for(inv), inv.cluster)).load()
    net = network_of(state)
    if net is None:
        raise PlanError(f"cluster {inv.cluster} is not bootstrapped: run `kcli bootstrap` first")
    leases = leases_of(state)
    objects, _, _ = state_objects(state)
    out = VerifyResult()
    with SshPool(inv) if pool is None else nullcontext(pool) as pool:
        view, _ = observe_cluster(pool, inv)
        specs, eps = current_services(objects, state.get("services") or {}, net.service_cidr, view.all_pods())
        if not specs:
            return out
        probe = probe_script(specs, eps, max(1, int(timeout)))
        hosts = [h for h in inv.hosts if h.name in leases and h.name not in view.errors]

        def run(h):
            argv = [
                "docker",
                "run",
                "--rm",
                "--network",
                "kcli-pods",
                *dns_args("default", leases[h.name].subnet),
                "--label",
                "io.kcli.managed=true",
                "--label",
                "io.kcli.system=verify",
                PROBE_IMAGE,
                "sh",
                "-c",
                probe,
            ]
            return pool.get(h).run(argv, timeout=60 + len(specs) * 3 * timeout, check=True).stdout

        res = run_on_hosts(run, hosts)
    for h in inv.hosts:
        if h.name in view.errors or h.name in res.errors:
            err = view.errors.get(h.name) or str(res.errors.get(h.name))
            out.rows.append({"NODE": h.name, "SERVICE": "*", "PORT": "*", "RESULT": f"FAIL: node unreachable: {err}"})
            out.failed.append(f"{h.name}: {err}")
            continue
        for line in (res.values.get(h.name) or "").splitlines():
            parts = line.split("|")
            if len(parts) != 5:
                continue
            key, port, vip, ep, dns = parts
            verdict = _verdict(vip, ep, dns, ep != "none")
            out.rows.append({"NODE": h.name, "SERVICE": key, "PORT": port, "RESULT": verdict})
            if verdict.startswith("FAIL"):
                out.failed.append(f"{h.name}: {key}:{port}: {verdict}")
    for s in specs:
        for p in s.ports:
            if not p.node_port or p.protocol != "TCP":
                continue
            has_eps = any(e.ready for e in eps.get(s.key, ()))
            for h in inv.hosts:
                if not has_eps:
                    verdict = "SKIP (no ready endpoints)"
                else:
                    try:
                        socket.create_connection((h.address, p.node_port), timeout=timeout).close()
                        verdict = "OK"
                    except OSError as exc:
                        verdict = f"FAIL: NodePort from here: {exc.strerror or exc}"
                out.rows.append(
                    {"NODE": h.name, "SERVICE": f"{s.key} (NodePort)", "PORT": str(p.node_port), "RESULT": verdict}
                )
                if verdict.startswith("FAIL"):
                    out.failed.append(f"{h.name}: {s.key}:{p.node_port}: {verdict}")
    return out
