"""Build (once) and cache the sandbox node image, keyed by a hash of everything that goes into it.

Cache layers, fastest first: the docker image tag ``kcli-node:<hash>`` in the local docker; a
``docker save | zstd`` tarball under ``$XDG_CACHE_HOME/kcli``; else debootstrap from the Debian
mirror that apt already uses on this machine.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from kcli.errors import SandboxError
from kcli.shell.local import run_local
from kcli.shell.localimages import save_tarball

SUITE = "bookworm"
PACKAGES = (
    "openssh-server",
    "docker.io",
    "iptables",
    "iproute2",
    "procps",
    "ca-certificates",
    "systemd",
    "systemd-sysv",
    "dbus",
    "kmod",
    "conntrack",
    "iputils-ping",
)
REPO = "kcli-node"
ASSET_FILES = ("customize-rootfs.sh", "kcli-init-wrapper", "kcli-cgroup-rw", "kcli-entrypoint", "kcli-restart-docker")


def assets_dir() -> Path:
    return Path(str(resources.files("kcli") / "assets" / "node"))


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kcli"


def apt_mirror() -> str:
    """The Debian mirror apt uses here (never a hard-coded host), overridable by KCLI_DEBIAN_MIRROR."""
    if os.environ.get("KCLI_DEBIAN_MIRROR"):
        return os.environ["KCLI_DEBIAN_MIRROR"]
    candidates: list[str] = []
    for path in sorted(Path("/etc/apt").glob("sources.list.d/*.sources")):
        text = path.read_text(errors="replace")
        for block in text.split("\n\n"):
            if re.search(r"^Suites:.*\b" + SUITE + r"\b", block, re.M) and "security" not in block:
                m = re.search(r"^URIs:\s*(\S+)", block, re.M)
                if m:
                    candidates.append(m.group(1))
    lists = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt").glob("sources.list.d/*.list"))]
    for path in lists:
        if path.exists():
            for line in path.read_text(errors="replace").splitlines():
                m = re.match(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+" + SUITE + r"\s", line)
                if m and "security" not in m.group(1):
                    candidates.append(m.group(1))
    if not candidates:
        raise SandboxError("no Debian bookworm mirror found in /etc/apt; set KCLI_DEBIAN_MIRROR")
    return candidates[0]


def image_hash(mirror: str) -> str:
    h = hashlib.sha256()
    h.update(f"{SUITE}\n{mirror}\n{' '.join(PACKAGES)}\n".encode())
    for name in ASSET_FILES:
        h.update(name.encode() + b"\0" + (assets_dir() / name).read_bytes())
    return h.hexdigest()[:16]


def image_ref(mirror: str | None = None) -> str:
    return f"{REPO}:{image_hash(mirror or apt_mirror())}"


def _docker_has(ref: str) -> bool:
    return run_local(["docker", "image", "inspect", ref], check=False).returncode == 0


def ensure_image(log=print) -> tuple[str, str]:
    """Return (image ref, how it was obtained: cached | loaded | built)."""
    mirror = apt_mirror()
    ref = image_ref(mirror)
    if _docker_has(ref):
        return ref, "cached"
    tarball = cache_dir() / f"{ref.replace(':', '-')}.tar.zst"
    if tarball.exists() and shutil.which("zstd"):
        log(f"loading node image from {tarball}")
        with open(tarball, "rb") as fh:
            zstd = subprocess.Popen(["zstd", "-dc"], stdin=fh, stdout=subprocess.PIPE)
            load = subprocess.run(["docker", "load"], stdin=zstd.stdout, capture_output=True)
            zstd.wait()
        if load.returncode == 0 and _docker_has(ref):
            return ref, "loaded"
        log("cached tarball unusable, rebuilding")
    _build(ref, mirror, log)
    if shutil.which("zstd"):
        save_tarball(ref, tarball, f"{REPO}-")
    return ref, "built"


def _build(ref: str, mirror: str, log) -> None:
    if not shutil.which("debootstrap"):
        raise SandboxError("debootstrap is not installed (apt-get install debootstrap)")
    work = Path(tempfile.mkdtemp(prefix="kcli-rootfs-", dir=str(_workdir())))
    rootfs = work / "rootfs"
    try:
        log(f"debootstrap {SUITE} from {mirror} (about a minute, once)")
        run_local(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), mirror],
            timeout=1200,
        )
        run_local(["sh", str(assets_dir() / "customize-rootfs.sh"), str(rootfs), str(assets_dir())])
        log(f"importing {ref}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(
            [
                "docker",
                "import",
                "-c",
                "ENV container=docker",
                "-c",
                'ENTRYPOINT ["/usr/local/bin/kcli-init-wrapper"]',
                "-c",
                'CMD ["/sbin/init"]',
                "-c",
                "LABEL io.kcli.sandbox-image=1",
                "-",
                ref,
            ],
            stdin=tar.stdout,
            capture_output=True,
        )
        tar.wait()
        if imp.returncode != 0:
            raise SandboxError(f"docker import failed: {imp.stderr.decode(errors='replace').strip()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _workdir() -> Path:
    d = cache_dir() / "build"
    d.mkdir(parents=True, exist_ok=True)
    return d
