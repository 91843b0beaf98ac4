"""`kcli sandbox`: a local cluster of node containers (sshd + their own dockerd) on fixed IPs.

Everything created is labelled ``io.kcli.sandbox=<name>`` so that ``down`` removes exactly what
``up`` made. Host keys are read out of band (``docker exec``) into a known_hosts file; kcli then
talks to the nodes over real SSH with strict host-key checking like to any other host.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from kcli.core.inventory import Host, Inventory
from kcli.errors import ConnectError, ExecutionError, SandboxError
from kcli.shell.config import delete_context, kcli_home, set_context
from kcli.shell.local import run_local
from kcli.shell.sandbox.image import ensure_image
from kcli.shell.transport import SshConnection

LABEL = "io.kcli.sandbox"
CAP_NAMES = (
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE "
    "NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT "
    "SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE "
    "AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ "
    "PERFMON BPF CHECKPOINT_RESTORE"
).split()
Log = Callable[[str], None]


@dataclass
class SandboxNode:
    name: str
    container: str
    address: str
    volume: str


@dataclass
class Sandbox:
    name: str
    network: str
    subnet: str
    image: str
    init: str
    nodes: list[SandboxNode] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        return sandbox_dir(self.name)

    @property
    def inventory_path(self) -> Path:
        return self.dir / "inventory.yaml"


def sandbox_dir(name: str) -> Path:
    return kcli_home() / "sandboxes" / name


def _docker(*argv: str, check: bool = True, timeout: float = 120):
    return run_local(["docker", *argv], check=check, timeout=timeout)


def missing_capabilities() -> list[str]:
    """Capabilities absent from this machine's bounding set (these make --privileged fail)."""
    bnd = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            bnd = int(line.split()[1], 16)
    try:
        last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except OSError:
        last = len(CAP_NAMES) - 1
    return [CAP_NAMES[i] for i in range(min(last + 1, len(CAP_NAMES))) if not bnd & (1 << i)]


def privilege_flags() -> list[str]:
    """--privileged where the host allows it, else 'almost privileged' (docs/design.md, Sandbox)."""
    missing = missing_capabilities()
    if not missing:
        return ["--privileged", "--cgroupns", "private"]
    flags = ["--cap-add", "ALL"]
    for cap in missing:
        flags += ["--cap-drop", cap]
    return flags + [
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "apparmor=unconfined",
        "--security-opt",
        "systempaths=unconfined",
        "--device-cgroup-rule",
        "a *:* rwm",
        "--cgroupns",
        "private",
    ]


def _subnet_candidates(name: str) -> list[str]:
    start = zlib.crc32(name.encode()) % 200
    return [f"172.30.{(start + i) % 256}.0/24" for i in range(256)]


def _bridge_rule(net: str, sb_name: str) -> list[str] | None:
    """DOCKER-USER rule letting node↔node traffic cross the sandbox bridge whatever its addresses
    (host-gw routes pod subnets between nodes; docker's internal-network isolation would drop
    them). Traffic leaving the bridge stays blocked."""
    res = _docker("network", "inspect", "-f", "{{.Id}}", net, check=False)
    if res.returncode != 0:
        return None
    br = "br-" + res.stdout.strip()[:12]
    return ["DOCKER-USER", "-i", br, "-o", br, "-m", "comment", "--comment", f"kcli sandbox {sb_name}", "-j", "ACCEPT"]


def _ensure_bridge_rule(net: str, sb_name: str) -> None:
    rule = _bridge_rule(net, sb_name)
    if rule is None:
        return
    if run_local(["iptables", "-w", "-C", *rule], check=False).returncode != 0:
        run_local(["iptables", "-w", "-N", "DOCKER-USER"], check=False)
        run_local(["iptables", "-w", "-I", *rule])


def _remove_bridge_rule(net: str, sb_name: str) -> None:
    rule = _bridge_rule(net, sb_name)
    while rule is not None and run_local(["iptables", "-w", "-D", *rule], check=False).returncode == 0:
        pass


def _ensure_network(sb_name: str, log: Log) -> tuple[str, str]:
    """An *internal* bridge: this machine reaches the nodes, but nothing inside the sandbox can
    send traffic beyond this machine (no registry is needed, and no test may leak)."""
    net = f"kcli-{sb_name}"
    found = _docker("network", "inspect", net, check=False)
    if found.returncode == 0:
        info = json.loads(found.stdout)[0]
        if info.get("Internal"):
            return net, info["IPAM"]["Config"][0]["Subnet"]
        log(f"network {net} is not internal (made by an older kcli): recreating sandbox {sb_name}")
        down(sb_name, log)
    for subnet in _subnet_candidates(sb_name):
        gw = subnet.rsplit(".", 1)[0] + ".1"
        res = _docker(
            "network",
            "create",
            "--driver",
            "bridge",
            "--internal",
            "--subnet",
            subnet,
            "--gateway",
            gw,
            "--label",
            f"{LABEL}={sb_name}",
            net,
            check=False,
        )
        if res.returncode == 0:
            log(f"network {net} {subnet}")
            return net, subnet
        if "overlap" not in res.stderr and "in use" not in res.stderr:
            raise SandboxError(f"docker network create {net}: {res.stderr.strip()}")
    raise SandboxError("no free 172.30.x.0/24 subnet for the sandbox network")


