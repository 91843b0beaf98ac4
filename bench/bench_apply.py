"""kcli apply on a real 3-node sandbox against its floor (issue 9, part 7 "Speed").

    python bench/bench_apply.py [--runs 5] [--sandbox bench] [--warmup 1] [--no-write]

Brings up its own sandbox (``kcli sandbox up --name NAME --nodes 3``) under a private, temporary
KCLI_HOME (so a user's sandboxes and contexts are never touched), bootstraps it, loads
kcli.local/busybox:1, then measures interleaved per run (floor, batched OpenSSH, kcli, floor, ...):

* floor: the node-side docker commands alone, run with ``docker exec <node container> sh -c
  SCRIPT`` from this machine, nodes in parallel: create (10 ``docker run -d`` per node), replace
  (``docker rm -f`` of the 10, then 10 ``docker run -d``), delete (one ``docker rm -f`` of 10);
* the same scripts over one OpenSSH connection per node (sandbox key and known_hosts), nodes in
  parallel, plus the batched observation (``docker ps -a --filter label=io.kcli.managed=true
  --format '{{json .}}'; iptables-save``) that is the baseline of a no-change apply;
* kcli: ``apply -f W`` (create), ``apply -f W`` again (no change), ``apply -f W'`` (W with its env
  changed: all 30 pods replaced), ``delete -f W'``, ``kcli --help``, ``kcli --version``, ``kcli get nodes``.

W is 30 busybox pods (``sleep 3600``, imagePullPolicy Never) pinned 10 per node: three
Deployments of 10 replicas with nodeSelector kubernetes.io/hostname=nodeN and strategy Recreate
(W' replaces every pod at once, as the floor's rm + run does; a RollingUpdate would take
maxSurge/maxUnavailable steps on purpose). The floor's docker run
carries the flags kcli gives one app container (``-d --init --restart always --cpu-shares 2
--env-file``, the same 16 labels by size, ``--entrypoint sleep``), minus the pause container: the
network flags the pause container would carry (pod network, hostname, DNS) go on the app
container itself, so each floor container still has its own IP on the node's pod network.

Wall times are time.perf_counter around the subprocess(es). The table gives median and min–max
of --runs runs (after --warmup uncounted runs), and the ratio of medians to each row's floor. The
table is printed and, unless --no-write, written into BENCHMARKS.md (section
"Apply on a 3-node sandbox (bench/bench_apply.py)", replaced on rerun). Every subprocess has a
timeout; the only network traffic goes to the sandbox nodes' own addresses. The sandbox is torn
down in a ``finally``. A failing kcli command is reported with its stderr, never hidden.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Apply on a 3-node sandbox (bench/bench_apply.py)"
IMAGE = "kcli.local/busybox:1"
PODS_PER_NODE = 10
NODES = 3
KCLI_TIMEOUT = 600.0
NODE_TIMEOUT = 300.0
SETUP_TIMEOUT = 900.0
BENCH_LABEL = "io.kcli-bench.floor"  # floor containers: never io.kcli.managed, so kcli never sees them


# --------------------------------------------------------------------------- subprocess helpers


@dataclass
class Failure:
    what: str
    rc: int | str
    stderr: str


@dataclass
class Ctx:
    home: Path
    kcli: list[str]
    env: dict[str, str]
    sandbox: str
    sb_dir: Path = Path()
    inventory: Path = Path()
    nodes: list[dict] = field(default_factory=list)  # name, container, address, gateway
    failures: list[Failure] = field(default_factory=list)

    def fail(self, what: str, rc, stderr: str) -> None:
        self.failures.append(Failure(what, rc, stderr.strip()[-3000:]))
        print(f"!! {what} failed (rc={rc}):\n{stderr.strip()[-3000:]}", file=sys.stderr, flush=True)


def run(
    argv: list[str], *, timeout: float, env: dict | None = None, input: str | None = None
) -> subprocess.CompletedProcess:
    """subprocess.run with a timeout; a timeout becomes rc 124 with a message on stderr."""
    try:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return subprocess.CompletedProcess(argv, 124, "", f"{err}\n[timed out after {timeout:.0f} s]")


def kcli(
    ctx: Ctx, *args: str, timeout: float = KCLI_TIMEOUT, what: str | None = None
) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    proc = run([*ctx.kcli, *args], timeout=timeout, env=ctx.env)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        ctx.fail(what or "kcli " + " ".join(args), proc.returncode, proc.stderr or proc.stdout)
    return dt, proc


def parallel(
    ctx: Ctx, what: str, argvs: list[list[str]], timeout: float = NODE_TIMEOUT
) -> tuple[float, list[subprocess.CompletedProcess]]:
    """Run one argv per node in parallel; wall time from the first start to the last end."""
    t = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(argvs)) as pool:
        procs = list(pool.map(lambda a: run(a, timeout=timeout), argvs))
    dt = time.perf_counter() - t
    for node, p in zip(ctx.nodes, procs, strict=False):
        if p.returncode != 0:
            ctx.fail(f"{what} on {node['name']}", p.returncode, p.stderr or p.stdout)
    return dt, procs


def docker_exec(node: dict, script: str) -> list[str]:
    return ["docker", "exec", node["container"], "sh", "-c", script]


def ssh(ctx: Ctx, node: dict, script: str) -> list[str]:
    """One fresh OpenSSH connection (no user config, no multiplexing), strict host-key checking."""
    return [
        "ssh",
        "-F",
        "/dev/null",
        "-i",
        str(ctx.sb_dir / "id_ed25519"),
        "-o",
        f"UserKnownHostsFile={ctx.sb_dir / 'known_hosts'}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
        "-o",
        "ControlMaster=no",
        "-o",
        "ControlPath=none",
        "-o",
        "LogLevel=ERROR",
        f"root@{node['address']}",
        "sh -c " + shlex.quote(script),
    ]


# --------------------------------------------------------------------------- workload and scripts


def workload(gen: str) -> str:
    docs = []
    for n in range(1, NODES + 1):
        docs.append(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: bench-node{n}
  namespace: default
spec:
  replicas: {PODS_PER_NODE}
  strategy: {{type: Recreate}}  # W' replaces all 30 at once: what the floor's rm + run measures
  selector:
    matchLabels: {{app: bench-node{n}}}
  template:
    metadata:
      labels: {{app: bench-node{n}}}
    spec:
      nodeSelector: {{kubernetes.io/hostname: node{n}}}
      containers:
      - name: app
        image: {IMAGE}
        imagePullPolicy: Never
        command: [sleep, "3600"]
        env:
        - {{name: BENCH_GEN, value: "{gen}"}}
""")
    return "---\n".join(docs)


