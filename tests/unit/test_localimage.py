"""Images built from Debian packages (kcli.core.localimage) and the guestbook demo's CGI script."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from kcli.core.localimage import (
    DEBIAN_IMAGES,
    HASH_LABEL,
    REDIS,
    content_hash,
    debootstrap_argv,
    import_argv,
    tarball_name,
    tarball_prefix,
)

ROOT = Path(__file__).resolve().parents[2]
MIRROR = "http://deb.debian.org/debian"


def test_redis_is_built_from_debian_packages_with_debootstrap():
    assert DEBIAN_IMAGES["kcli.local/redis:7"] is REDIS
    assert debootstrap_argv(REDIS, "/tmp/r o", MIRROR) == [
        "debootstrap",
        "--variant=minbase",
        "--include=redis-server",
        "bookworm",
        "/tmp/r o",
        MIRROR,
    ]
    assert (ROOT / "kcli" / "assets" / "images" / REDIS.customize).is_file()


def test_the_content_hash_changes_with_every_input_and_only_then():
    h = content_hash(REDIS, MIRROR, b"script")
    assert len(h) == 16 and h == content_hash(REDIS, MIRROR, b"script")
    others = {
        content_hash(REDIS, "http://other/debian", b"script"),
        content_hash(REDIS, MIRROR, b"script2"),
        content_hash(replace(REDIS, packages=("redis-server", "redis-tools")), MIRROR, b"script"),
        content_hash(replace(REDIS, suite="trixie"), MIRROR, b"script"),
        content_hash(replace(REDIS, changes=REDIS.changes[:-1]), MIRROR, b"script"),
        content_hash(replace(REDIS, ref="kcli.local/redis:8"), MIRROR, b"script"),
    }
    assert h not in others and len(others) == 6


def test_the_import_labels_the_image_with_its_hash_and_names_the_tarball_after_it():
    argv = import_argv(REDIS, "0123456789abcdef")
    assert argv[:2] == ["docker", "import"] and argv[-2:] == ["-", "kcli.local/redis:7"]
    changes = [argv[i + 1] for i, a in enumerate(argv) if a == "-c"]
    assert changes[-1] == f"LABEL {HASH_LABEL}=0123456789abcdef"
    assert any(c.startswith('CMD ["redis-server"') for c in changes)
    assert tarball_name(REDIS, "0123456789abcdef") == "kcli.local-redis-7-0123456789abcdef.tar.zst"
    assert tarball_name(REDIS, "x").startswith(tarball_prefix(REDIS)) and "/" not in tarball_prefix(REDIS)


# The guestbook's CGI script (manifests/demo/guestbook.yaml), run by this machine's busybox with a
# fake `nc` that records what would reach Redis and answers as Redis would.

APPLETS = ("sh", "sed", "tr", "cut", "head", "awk", "printf", "cat", "echo")
# a function, not a file on PATH: Debian's busybox sh runs its own applets (nc) before PATH
FAKE_NC = 'nc() { cat > "$RECORD"; printf "%b" "$ANSWER"; }\n'


def _busybox() -> str:
    for p in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(p):
            return p
    pytest.skip("busybox is not installed here (apt-get install busybox-static)")


def run_cgi(tmp_path: Path, query: str, answer: str) -> tuple[str, bytes]:
    docs = list(yaml.safe_load_all((ROOT / "manifests" / "demo" / "guestbook.yaml").read_text()))
    (script,) = [d["data"]["guestbook"] for d in docs if d["kind"] == "ConfigMap"]
    bb = _busybox()
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    for a in APPLETS:
        if not (bindir / a).exists():
            (bindir / a).symlink_to(bb)
    shebang, rest = script.split("\n", 1)
    cgi = tmp_path / "guestbook"
    cgi.write_text(f"{shebang}\n{FAKE_NC}{rest}")
    record = tmp_path / "sent"
    env = {"PATH": str(bindir), "QUERY_STRING": query, "RECORD": str(record), "ANSWER": answer}
    out = subprocess.run([str(bindir / "sh"), str(cgi)], env=env, capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    head, _, body = out.stdout.partition("\n\n")
    assert head == "Content-Type: text/plain"
    return body, (record.read_bytes() if record.exists() else b"")


def test_a_message_reaches_redis_as_resp_bulk_strings_of_the_right_length(tmp_path):
    body, sent = run_cgi(tmp_path, "msg=hello+world", r":1\r\n+OK\r\n")
    assert sent == b"*3\r\n$5\r\nRPUSH\r\n$9\r\nguestbook\r\n$11\r\nhello world\r\n*1\r\n$4\r\nQUIT\r\n"
    assert body == "added entry 1: hello world\n"


@pytest.mark.parametrize(
    "query, kept",
    [
        ("msg=a%0D%0A*1%0D%0A%244%0D%0AQUIT", "a14QUIT"),  # no CR/LF: no command can be smuggled in
        ("msg=%3B+rm+-rf+%2F+%24(id)+%60x%60", " rm -rf  id x"),
        ("msg=caf%C3%A9_ok.v1-2", "caf_ok.v1-2"),
        ("other=1&msg=x&msg=y", "x"),
        ("nomsg=bad&msg=good", "good"),
        ("msg=" + "a" * 300, "a" * 200),
    ],
)
def test_only_a_safe_character_set_reaches_redis(tmp_path, query, kept):
    body, sent = run_cgi(tmp_path, query, r":7\r\n+OK\r\n")
    assert sent.startswith(
        b"*3\r\n$5\r\nRPUSH\r\n$9\r\nguestbook\r\n" + b"$%d\r\n" % len(kept) + kept.encode() + b"\r\n"
    )
    assert body == f"added entry 7: {kept}\n"


def test_an_empty_message_is_refused_and_nothing_is_sent(tmp_path):
    assert run_cgi(tmp_path, "msg=", "") == ("error: empty message\n", b"")
    assert run_cgi(tmp_path, "msg=%3B%24", "") == ("error: empty message\n", b"")


def test_the_list_is_read_with_lrange_and_printed_one_entry_a_line(tmp_path):
    body, sent = run_cgi(tmp_path, "", r"*2\r\n$5\r\nhello\r\n$11\r\nhello world\r\n+OK\r\n")
    assert sent == b"*4\r\n$6\r\nLRANGE\r\n$9\r\nguestbook\r\n$1\r\n0\r\n$2\r\n-1\r\n*1\r\n$4\r\nQUIT\r\n"
    assert body == "hello\nhello world\n"
    assert run_cgi(tmp_path, "", r"*0\r\n+OK\r\n")[0] == ""
    assert run_cgi(tmp_path, "", r"-ERR wrong\r\n")[0] == "error: redis answered: -ERR wrong\n"