def _load_meta(name: str) -> Sandbox | None:
    p = sandbox_dir(name) / "sandbox.json"
    if not p.exists():
        return None
    d = json.loads(p.read_text())
    d["nodes"] = [SandboxNode(**n) for n in d.get("nodes", [])]
    return Sandbox(**d)


def _save_meta(sb: Sandbox) -> None:
    sb.dir.mkdir(parents=True, exist_ok=True)
    tmp = sb.dir / "sandbox.json.tmp"
    tmp.write_text(json.dumps(asdict(sb), indent=2, sort_keys=True))
    os.replace(tmp, sb.dir / "sandbox.json")


def _ensure_key(sb_dir: Path) -> Path:
    key = sb_dir / "id_ed25519"
    if not key.exists():
        sb_dir.mkdir(parents=True, exist_ok=True)
        run_local(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"kcli-sandbox@{sb_dir.name}", "-f", str(key)])
    os.chmod(key.with_suffix(".pub"), 0o644)
    return key


def _container_state(container: str) -> str | None:
    res = _docker("inspect", "-f", "{{.State.Status}}", container, check=False)
    return res.stdout.strip() if res.returncode == 0 else None


def _run_node(sb: Sandbox, node: SandboxNode, key: Path) -> None:
    flags = [
        "run",
        "-d",
        "--name",
        node.container,
        "--hostname",
        node.name,
        "--network",
        sb.network,
        "--ip",
        node.address,
        "--label",
        f"{LABEL}={sb.name}",
        "--label",
        f"io.kcli.node={node.name}",
        "--label",
        f"io.kcli.init={sb.init}",
        *privilege_flags(),
        "--tmpfs",
        "/run",
        "--tmpfs",
        "/run/lock",
        "--tmpfs",
        "/tmp",
        "-v",
        f"{node.volume}:/var/lib/docker",
        "-v",
        f"{key.with_suffix('.pub')}:/root/.ssh/authorized_keys:ro",
    ]
    if Path("/lib/modules").is_dir():
        flags += ["-v", "/lib/modules:/lib/modules:ro"]
    if sb.init == "systemd":
        flags += ["--stop-signal", "SIGRTMIN+3", sb.image, "/sbin/init"]
    else:
        flags += ["--init", sb.image, "/usr/local/bin/kcli-entrypoint"]
    _docker("volume", "create", "--label", f"{LABEL}={sb.name}", node.volume)
    _docker(*flags)


def _read_host_key(container: str, deadline: float) -> str:
    while True:
        res = _docker("exec", container, "cat", "/etc/ssh/ssh_host_ed25519_key.pub", check=False)
        if res.returncode == 0 and res.stdout.startswith("ssh-"):
            return " ".join(res.stdout.split()[:2])
        if time.monotonic() > deadline:
            logs = _docker("logs", "--tail", "20", container, check=False)
            raise SandboxError(f"{container}: no ssh host key after waiting: {logs.stdout[-800:]}{logs.stderr[-800:]}")
        time.sleep(0.2)


def _wait_ready(host: Host, inv: Inventory, deadline: float) -> str:
    """Ready = sshd answers with the recorded host key and the node's docker answers."""
    last = ""
    while time.monotonic() < deadline:
        conn = SshConnection(host, inv)
        try:
            res = conn.run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=10)
            if res.ok and res.stdout.strip():
                return res.stdout.strip()
            last = res.stderr.strip()
        except (ConnectError, ExecutionError) as exc:
            last = str(exc)
        finally:
            conn.close()
        time.sleep(0.3)
    raise SandboxError(f"{host.name} not ready in time: {last}")


def write_inventory(sb: Sandbox, key: Path) -> Inventory:
    hosts = []
    for i, n in enumerate(sb.nodes):
        hosts.append(
            {
                "name": n.name,
                "address": n.address,
                "roles": ["control-plane"] if i == 0 else ["worker"],
                "labels": {"kcli.io/sandbox": sb.name},
            }
        )
    doc = {
        "cluster": sb.name,
        "defaults": {"user": "root", "port": 22, "identity_file": key.name, "connect_timeout": 3},
        "ssh": {"known_hosts": "known_hosts"},
        "hosts": hosts,
    }
    text = "# Written by `kcli sandbox up`; regenerated on every up.\n" + yaml.safe_dump(doc, sort_keys=False)
    tmp = sb.inventory_path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, sb.inventory_path)
    from kcli.core.inventory import parse_inventory

    return parse_inventory(doc, source=str(sb.inventory_path), base_dir=str(sb.dir))