def floor_names(node: dict) -> list[str]:
    return [f"bench-floor-{node['name']}-{i:02d}" for i in range(PODS_PER_NODE)]


def floor_run(node: dict, i: int, name: str) -> str:
    """One pod's app container as kcli runs it (kcli/core/podrun.py create_pod_lines), minus the
    pause container: the pause container's network flags go on the app container."""
    pod = f"bench-{node['name']}-0123456789-{i:05d}"
    uid = f"{i:08d}-0000-0000-0000-{node['name']:0>12}"[:36]
    # the 16 labels kcli puts on an app container, same sizes, under a key prefix kcli ignores
    labels = {
        "app": f"bench-{node['name']}",
        "io.kcli.applied": f"Deployment/bench-{node['name']}",
        "io.kcli.container": "app",
        "io.kcli.managed": "false",
        "io.kcli.namespace": "default",
        "io.kcli.owner": f"ReplicaSet/bench-{node['name']}-0123456789",
        "io.kcli.pod": pod,
        "io.kcli.pod-uid": uid,
        "io.kcli.spec-hash": "9425766979",
        "io.kcli.type": "container",
        "io.kubernetes.container.name": "app",
        "io.kubernetes.docker.type": "container",
        "io.kubernetes.pod.name": pod,
        "io.kubernetes.pod.namespace": "default",
        "io.kubernetes.pod.uid": uid,
        "pod-template-hash": "0123456789",
    }
    argv = [
        "docker",
        "run",
        "-d",
        "--name",
        name,
        "--init",
        "--restart",
        "always",
        "--network",
        "kcli-pods",
        "--hostname",
        pod,
        "--dns",
        node["gateway"],
        "--dns-search",
        "default.svc.cluster.local",
        "--dns-search",
        "svc.cluster.local",
        "--dns-search",
        "cluster.local",
        "--dns-option",
        "ndots:5",
        "--cpu-shares",
        "2",
        "--env-file",
        "/run/kcli-bench/env",
        "--label",
        f"{BENCH_LABEL}=true",
    ]
    for k in sorted(labels):
        argv += ["--label", f"bench.{k}={labels[k]}"]
    argv += ["--entrypoint", "sleep", IMAGE, "3600"]
    return shlex.join(argv) + " >/dev/null"


