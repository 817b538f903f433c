"""The HMAC request-signing scheme: both the client side (`sign_request`) and its parts.

A request carries three headers:

    X-Syncd-Client-Id: <client id>
    X-Syncd-Timestamp: <unix seconds, decimal integer>
    X-Syncd-Signature: base64(HMAC-SHA256(secret, string_to_sign))

string_to_sign = METHOD "\\n" path "\\n" query "\\n" timestamp "\\n" hex(SHA-256(body))

- METHOD is upper case; path is the URL path as sent, percent-decoded and then
  re-encoded per RFC 3986 (everything but unreserved characters and "/" escaped);
- query is the query string's name=value pairs, percent-decoded ("+" is a
  space), each name and value re-encoded per RFC 3986 (UTF-8, upper-case hex),
  sorted by encoded name then encoded value (plain character order), joined
  with "&" (empty when there is no query);
- body is the exact bytes sent (SHA-256 of nothing for an empty body);
- the key is the client's secret string as ASCII bytes.

The server refuses a timestamp more than the tenant's `max_skew_seconds` off
its clock and any signature it has already accepted (replay).
The secret is not stored: it is derived from the master key (`derive_secret`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import parse_qsl, quote, unquote, urlsplit

HEADER_CLIENT_ID = "X-Syncd-Client-Id"
HEADER_TIMESTAMP = "X-Syncd-Timestamp"
HEADER_SIGNATURE = "X-Syncd-Signature"


def derive_secret(master_key: bytes, tenant: str, client_id: str, generation: int) -> str:
    """The client's secret: urlsafe-base64 (unpadded) HMAC-SHA256 of its identity."""
    message = f"hmac:{tenant}:{client_id}:{generation}".encode()
    digest = hmac.new(master_key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def canonical_path(raw_path: str) -> str:
    return quote(unquote(raw_path or "/"), safe="/")


def canonical_query(raw_query: str) -> str:
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    encoded = sorted((quote(name, safe=""), quote(value, safe="")) for name, value in pairs)
    return "&".join(f"{name}={value}" for name, value in encoded)


def string_to_sign(method: str, raw_path: str, raw_query: str, timestamp: str, body: bytes) -> str:
    return "\n".join(
        (
            method.upper(),
            canonical_path(raw_path),
            canonical_query(raw_query),
            timestamp,
            hashlib.sha256(body).hexdigest(),
        )
    )


def compute_signature(
    secret: str, method: str, raw_path: str, raw_query: str, timestamp: str, body: bytes
) -> str:
    message = string_to_sign(method, raw_path, raw_query, timestamp, body).encode("utf-8")
    digest = hmac.new(secret.encode("ascii"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def sign_request(
    method: str,
    url: str,
    body: bytes | str | None,
    client_id: str,
    secret: str,
    timestamp: int | None = None,
) -> dict[str, str]:
    """Headers that authenticate one request; send exactly `body` with them."""
    if timestamp is None:
        timestamp = int(time.time())
    if isinstance(body, str):
        body = body.encode("utf-8")
    parts = urlsplit(url)
    signature = compute_signature(
        secret, method, parts.path, parts.query, str(timestamp), body or b""
    )
    return {
        HEADER_CLIENT_ID: client_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: signature,
    }
