"""The cluster's secret key: 32 random bytes kept on the lock node (root-only, mode 0600), never in
the state or in git. Secret content hashes are HMACs under it (kcli.core.objects.Secret)."""

from __future__ import annotations

import base64
import binascii

from kcli.core.facts.sections import Section

SECRET_KEY_FILE = "/var/lib/kcli/secret.key"
SECTION = "secret_key"

# Created on first read, atomically (ln refuses to replace): two runs never hold different keys.
SNIPPET = (
    f"f={SECRET_KEY_FILE}; if [ ! -s $f ]; then mkdir -p /var/lib/kcli && ( umask 077; "
    "head -c 32 /dev/urandom | base64 > $f.$$ && { ln $f.$$ $f 2>/dev/null; rm -f $f.$$; } ); fi; cat $f"
)


def parse_key(section: Section | None) -> bytes:
    """The key from its observation section; b"" when unreadable."""
    if section is None or section.rc != 0:
        return b""
    try:
        key = base64.b64decode(section.text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""
    return key if len(key) >= 16 else b""