def floor_script(node: dict, op: str, gen: str = "1") -> str:
    names = floor_names(node)
    env = f"mkdir -p /run/kcli-bench && printf 'BENCH_GEN=%s\\n' {shlex.quote(gen)} > /run/kcli-bench/env"
    runs = [floor_run(node, i, n) for i, n in enumerate(names)]
    rm = shlex.join(["docker", "rm", "-f", *names]) + " >/dev/null"
    if op == "create":
        return "set -e\n" + "\n".join([env, *runs]) + "\n"
    if op == "replace":
        return "set -e\n" + "\n".join([rm, env, *runs]) + "\n"
    if op == "delete":
        return "set -e\n" + rm + "\n"
    raise ValueError(op)


OBSERVE_SCRIPT = "docker ps -a --filter label=io.kcli.managed=true --format '{{json .}}'; iptables-save"
FLOOR_CLEAN = f'ids=$(docker ps -aq --filter label={BENCH_LABEL}=true); [ -z "$ids" ] || docker rm -f $ids >/dev/null'


# --------------------------------------------------------------------------- measurements


@dataclass
class Profile:
    round_trips: dict[str, int]
    received: dict[str, int]
    connect: dict[str, float]
    commands: dict[str, float]
    api: dict[str, int] = field(default_factory=dict)  # docker API exchanges beside the commands


def parse_profile(stderr: str) -> Profile | None:
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        if line.split()[:2] == ["HOST", "ROUND-TRIPS"]:
            p = Profile({}, {}, {}, {})
            for row in lines[i + 1 :]:
                parts = row.split()
                if len(parts) not in (6, 7) or not parts[1].isdigit():
                    break
                if len(parts) == 7 and parts[6].isdigit():
                    p.api[parts[0]] = int(parts[6])
                p.round_trips[parts[0]] = int(parts[1])
                p.received[parts[0]] = int(parts[3])
                p.connect[parts[0]] = float(parts[4].rstrip("s"))
                p.commands[parts[0]] = float(parts[5].rstrip("s"))
            return p
    return None


ROWS = [
    # key, label, floor key, target factor, target text
    ("floor.create", "floor: 10 `docker run -d` per node (docker exec, nodes in parallel)", None, None, ""),
    ("ssh.create", "one OpenSSH per node, same batched script", "floor.create", None, ""),
    ("kcli.create", "`kcli apply -f W` (create 30 pods)", "floor.create", 1.3, "≤ 1.3 × floor"),
    ("floor.replace", "floor: `docker rm -f` of 10 + 10 `docker run -d` per node", None, None, ""),
    ("ssh.replace", "one OpenSSH per node, rm + run script", "floor.replace", None, ""),
    ("kcli.replace", "`kcli apply -f W'` (env changed: replace 30)", "floor.replace", 1.5, "≤ 1.5 × rm+run floor"),
    ("floor.delete", "floor: one `docker rm -f` of 10 per node", None, None, ""),
    ("ssh.delete", "one OpenSSH per node, `docker rm -f` of 10", "floor.delete", None, ""),
    ("kcli.delete", "`kcli delete -f W'`", "floor.delete", 1.3, "≤ 1.3 × one `docker rm -f` per node"),
    ("ssh.observe", "batched OpenSSH observation (`docker ps -a …` + `iptables-save`, 1 ssh per node)", None, None, ""),
    ("kcli.noop", "`kcli apply -f W` again (no change)", "ssh.observe", 1.5, "≤ 1.5 × observation, 1 round trip/node"),
    ("kcli.help", "`kcli --help`", None, None, "≤ 0.2 s"),
    ("kcli.version", "`kcli --version`", None, None, "≤ 0.2 s"),
    ("kcli.getnodes", "`kcli get nodes` (3 nodes)", None, None, "≤ 0.5 s"),
]
ABS_TARGETS = {"kcli.help": 0.2, "kcli.version": 0.2, "kcli.getnodes": 0.5}


@dataclass
class Results:
    times: dict[str, list[float]] = field(default_factory=dict)
    profiles: dict[str, list[Profile]] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    def add(self, key: str, dt: float) -> None:
        self.times.setdefault(key, []).append(dt)

    def add_profile(self, key: str, stderr: str) -> None:
        p = parse_profile(stderr)
        if p is not None:
            self.profiles.setdefault(key, []).append(p)


