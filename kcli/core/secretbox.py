"""Secret values sealed into the state, so `reconcile` and drift repair can recreate the pods that
read them without the user passing the Secret again.

Threat model: the state (and its git history) holds only AES-256-GCM ciphertext of each
Secret's data, bound to its namespace/name; the key is derived from the cluster's secret key,
which lives only on the cluster (``/var/lib/kcli/secret.key`` on the lock node, root-only 0600,
never in git, read in the lock node's observation). Someone with the state repository but not
root on the lock node learns nothing of the values; root on a node could read them anyway (the
pods' environment and volumes are there). Losing the lock node loses the key: sealed values can
no longer be opened, and pods that read them need the Secret in an apply again (as before).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

PREFIX = "v1:"


def _key(secret_key: bytes) -> bytes:
    return hmac.new(secret_key, b"kcli secret sealing v1", hashlib.sha256).digest()


def _aad(namespace: str, name: str) -> bytes:
    return f"kcli-secret:{namespace}/{name}".encode()


def seal(secret_key: bytes, namespace: str, name: str, kind_type: str, data: Mapping[str, bytes]) -> str:
    """The Secret's type and data, encrypted under the cluster's key. Deterministic (pure): the
    nonce is an HMAC of the plaintext and its name, so only identical values give identical
    records (as SIV modes do), and a nonce is never reused for another plaintext."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # paramiko's dependency; imported when used

    payload = json.dumps(
        {"type": kind_type, "data": {k: base64.b64encode(v).decode() for k, v in sorted(data.items())}}, sort_keys=True
    ).encode()
    key = _key(secret_key)
    nonce = hmac.new(key, _aad(namespace, name) + b"\0" + payload, hashlib.sha256).digest()[:12]
    return PREFIX + base64.b64encode(nonce + AESGCM(key).encrypt(nonce, payload, _aad(namespace, name))).decode()


def unseal(secret_key: bytes, namespace: str, name: str, blob: str) -> dict[str, Any] | None:
    """{"type", "data" (base64 values, as in a manifest)}; None when it cannot be opened (another
    cluster key, a damaged record)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not secret_key or not blob.startswith(PREFIX):
        return None
    try:
        raw = base64.b64decode(blob[len(PREFIX) :])
        out = json.loads(AESGCM(_key(secret_key)).decrypt(raw[:12], raw[12:], _aad(namespace, name)))
    except (InvalidTag, ValueError, TypeError):
        return None
    return out if isinstance(out, dict) and isinstance(out.get("data"), dict) else None
