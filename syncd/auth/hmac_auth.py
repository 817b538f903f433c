"""Server side of the HMAC scheme: verify a signed request, refuse stale and replayed ones.

Replay protection stores each accepted signature in the ledger (`hmac_nonce`,
primary key = signature) until its timestamp goes stale, so a replay is refused
by any process sharing the ledger.

An unknown client id, another method's client and a wrong signature all get
the one answer `SIGNATURE_REFUSED`, after the same work (a signature computed
with a stand-in secret for an unknown id): a caller learns nothing about which
ids exist until it signs correctly, and only then hears of revocation or a
tenant that turned HMAC off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from syncd.auth.caller import Caller, RequestInfo, describe_enabled
from syncd.auth.errors import AuthError
from syncd.auth.hmac_scheme import (
    HEADER_CLIENT_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    compute_signature,
    derive_secret,
)
from syncd.auth.throttle import BruteForceGuard, caller_key
from syncd.auth.tokens import same
from syncd.config import TenantConfig
from syncd.domain import ErrorCode
from syncd.ledger.db import session_scope
from syncd.ledger.models import ApiClient, HmacNonce

HMAC_CHALLENGE = 'SyncdHmac realm="syncd"'
_PURGE_EVERY = timedelta(minutes=1)
SIGNATURE_REFUSED = (
    "the HMAC signature does not match this request, or the client is unknown or revoked; "
    "sign METHOD, path, query, timestamp and the body's SHA-256 as documented (sign_request)"
)


def _refused(message: str) -> AuthError:
    return AuthError(ErrorCode.UNAUTHORIZED, message, headers={"WWW-Authenticate": HMAC_CHALLENGE})


def has_hmac_headers(headers: Mapping[str, str]) -> bool:
    names = (HEADER_CLIENT_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE)
    return any(name.lower() in headers for name in names)


class HmacVerifier:
    def __init__(
        self,
        engine: Engine,
        *,
        master_key: bytes,
        clock: Callable[[], datetime],
        tenants: Mapping[str, TenantConfig],
        guard: BruteForceGuard,
    ) -> None:
        self.engine = engine
        self.master_key = master_key
        self.clock = clock
        self.tenants = tenants
        self.guard = guard
        self._last_purge: datetime | None = None

    def verify(self, request: RequestInfo) -> Caller:
        headers = request.headers
        client_id = headers.get(HEADER_CLIENT_ID.lower(), "")
        stamp = headers.get(HEADER_TIMESTAMP.lower(), "")
        given = headers.get(HEADER_SIGNATURE.lower(), "")
        missing = [
            name
            for name, value in (
                (HEADER_CLIENT_ID, client_id),
                (HEADER_TIMESTAMP, stamp),
                (HEADER_SIGNATURE, given),
            )
            if not value
        ]
        if missing:
            raise _refused(f"HMAC authentication needs the header(s) {', '.join(missing)}")
        if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
            raise _refused(f"{HEADER_TIMESTAMP} must be the Unix time in whole seconds")
        # Charged to this client from this source only (see syncd.auth.throttle).
        keys = [caller_key("client", request.remote_addr, client_id)]
        wait = self.guard.retry_after(keys)
        if wait is not None:
            raise AuthError(
                ErrorCode.THROTTLED,
                f"too many failed attempts; retry in {wait} seconds",
                retry_after=wait,
            )
        with session_scope(self.engine) as session:
            client = session.get(ApiClient, client_id)
        known = client is not None and client.method == "hmac"
        # An unknown id is checked against a stand-in secret: the same work, the same answer.
        secret = derive_secret(
            self.master_key,
            client.tenant if client is not None and known else "",
            client_id,
            client.secret_generation if client is not None and known else 0,
        )
        expected = compute_signature(
            secret, request.method, request.raw_path, request.query_string, stamp, request.body
        )
        if not (same(given, expected) and known):
            self.guard.record_failure(keys)
            raise _refused(SIGNATURE_REFUSED)
        assert client is not None
        if client.revoked_at is not None:
            self.guard.record_failure(keys)
            raise _refused(f"HMAC client '{client_id}' was revoked")
        tenant = self._tenant(client.tenant)
        now = self.clock()
        skew = tenant.api.hmac.max_skew_seconds
        offset = int(stamp) - int(now.timestamp())
        if abs(offset) > skew:
            raise _refused(
                f"{HEADER_TIMESTAMP} is {offset:+d} seconds off the server clock "
                f"(allowed: ±{skew}); sync the client's clock and sign again"
            )
        self._remember(given, client_id, datetime.fromtimestamp(int(stamp) + skew, now.tzinfo))
        return Caller(tenant=tenant.name, client_id=client_id, method="hmac")

    def _tenant(self, name: str) -> TenantConfig:
        """The signing client's tenant, if it accepts HMAC (told only to a correct signer)."""
        tenant = self.tenants.get(name)
        if tenant is None:
            raise AuthError(ErrorCode.FORBIDDEN, f"tenant '{name}' is not configured")
        if not tenant.api.hmac.enabled:
            raise AuthError(
                ErrorCode.FORBIDDEN,
                f"HMAC authentication is disabled for tenant '{tenant.name}'; "
                f"enabled: {describe_enabled(tenant)}",
            )
        return tenant

    def _remember(self, signature: str, client_id: str, expires_at: datetime) -> None:
        now = self.clock()
        try:
            with session_scope(self.engine) as session:
                session.add(
                    HmacNonce(signature=signature, client_id=client_id, expires_at=expires_at)
                )
        except IntegrityError:
            raise _refused(
                "this signed request was already received (replay); "
                "sign every request afresh with a new timestamp"
            ) from None
        if self._last_purge is None or now - self._last_purge > _PURGE_EVERY:
            with session_scope(self.engine) as session:
                session.exec(delete(HmacNonce).where(col(HmacNonce.expires_at) < now))
            self._last_purge = now