def count_pods(ctx: Ctx) -> dict[str, tuple[int, set[str]]]:
    """Per node: running app containers of W, and the BENCH_GEN values they carry (untimed check)."""
    script = (
        "for id in $(docker ps -q --filter label=io.kcli.type=container --filter label=io.kcli.namespace=default); do "
        "docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' $id | grep '^BENCH_GEN=' || echo BENCH_GEN=?; done"
    )
    _, procs = parallel(ctx, "check pods", [docker_exec(n, script) for n in ctx.nodes])
    out = {}
    for n, p in zip(ctx.nodes, procs, strict=False):
        vals = [line.split("=", 1)[1] for line in p.stdout.splitlines() if line.startswith("BENCH_GEN=")]
        out[n["name"]] = (len(vals), set(vals))
    return out


def check(ctx: Ctx, res: Results, when: str, want: int, gen: str | None) -> None:
    got = count_pods(ctx)
    bad = {n: c for n, (c, gens) in got.items() if c != want or (gen is not None and want and gens != {gen})}
    if bad:
        msg = (
            f"{when}: expected {want} running pods per node{f' with BENCH_GEN={gen}' if gen else ''}, got "
            + ", ".join(f"{n}={c} {sorted(got[n][1])}" for n, c in bad.items())
        )
        res.checks.append(msg)
        print(f"!! {msg}", file=sys.stderr, flush=True)


def one_run(ctx: Ctx, res: Results, w1: Path, w2: Path, label: str) -> None:
    inv = str(ctx.inventory)
    res.load.append(os.getloadavg()[0])
    # A: floor (docker exec), then B: the same over one OpenSSH per node
    for mode in ("floor", "ssh"):
        wrap = (lambda n, s: docker_exec(n, s)) if mode == "floor" else (lambda n, s: ssh(ctx, n, s))
        parallel(ctx, "floor cleanup", [docker_exec(n, FLOOR_CLEAN) for n in ctx.nodes])
        for op, gen in (("create", "1"), ("replace", "2"), ("delete", "2")):
            dt, _ = parallel(ctx, f"{mode} {op}", [wrap(n, floor_script(n, op, gen)) for n in ctx.nodes])
            res.add(f"{mode}.{op}", dt)
    # C: kcli
    dt, p = kcli(ctx, "apply", "-f", str(w1), "-i", inv, "--profile")
    res.add("kcli.create", dt)
    res.add_profile("kcli.create", p.stderr)
    check(ctx, res, f"{label} after create", PODS_PER_NODE, "1")
    dt, _ = parallel(ctx, "ssh observe", [ssh(ctx, n, OBSERVE_SCRIPT) for n in ctx.nodes])
    res.add("ssh.observe", dt)
    dt, p = kcli(ctx, "apply", "-f", str(w1), "-i", inv, "--profile", what="kcli apply (no change)")
    res.add("kcli.noop", dt)
    res.add_profile("kcli.noop", p.stderr)
    if "0 pod change(s)" not in p.stderr + p.stdout:
        res.checks.append(f"{label}: the no-change apply reported changes: {(p.stderr + p.stdout).strip()[-300:]}")
    dt, _ = kcli(ctx, "--help")
    res.add("kcli.help", dt)
    dt, _ = kcli(ctx, "--version")
    res.add("kcli.version", dt)
    dt, p = kcli(ctx, "get", "nodes", "-i", inv, "--profile")
    res.add("kcli.getnodes", dt)
    res.add_profile("kcli.getnodes", p.stderr)
    if p.returncode == 0 and len([ln for ln in p.stdout.splitlines() if " Ready" in ln]) != NODES:
        res.checks.append(f"{label}: get nodes does not show {NODES} Ready nodes:\n{p.stdout.strip()}")
    dt, p = kcli(ctx, "apply", "-f", str(w2), "-i", inv, "--profile", what="kcli apply (replace)")
    res.add("kcli.replace", dt)
    res.add_profile("kcli.replace", p.stderr)
    check(ctx, res, f"{label} after replace", PODS_PER_NODE, "2")
    dt, _ = kcli(ctx, "delete", "-f", str(w2), "-i", inv)
    res.add("kcli.delete", dt)
    check(ctx, res, f"{label} after delete", 0, None)


# --------------------------------------------------------------------------- setup / teardown


def find_kcli() -> list[str]:
    venv = ROOT / ".venv" / "bin" / "kcli"
    if venv.exists():
        return [str(venv)]
    found = shutil.which("kcli")
    if found:
        return [found]
    sys.exit("bench_apply: no kcli: expected .venv/bin/kcli (run .ci/setup) or kcli on PATH")


