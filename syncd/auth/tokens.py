"""Random credentials, their stored hashes, and constant-time comparison."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret(prefix: str) -> str:
    """A 256-bit random token; the prefix tells secret scanners (and people) what it is."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def _bytes(value: str) -> bytes:
    # surrogatepass: a lone surrogate from a JSON body must not crash a comparison
    return value.encode("utf-8", "surrogatepass")


def hash_secret(value: str) -> str:
    """SHA-256 hex of a high-entropy token (what the ledger stores instead of the token)."""
    return hashlib.sha256(_bytes(value)).hexdigest()


def same(given: str, expected: str) -> bool:
    """Constant-time string equality."""
    return hmac.compare_digest(_bytes(given), _bytes(expected))