def up(
    name: str = "kcli", nodes: int = 3, init: str = "systemd", log: Log = print, timeout: float = 90
) -> tuple[Sandbox, dict]:
    """Create or reuse the sandbox; returns it with timings. Idempotent."""
    if init not in ("systemd", "none"):
        raise SandboxError("--init must be systemd or none")
    if not 1 <= nodes <= 50:
        raise SandboxError("--nodes must be between 1 and 50")
    t0 = time.monotonic()
    image, how = ensure_image(log)
    timings = {"image": round(time.monotonic() - t0, 2), "image_source": how}
    net, subnet = _ensure_network(name, log)
    _ensure_bridge_rule(net, name)
    old = _load_meta(name)
    prefix = subnet.rsplit(".", 1)[0]
    sb = Sandbox(name=name, network=net, subnet=subnet, image=image, init=old.init if old else init)
    if old and old.init != init and old.nodes:
        log(f"sandbox {name} already runs with init={old.init}; keeping it (down first to change)")
    key = _ensure_key(sb.dir)
    count = max(nodes, len(old.nodes) if old else 0)
    sb.nodes = [
        SandboxNode(f"node{i}", f"kcli-{name}-node{i}", f"{prefix}.{10 + i}", f"kcli-{name}-node{i}-docker")
        for i in range(1, count + 1)
    ]
    t1 = time.monotonic()
    for node in sb.nodes:
        state = _container_state(node.container)
        if state is None:
            log(f"starting {node.name} ({node.address})")
            _run_node(sb, node, key)
        elif state != "running":
            log(f"restarting {node.name}")
            _docker("start", node.container)
    _save_meta(sb)
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(max_workers=len(sb.nodes)) as pool:
        keys = list(pool.map(lambda n: _read_host_key(n.container, deadline), sb.nodes))
    (sb.dir / "known_hosts").write_text("".join(f"{n.address} {k}\n" for n, k in zip(sb.nodes, keys, strict=False)))
    inv = write_inventory(sb, key)
    with ThreadPoolExecutor(max_workers=len(sb.nodes)) as pool:
        list(pool.map(lambda h: _wait_ready(h, inv, deadline), inv.hosts))
    timings["nodes_ready"] = round(time.monotonic() - t1, 2)
    timings["total"] = round(time.monotonic() - t0, 2)
    set_context(name, str(sb.inventory_path))
    return sb, timings


def down(name: str = "kcli", log: Log = print) -> int:
    """Remove every container, volume and network labelled for this sandbox; returns the count."""
    removed = 0
    ids = _docker("ps", "-aq", "--filter", f"label={LABEL}={name}").stdout.split()
    if ids:
        _docker("rm", "-f", "-v", *ids, timeout=180)
        removed += len(ids)
    vols = _docker("volume", "ls", "-q", "--filter", f"label={LABEL}={name}").stdout.split()
    if vols:
        _docker("volume", "rm", "-f", *vols)
        removed += len(vols)
    nets = _docker("network", "ls", "-q", "--filter", f"label={LABEL}={name}").stdout.split()
    _remove_bridge_rule(f"kcli-{name}", name)
    if nets:
        _docker("network", "rm", *nets)
        removed += len(nets)
    d = sandbox_dir(name)
    for f in ("sandbox.json", "inventory.yaml", "known_hosts"):
        (d / f).unlink(missing_ok=True)
    shutil.rmtree(d / "state", ignore_errors=True)  # the state of a cluster that no longer exists
    delete_context(name)
    return removed


def get(name: str) -> Sandbox:
    sb = _load_meta(name)
    if sb is None:
        raise SandboxError(f"no sandbox named {name!r}; run `kcli sandbox up --name {name}`")
    return sb


def status(name: str) -> list[dict]:
    sb = get(name)
    return [
        {
            "name": n.name,
            "container": n.container,
            "address": n.address,
            "state": _container_state(n.container) or "missing",
        }
        for n in sb.nodes
    ]


def node(name: str, node_name: str) -> SandboxNode:
    sb = get(name)
    for n in sb.nodes:
        if n.name == node_name:
            return n
    raise SandboxError(f"sandbox {name} has no node {node_name!r} (nodes: {', '.join(n.name for n in sb.nodes)})")


def stop_node(name: str, node_name: str) -> None:
    _docker("stop", "-t", "5", node(name, node_name).container)


def start_node(name: str, node_name: str, timeout: float = 60) -> None:
    n = node(name, node_name)
    _docker("start", n.container)
    sb = get(name)
    from kcli.shell.config import load_inventory

    inv = load_inventory(str(sb.inventory_path))
    _wait_ready(inv.host(node_name), inv, time.monotonic() + timeout)


def ssh_argv(name: str, node_name: str, command: list[str]) -> list[str]:
    sb = get(name)
    n = node(name, node_name)
    return [
        "ssh",
        "-i",
        str(sb.dir / "id_ed25519"),
        "-o",
        f"UserKnownHostsFile={sb.dir / 'known_hosts'}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        f"root@{n.address}",
        *command,
    ]