def setup(ctx: Ctx) -> None:
    # kcli as installed (.ci/setup compiles it too): bytecode present, so no command pays for compiling kcli
    run([sys.executable, "-m", "compileall", "-q", str(ROOT / "kcli")], timeout=300)
    run(
        [sys.executable, "-c", "import kcli.cli.app, kcli.cli.manifest_cmds, kcli.shell.apply"], timeout=300
    )  # kcli/_dccache.py
    clash = run(["docker", "ps", "-aq", "--filter", f"label=io.kcli.sandbox={ctx.sandbox}"], timeout=60)
    if clash.returncode != 0:
        sys.exit(f"bench_apply: docker does not answer: {clash.stderr.strip()}")
    if clash.stdout.strip():
        sys.exit(
            f"bench_apply: a sandbox named {ctx.sandbox!r} already exists (not ours; refusing to touch it). "
            f"Pick another --sandbox, or remove it with `kcli sandbox down --name {ctx.sandbox}` in its KCLI_HOME."
        )
    for args in (("sandbox", "up", "--name", ctx.sandbox, "--nodes", str(NODES)),):
        _, p = kcli(ctx, *args, timeout=SETUP_TIMEOUT)
        if p.returncode != 0:
            raise RuntimeError("sandbox up failed")
    ctx.sb_dir = ctx.home / "sandboxes" / ctx.sandbox
    ctx.inventory = ctx.sb_dir / "inventory.yaml"
    meta = json.loads((ctx.sb_dir / "sandbox.json").read_text())
    ctx.nodes = [{"name": n["name"], "container": n["container"], "address": n["address"]} for n in meta["nodes"]]
    for args in (("bootstrap", "-i", str(ctx.inventory)), ("image", "load", IMAGE, "-i", str(ctx.inventory))):
        _, p = kcli(ctx, *args, timeout=SETUP_TIMEOUT)
        if p.returncode != 0:
            raise RuntimeError(f"kcli {args[0]} failed")
    gw = "docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' kcli-pods"
    _, procs = parallel(ctx, "pod network gateway", [docker_exec(n, gw) for n in ctx.nodes])
    for n, p in zip(ctx.nodes, procs, strict=False):
        n["gateway"] = p.stdout.strip() or "10.244.0.1"


def teardown(ctx: Ctx) -> None:
    if ctx.nodes:
        parallel(ctx, "floor cleanup", [docker_exec(n, FLOOR_CLEAN) for n in ctx.nodes], timeout=120)
    _, p = kcli(ctx, "sandbox", "down", "--name", ctx.sandbox, timeout=SETUP_TIMEOUT)
    if p.returncode != 0:
        docker_down(ctx.sandbox)


def docker_down(name: str) -> None:
    """What `kcli sandbox down` removes, by its labels, for when kcli itself cannot run: only
    objects labelled io.kcli.sandbox=NAME (a name this harness checked was free before up)."""
    sel = f"label=io.kcli.sandbox={name}"
    ids = run(["docker", "ps", "-aq", "--filter", sel], timeout=60).stdout.split()
    if ids:
        run(["docker", "rm", "-f", "-v", *ids], timeout=300)
    vols = run(["docker", "volume", "ls", "-q", "--filter", sel], timeout=60).stdout.split()
    if vols:
        run(["docker", "volume", "rm", "-f", *vols], timeout=120)
    net = run(["docker", "network", "inspect", "-f", "{{.Id}}", f"kcli-{name}"], timeout=60)
    if net.returncode == 0:
        br = "br-" + net.stdout.strip()[:12]
        rule = ["DOCKER-USER", "-i", br, "-o", br, "-m", "comment", "--comment", f"kcli sandbox {name}", "-j", "ACCEPT"]
        for _ in range(10):
            if run(["iptables", "-w", "-D", *rule], timeout=60).returncode != 0:
                break
    nets = run(["docker", "network", "ls", "-q", "--filter", sel], timeout=60).stdout.split()
    if nets:
        run(["docker", "network", "rm", *nets], timeout=120)
    print(f"bench_apply: `kcli sandbox down` failed; removed sandbox {name} by its docker labels", file=sys.stderr)


# --------------------------------------------------------------------------- machine and report


