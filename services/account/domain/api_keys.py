"""API keys: `ob_<keyid>_<secret>`. Only the key id and sha256(secret) are ever stored."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "ob_"
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    plaintext: str
    secret_sha256: bytes


@dataclass(frozen=True)
class ParsedKey:
    key_id: str
    secret: str


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def issue() -> IssuedKey:
    # Hex key id: never contains "_", so the first "_" after it ends the id unambiguously.
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return IssuedKey(key_id, f"{PREFIX}{key_id}_{secret}", digest(secret))


def parse(api_key: str) -> ParsedKey | None:
    """The key id and secret of a well-formed key, else None."""
    if not isinstance(api_key, str) or not api_key.startswith(PREFIX):
        return None
    key_id, sep, secret = api_key[len(PREFIX):].partition("_")
    if not sep or not secret or not _KEY_ID.match(key_id):
        return None
    return ParsedKey(key_id, secret)


def matches(secret: str, stored_sha256: bytes) -> bool:
    return hmac.compare_digest(digest(secret), bytes(stored_sha256))
