"""API keys: `pp_<lookup>_<secret>`, high-entropy random; only the SHA-256 of the whole key is stored.

The public `lookup` part finds the row; the hash is then compared in constant time. A fast hash is
right here (unlike for passwords): the secret has 256 bits of entropy, so there is nothing to guess.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

_KEY = re.compile(r"pp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


def new_api_key() -> tuple[str, str, str]:
    """A fresh key as (key, lookup, sha256 of key)."""
    lookup = secrets.token_hex(8)
    key = f"pp_{lookup}_{secrets.token_urlsafe(32)}"
    return key, lookup, hash_key(key)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_lookup(key: str) -> str | None:
    """The lookup part of a well-formed key, else None."""
    match = _KEY.fullmatch(key)
    return match.group(1) if match else None


def key_matches(key: str, stored_sha256: str) -> bool:
    return hmac.compare_digest(hash_key(key), stored_sha256)