def machine() -> dict[str, str]:
    def out(argv):
        p = run(argv, timeout=60)
        return p.stdout.strip() if p.returncode == 0 else "?"

    cpu, mem = "unknown", "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    head = run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], timeout=60).stdout.strip() or "?"
    dirty = run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "kcli"], timeout=60).stdout.splitlines()
    return {
        "git": f"{head}" + (f" with {len(dirty)} uncommitted file(s) under kcli/" if dirty else ""),
        "cpu": cpu,
        "nproc": out(["nproc"]),
        "memory": mem,
        "kernel": platform.release(),
        "docker": out(["docker", "version", "--format", "{{.Server.Version}}"]),
        "python": platform.python_version(),
        "ssh": (run(["ssh", "-V"], timeout=30).stderr.strip() or "?").split(",")[0],
    }


def others() -> dict[str, str]:
    """Evidence of other work on the machine, by kind: foreign containers, test runs."""
    found: dict[str, str] = {}
    p = run(["docker", "ps", "--format", "{{.Names}}"], timeout=60)
    foreign = [n for n in p.stdout.split() if not n.startswith("kcli-bench-")] if p.returncode == 0 else []
    if foreign:
        found["containers"] = (
            f"{len(foreign)} other container(s) running ({', '.join(foreign[:6])}{' …' if len(foreign) > 6 else ''})"
        )
    mine = {os.getpid(), os.getppid()}
    ps = run(["ps", "-eo", "pid=,args="], timeout=60)
    procs = []
    for line in ps.stdout.splitlines():
        pid, _, args = line.strip().partition(" ")
        if pid.isdigit() and int(pid) not in mine and re.search(r"pytest|bench_scheduler|\.ci/test", args):
            procs.append(args[:80])
    if procs:
        found["tests"] = f"{len(procs)} other test process(es) (e.g. `{procs[0]}`)"
    return found


