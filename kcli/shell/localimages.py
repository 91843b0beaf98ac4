"""Small images built from local files (no registry): busybox, used by tests, the demo and pods."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from kcli.errors import UsageError
from kcli.shell.local import run_local

BUSYBOX_REF = "kcli.local/busybox:1"
PAUSE_REF = "kcli.local/pause:3.10-probe"
DNSMASQ_REF = "kcli.local/dnsmasq:1"


def _busybox_binary() -> Path:
    for p in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(p):
            return Path(p)
    raise UsageError("busybox is not installed on this machine (apt-get install busybox-static)")


def _import_tree(root: Path, ref: str, changes: list[str], paths: list[str] | None = None) -> None:
    """``tar -C root -c . | docker import -c CHANGE... - ref``."""
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", *(paths or ["."])], stdout=subprocess.PIPE)
    argv = ["docker", "import"]
    for c in changes:
        argv += ["-c", c]
    imp = subprocess.run([*argv, "-", ref], stdin=tar.stdout, capture_output=True)
    tar.wait()
    if imp.returncode != 0:
        raise UsageError(f"docker import {ref}: {imp.stderr.decode(errors='replace').strip()}")


def build_busybox(ref: str = BUSYBOX_REF) -> str:
    """A static busybox with every applet linked, a passwd file and /tmp; tagged ref. Idempotent."""
    if run_local(["docker", "image", "inspect", ref], check=False).returncode == 0:
        return ref
    bb = _busybox_binary()
    with tempfile.TemporaryDirectory(prefix="kcli-bb-") as d:
        root = Path(d)
        for sub in ("bin", "etc", "tmp", "www", "root", "var/www"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(root / "tmp", 0o1777)
        shutil.copy2(bb, root / "bin" / "busybox")
        applets = run_local([str(bb), "--list"], error=UsageError).stdout.split()
        for a in applets:
            if a != "busybox":
                (root / "bin" / a).symlink_to("busybox")
        (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
        _import_tree(root, ref, ["ENV PATH=/bin", 'CMD ["sh"]'])
    return ref


def build_pause(ref: str = PAUSE_REF) -> str:
    """The pod sandbox image, compiled here from kcli/assets/pause: the static pause binary, the
    static kcli-probe that dockerd's healthcheck runs (readiness and startup probes, in the pod's
    network namespace) and a static sh for that healthcheck (docker runs it as CMD-SHELL)."""
    if run_local(["docker", "image", "inspect", ref], check=False).returncode == 0:
        return ref
    assets = Path(str(resources.files("kcli") / "assets" / "pause"))
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise UsageError("a C compiler is needed once to build the pause image (apt-get install gcc libc6-dev)")
    with tempfile.TemporaryDirectory(prefix="kcli-pause-") as d:
        root = Path(d)
        for name, src in (("pause", "pause.c"), ("kcli-probe", "probe.c")):
            run_local([cc, "-Os", "-static", "-o", str(root / name), str(assets / src)], error=UsageError)
            run_local(["strip", str(root / name)], check=False)
        (root / "bin").mkdir()
        shutil.copy2(_busybox_binary(), root / "bin" / "sh")  # busybox runs as sh when called sh
        _import_tree(root, ref, ['ENTRYPOINT ["/pause"]'], ["pause", "kcli-probe", "bin"])
    return ref


def build_dnsmasq(ref: str = DNSMASQ_REF) -> str:
    """The node-local DNS server image: this machine's dnsmasq binary and the libraries it links."""
    if run_local(["docker", "image", "inspect", ref], check=False).returncode == 0:
        return ref
    binary = shutil.which("dnsmasq") or ("/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq") else None)
    if not binary:
        raise UsageError("dnsmasq is needed once to build the DNS image (apt-get install dnsmasq-base)")
    libs = []
    for line in run_local(["ldd", binary], error=UsageError).stdout.splitlines():
        parts = line.split()
        path = next((p for p in parts if p.startswith("/")), None)
        if path and os.path.exists(path):
            libs.append(path)
    with tempfile.TemporaryDirectory(prefix="kcli-dnsmasq-") as d:
        root = Path(d)
        for f in [binary, *libs]:
            dest = root / f.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.realpath(f), dest)
        (root / "etc").mkdir(exist_ok=True)
        (root / "etc" / "passwd").write_text("root:x:0:0:root:/:/bin/false\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
        for sub in ("tmp", "run", "var/run", "etc/kcli-dns"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        _import_tree(root, ref, [f'ENTRYPOINT ["{binary}"]'])
    return ref
