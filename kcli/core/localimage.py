"""Images kcli builds here from Debian packages (no registry): what goes into them, the hash that
names a build, and the argv that makes one (pure; kcli/shell/localimages.py runs it).

An image is cached by the hash of everything that goes into it (suite, mirror, packages, the
customize script, the image config), like the sandbox node image: the docker image carries the hash
as a label, a ``docker save | zstd`` tarball is named after it, and a change to any input rebuilds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

HASH_LABEL = "io.kcli.content-hash"


@dataclass(frozen=True)
class DebianImage:
    """A rootfs from ``debootstrap --variant=minbase --include=PACKAGES``, customized, then imported."""

    ref: str
    suite: str
    packages: tuple[str, ...]
    changes: tuple[str, ...]  # docker import -c CHANGE (CMD, ENV, EXPOSE, ...)
    customize: str  # asset file name: sh SCRIPT ROOTFS, run after debootstrap


REDIS = DebianImage(
    ref="kcli.local/redis:7",
    suite="bookworm",
    packages=("redis-server",),
    changes=(
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "EXPOSE 6379",
        "WORKDIR /data",
        'CMD ["redis-server", "--protected-mode", "no", "--dir", "/data"]',
    ),
    customize="customize-redis.sh",
)

DEBIAN_IMAGES: dict[str, DebianImage] = {REDIS.ref: REDIS}


def content_hash(spec: DebianImage, mirror: str, script: bytes) -> str:
    """16 hex digits naming one build of spec from mirror with this customize script."""
    h = hashlib.sha256()
    h.update(f"{spec.ref}\n{spec.suite}\n{mirror}\n{' '.join(spec.packages)}\n".encode())
    for c in spec.changes:
        h.update(c.encode() + b"\n")
    h.update(spec.customize.encode() + b"\0" + script)
    return h.hexdigest()[:16]


def tarball_name(spec: DebianImage, digest: str) -> str:
    """The cached ``docker save | zstd`` file: ``kcli.local-redis-7-<hash>.tar.zst``."""
    return f"{tarball_prefix(spec)}{digest}.tar.zst"


def tarball_prefix(spec: DebianImage) -> str:
    return spec.ref.replace("/", "-").replace(":", "-") + "-"


def debootstrap_argv(spec: DebianImage, rootfs: str, mirror: str) -> list[str]:
    argv = ["debootstrap", "--variant=minbase"]
    if spec.packages:
        argv.append(f"--include={','.join(spec.packages)}")
    return [*argv, spec.suite, rootfs, mirror]


def import_argv(spec: DebianImage, digest: str) -> list[str]:
    """``docker import`` reading the rootfs tar on stdin; the content hash becomes a label."""
    argv = ["docker", "import"]
    for c in (*spec.changes, f"LABEL {HASH_LABEL}={digest}"):
        argv += ["-c", c]
    return [*argv, "-", spec.ref]