def source_digest() -> str:
    """A digest of kcli/'s sources, to tell whether kcli changed while the benchmark ran."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted((ROOT / "kcli").rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def fmt(t: float) -> str:
    return f"{t:.2f} s" if t >= 0.095 else f"{t * 1000:.0f} ms"


def table(res: Results) -> tuple[str, dict[str, bool]]:
    med = {k: statistics.median(v) for k, v in res.times.items() if v}
    noop_rt = max(
        (max(p.round_trips.values()) for p in res.profiles.get("kcli.noop", []) if p.round_trips), default=None
    )
    lines = [
        "| measurement | median | min–max | floor (median) | × floor | target | met? |",
        "|---|---:|---:|---|---:|---|---|",
    ]
    met: dict[str, bool] = {}
    for key, label, floor, factor, target in ROWS:
        if key not in med:
            lines.append(f"| {label} | — | — | | | {target} | no data |")
            continue
        ts = res.times[key]
        ratio, floor_txt, verdict = "", "", ""
        if floor and floor in med:
            ratio = f"{med[key] / med[floor]:.2f}"
            floor_txt = f"{fmt(med[floor])} ({floor.replace('.', ' ')})"
        elif key.startswith("floor.") or key == "ssh.observe":
            ratio = "1.00"
        if factor is not None and floor in med:
            ok = med[key] <= factor * med[floor]
            if key == "kcli.noop":
                rt_ok = noop_rt == 1
                verdict = (
                    "met" if ok and rt_ok else "not met"
                ) + f" (time {'ok' if ok else 'over'}; max {noop_rt} round trips/node)"
                ok = ok and rt_ok
            else:
                verdict = "met" if ok else "not met"
            met[key] = ok
        elif key in ABS_TARGETS:
            ok = med[key] <= ABS_TARGETS[key]
            met[key] = ok
            verdict = "met" if ok else "not met"
        lines.append(
            f"| {label} | {fmt(med[key])} | {fmt(min(ts))}–{fmt(max(ts))} | {floor_txt} | {ratio} | {target} | {verdict} |"
        )
    return "\n".join(lines), met


def profile_table(res: Results) -> str:
    """Round trips per host and where the wall time went (remote commands vs the rest)."""
    lines = [
        "| kcli command | round trips per host (median) | received per host | remote commands (slowest host) | connect | rest = wall − remote − connect (start-up, imports, parsing, planning, state, git) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    names = {
        "kcli.create": "apply (create)",
        "kcli.noop": "apply (no change)",
        "kcli.replace": "apply (replace)",
        "kcli.getnodes": "get nodes",
    }
    for key, name in names.items():
        ps = res.profiles.get(key, [])
        if not ps:
            lines.append(f"| {name} | no --profile output | | | | |")
            continue
        hosts = sorted(ps[0].round_trips)
        rts = ", ".join(f"{h} {statistics.median(p.round_trips.get(h, 0) for p in ps):g}" for h in hosts)
        api = statistics.median(max(p.api.values(), default=0) for p in ps)
        if api:
            rts += f" (+ {api:g} docker API exchanges per host beside them)"
        recv = statistics.median(statistics.mean(p.received.values()) for p in ps)
        remote = statistics.median(max(p.commands.values()) for p in ps)
        conn = statistics.median(max(p.connect.values()) for p in ps)
        rest = statistics.median(
            w - max(p.commands.values()) - max(p.connect.values())
            for w, p in zip(res.times.get(key, []), ps, strict=False)
        )
        lines.append(f"| {name} | {rts} | {recv / 1024:.0f} KiB | {fmt(remote)} | {fmt(conn)} | {fmt(rest)} |")
    return "\n".join(lines)


def write_section(text: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    doc = path.read_text() if path.exists() else "# Benchmarks\n"
    start = doc.find(SECTION)
    if start >= 0:
        nxt = doc.find("\n## ", start + len(SECTION))
        doc = doc[:start].rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n" + (doc[nxt:] if nxt >= 0 else "")
    else:
        doc = doc.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    path.write_text(doc)


def report(ctx: Ctx, res: Results, m: dict, args, started: str, busy: list[str], elapsed: float) -> str:
    tbl, met = table(res)
    load = f"{min(res.load):.1f}–{max(res.load):.1f}" if res.load else "?"
    disturbed = busy or (res.load and max(res.load) > 1.5 * int(m["nproc"] or 1))
    spread = []
    for key, *_ in ROWS:
        ts = res.times.get(key, [])
        if len(ts) > 1 and min(ts) > 0 and max(ts) / min(ts) > 1.5:
            spread.append(key)
    parts = [
        SECTION,
        "",
        f"`python bench/bench_apply.py --runs {args.runs}` (run {started}, {elapsed / 60:.0f} min in all)",
        "",
        "**Method.** The harness brings up its own sandbox (`kcli sandbox up --name "
        f"{ctx.sandbox} --nodes 3` under a temporary KCLI_HOME), bootstraps it, runs `kcli image load {IMAGE}`, "
        "and tears it down at the end. W = 30 busybox pods (`sleep 3600`, imagePullPolicy Never, one env var "
        "`BENCH_GEN`) pinned 10 per node by three Deployments of 10 replicas with nodeSelector "
        "`kubernetes.io/hostname=nodeN` and strategy Recreate; W' is W with `BENCH_GEN` changed, so every pod is "
        "replaced at once (old pods, then new ones: 2 waves), as the floor's rm + run does. "
        "Each run measures, in this order: the floor (create, replace, delete), the same scripts over OpenSSH, "
        "then `kcli apply -f W`, the OpenSSH observation, `kcli apply -f W` (no change), `kcli --help`, `kcli --version`, "
        "`kcli get nodes`, `kcli apply -f W'`, `kcli delete -f W'`. "
        "**Floor**: `docker exec <node container> sh -c SCRIPT` from this machine, nodes in parallel, where SCRIPT holds "
        "the 10 `docker run -d` of one node with the flags kcli gives an app container (`--init --restart always "
        "--cpu-shares 2 --env-file`, 16 labels, `--entrypoint sleep`) minus the pause container: the pod's network "
        "flags (`--network kcli-pods --hostname --dns …`) go on the app container, so each still gets its own IP on the "
        "node's pod network; replace = one `docker rm -f` of the 10 then 10 runs; delete = one `docker rm -f` of the 10. "
        "**OpenSSH**: the same script over one `ssh` per node (sandbox key, strict known_hosts, no multiplexing); the "
        "observation is `docker ps -a --filter label=io.kcli.managed=true --format '{{json .}}'; iptables-save` in one "
        "`ssh` per node while W runs. kcli is `.venv/bin/kcli` (a fresh process each time, `--profile` on apply and get). "
        f"Wall time with `time.perf_counter`; {args.warmup} uncounted warm-up run(s), then {args.runs} runs; median and "
        "min–max; × floor = ratio of medians. After each kcli step the harness checks (untimed) that 10 pods per node "
        "run with the expected env, or none after delete.",
        "",
        f"**Machine.** `nproc` {m['nproc']} ({m['cpu']}), {m['memory']} RAM, kernel {m['kernel']}, "
        f"docker {m['docker']} (host and nodes), Python {m['python']}, {m['ssh']}. kcli at commit {m['git']}.",
        "",
    ]
    if disturbed:
        why = "; ".join(busy) if busy else ""
        parts += [
            f"**May have been disturbed.** 1-min load average at the start of the runs: {load} on {m['nproc']} cores"
            f"{'; ' + why if why else ''}. Read the numbers as upper bounds; the ratios, measured interleaved, "
            "are more robust than the absolute times.",
            "",
        ]
    else:
        parts += [
            f"**Load.** 1-min load average at the start of the runs: {load} on {m['nproc']} cores; no other "
            "containers or test processes were seen.",
            "",
        ]
    if spread:
        parts += [f"Rows whose max/min exceeds 1.5 (noisy): {', '.join(spread)}.", ""]
    parts += [tbl, ""]
    parts += [
        "Where kcli's time goes (from `--profile`: per-host round trips, bytes received, time in remote commands and "
        "in connecting; the rest is local):",
        "",
        profile_table(res),
        "",
    ]
    short = {
        "kcli.create": "create",
        "kcli.replace": "replace",
        "kcli.delete": "delete",
        "kcli.noop": "no-change apply",
        "kcli.help": "`kcli --help`",
        "kcli.version": "`kcli --version`",
        "kcli.getnodes": "`get nodes`",
    }
    missed = [short.get(k, k) for k, ok in met.items() if not ok]
    parts.append(
        f"**Targets (issue 9 part 7):** {len(met) - len(missed)} of {len(met)} met"
        + (f"; not met: {', '.join(missed)}." if missed else ".")
    )
    if ctx.failures or res.checks:
        parts += ["", "**Failures during the run** (stderr as kcli printed it):", ""]
        for f in ctx.failures:
            err = f.stderr.replace("```", "'''")[-1500:]
            parts += [f"- `{f.what}` exited {f.rc}:", "", "```", err, "```"]
        for c in res.checks:
            parts.append(f"- check: {c}")
    return "\n".join(parts) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--sandbox", default="bench")
    ap.add_argument("--no-write", action="store_true", help="print the table only; leave BENCHMARKS.md alone")
    args = ap.parse_args()
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,30}", args.sandbox):
        sys.exit("--sandbox: lowercase letters, digits and '-'")
    home = Path(tempfile.mkdtemp(prefix="kcli-bench-home-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KCLI_")}
    env.update({"KCLI_HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1"})
    ctx = Ctx(home=home, kcli=find_kcli(), env=env, sandbox=args.sandbox)
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.perf_counter()
    m = machine()
    digest = source_digest()
    res = Results()
    busy_by_kind: dict[str, str] = {}
    ok_setup = False
    try:
        setup(ctx)
        ok_setup = True
        w1, w2 = home / "w.yaml", home / "w-env-changed.yaml"
        w1.write_text(workload("1"))
        w2.write_text(workload("2"))
        for i in range(args.warmup):
            print(f"warm-up {i + 1}/{args.warmup}", file=sys.stderr, flush=True)
            one_run(ctx, Results(), w1, w2, f"warm-up {i + 1}")
        for i in range(args.runs):
            print(f"run {i + 1}/{args.runs}", file=sys.stderr, flush=True)
            for kind, seen in others().items():
                busy_by_kind.setdefault(kind, seen)
            before = len(ctx.failures)
            one_run(ctx, res, w1, w2, f"run {i + 1}")
            if len(ctx.failures) - before >= 5:
                print("bench_apply: most kcli commands failed in this run; stopping", file=sys.stderr)
                break
    except RuntimeError as exc:
        print(f"bench_apply: {exc}", file=sys.stderr)
    finally:
        teardown(ctx)
        shutil.rmtree(home, ignore_errors=True)
    busy = list(busy_by_kind.values())
    if source_digest() != digest:
        busy.append(
            "kcli/ sources changed while the benchmark ran (another engineer was editing them): "
            "the runs may mix versions"
        )
    text = report(ctx, res, m, args, started, busy, time.perf_counter() - t0)
    print(text)
    if ok_setup and res.times and not args.no_write:
        write_section(text)
        print("(written to BENCHMARKS.md)", file=sys.stderr)
    sys.exit(1 if ctx.failures or res.checks or not ok_setup else 0)


if __name__ == "__main__":
    main()
