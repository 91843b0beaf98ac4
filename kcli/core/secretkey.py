"""The cluster's secret key: 32 random bytes kept on every lock node (root-only, mode 0600), never
in the state or in git, so that it survives the loss of any one of them. Secret content hashes
are HMACs under it (kcli.core.objects.Secret) and the kept Secrets are sealed with it
(kcli.core.secretbox).

Reading never creates it. The lock holder's first look reads it on every lock node
(``choose_key``); when a lock node lacks it (a new or reset node, a cluster that kept it on one
node only) the holder writes it there (``store_unit``), and when no node has one yet it makes one."""

from __future__ import annotations

import base64
import binascii
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kcli.core.commands.batch import Unit
from kcli.core.facts.sections import Section
from kcli.errors import PlanError

SECRET_KEY_FILE = "/var/lib/kcli/secret.key"
SECTION = "secret_key"
READ_SNIPPET = f"cat {SECRET_KEY_FILE}"


def parse_key(section: Section | None) -> bytes:
    """The key from its observation section; b"" when absent or unreadable."""
    if section is None or section.rc != 0:
        return b""
    try:
        key = base64.b64decode(section.text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""
    return key if len(key) >= 16 else b""


@dataclass(frozen=True)
class KeyChoice:
    key: bytes  # b"" when no lock node has one
    missing: tuple[str, ...]  # lock nodes that answered without it


def choose_key(sections: Mapping[str, Mapping[str, Section]], answered: Sequence[str]) -> KeyChoice:
    """The key the answering lock nodes hold. Two different keys is an error that kcli cannot settle
    (each sealed and hashed Secrets its own way): named, nothing is changed."""
    keys = {n: parse_key((sections.get(n) or {}).get(SECTION)) for n in answered}
    found: dict[bytes, list[str]] = {}
    for node, key in keys.items():
        if key:
            found.setdefault(key, []).append(node)
    if len(found) > 1:
        holders = "; ".join(", ".join(sorted(nodes)) for nodes in found.values())
        raise PlanError(
            f"the lock nodes hold different secret keys ({SECRET_KEY_FILE}): {holders}; "
            "keep one (copy it to the others, mode 0600) and run again"
        )
    return KeyChoice(next(iter(found), b""), tuple(sorted(n for n, k in keys.items() if not k)))


def store_unit(key: bytes) -> Unit:
    """Write the key where it is missing (ln never replaces an existing one) and check the result.
    The script travels on stdin (printf is a shell builtin): the key is on no command line."""
    f = shlex.quote(SECRET_KEY_FILE)
    text = shlex.quote(base64.b64encode(key).decode())
    return Unit(
        "secret-key",
        (
            f"mkdir -p {shlex.quote(SECRET_KEY_FILE.rsplit('/', 1)[0])}",
            f"( umask 077; printf '%s\\n' {text} > {f}.$$ )",
            f"[ -s {f} ] || ln {f}.$$ {f} 2>/dev/null || true",
            f"rm -f {f}.$$",
            f"[ \"$(cat {f})\" = {text} ] || {{ echo 'a different secret key is already there'; exit 1; }}",
        ),
    )
