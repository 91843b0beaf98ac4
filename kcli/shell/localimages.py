"""Small images built from local files (no registry): busybox, used by tests, the demo and pods; and
images built from Debian packages with debootstrap (kcli.local/redis:7), cached by content hash."""

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
        (root / "etc" / "passwd").write_text(
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
        )
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


def _debian_assets() -> Path:
    return Path(str(resources.files("kcli") / "assets" / "images"))


def _image_label(ref: str, label: str) -> str | None:
    """The label's value on the local image ref, or None when docker has no such image."""
    res = run_local(
        ["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{label}"}}}}', ref], check=False
    )
    return res.stdout.strip() if res.returncode == 0 else None


def build_debian_image(spec, log=print) -> tuple[str, str]:
    """Build (once) spec, a kcli.core.localimage.DebianImage, from Debian packages with debootstrap.

    Cached by content hash like the sandbox node image: the local docker image when it carries the
    hash label, else a ``docker save | zstd`` tarball in ~/.cache/kcli, else debootstrap from the
    mirror image.py uses (KCLI_DEBIAN_MIRROR or apt's). Returns (ref, cached | loaded | built)."""
    from kcli.core.localimage import HASH_LABEL, content_hash, tarball_name, tarball_prefix
    from kcli.shell.sandbox.image import apt_mirror, cache_dir

    mirror = apt_mirror()
    script = _debian_assets() / spec.customize
    digest = content_hash(spec, mirror, script.read_bytes())
    if _image_label(spec.ref, HASH_LABEL) == digest:
        return spec.ref, "cached"
    tarball = cache_dir() / tarball_name(spec, digest)
    if tarball.exists() and shutil.which("zstd"):
        log(f"loading {spec.ref} from {tarball}")
        with open(tarball, "rb") as fh:
            zstd = subprocess.Popen(["zstd", "-dc"], stdin=fh, stdout=subprocess.PIPE)
            load = subprocess.run(["docker", "load"], stdin=zstd.stdout, capture_output=True)
            zstd.wait()
        if load.returncode == 0 and _image_label(spec.ref, HASH_LABEL) == digest:
            return spec.ref, "loaded"
        log("cached tarball unusable, rebuilding")
    _debootstrap_image(spec, digest, mirror, script, log)
    if shutil.which("zstd"):
        save_tarball(spec.ref, tarball, tarball_prefix(spec))
    return spec.ref, "built"


def _debootstrap_image(spec, digest: str, mirror: str, script: Path, log) -> None:
    from kcli.core.localimage import debootstrap_argv, import_argv
    from kcli.shell.sandbox.image import cache_dir

    if not shutil.which("debootstrap"):
        raise UsageError(f"debootstrap is needed once to build {spec.ref} (apt-get install debootstrap)")
    build = cache_dir() / "build"
    build.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="kcli-image-", dir=str(build)))
    rootfs = work / "rootfs"
    try:
        log(f"building {spec.ref}: debootstrap {spec.suite} + {', '.join(spec.packages)} from {mirror} (once)")
        run_local(debootstrap_argv(spec, str(rootfs), mirror), timeout=1200, error=UsageError)
        run_local(["sh", str(script), str(rootfs)], error=UsageError)
        log(f"importing {spec.ref}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(import_argv(spec, digest), stdin=tar.stdout, capture_output=True)
        tar.wait()
        if imp.returncode != 0 or tar.returncode != 0:
            raise UsageError(f"docker import {spec.ref}: {imp.stderr.decode(errors='replace').strip()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def save_tarball(ref: str, tarball: Path, prefix: str) -> None:
    """docker save | zstd into tarball (atomically), removing older builds of the same image."""
    tarball.parent.mkdir(parents=True, exist_ok=True)
    tmp = tarball.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        save = subprocess.Popen(["docker", "save", ref], stdout=subprocess.PIPE)
        z = subprocess.run(["zstd", "-3", "-q", "-T0", "-c"], stdin=save.stdout, stdout=out)
        save.wait()
    if save.returncode == 0 and z.returncode == 0:
        os.replace(tmp, tarball)
        for old in tarball.parent.glob(f"{prefix}*.tar.zst"):
            if old != tarball:
                old.unlink(missing_ok=True)
    else:
        tmp.unlink(missing_ok=True)


SIMPLE_BUILDERS = {BUSYBOX_REF: build_busybox, PAUSE_REF: build_pause, DNSMASQ_REF: build_dnsmasq}


def ensure_local_images(refs, log=print) -> dict[str, str]:
    """Build the images kcli knows how to build (busybox, pause, dnsmasq, the Debian ones such as
    kcli.local/redis:7) when absent or out of date; other refs are left alone (``image load``
    then reports those missing). Returns ref → cached | loaded | built for the ones it knows."""
    from kcli.core.localimage import DEBIAN_IMAGES

    out: dict[str, str] = {}
    for ref in dict.fromkeys(refs):
        if ref in DEBIAN_IMAGES:
            out[ref] = build_debian_image(DEBIAN_IMAGES[ref], log)[1]
        elif ref in SIMPLE_BUILDERS:
            present = run_local(["docker", "image", "inspect", ref], check=False).returncode == 0
            SIMPLE_BUILDERS[ref](ref)
            out[ref] = "cached" if present else "built"
    return out
