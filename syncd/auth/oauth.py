"""OAuth 2.0 for the Scheduler API: the token endpoint's grants and bearer-token checks.

Grants (RFC 6749): `refresh_token` (rotating: every use returns a new refresh
token and marks the old one used; presenting a used one again revokes its
whole family, per the OAuth 2.0 Security BCP) and `client_credentials`.
Access tokens are random, stored only as SHA-256 hashes, and short-lived.

A caller that proves nothing gets one answer whatever client id it names
(unknown, revoked or real): 401 `invalid_client` with the same description and
headers (RFC 6749 §5.2), so the token endpoint tells nobody which ids exist.
Only a caller holding a credential of the client (its secret, or a refresh
token issued to it) learns more: revoked, expired, spent, tenant disabled.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from sqlalchemy import Engine, delete, update
from sqlmodel import col

from syncd.auth.caller import Caller, describe_enabled
from syncd.auth.clients import ACCESS_TOKEN_PREFIX, store_refresh_token
from syncd.auth.errors import AuthError, OAuthError
from syncd.auth.throttle import BruteForceGuard, caller_key, token_key
from syncd.auth.tokens import hash_secret, new_secret, same
from syncd.config import ApiServerConfig, TenantConfig
from syncd.domain import ErrorCode, utc
from syncd.ledger.db import session_scope
from syncd.ledger.models import AccessToken, ApiClient, RefreshToken

BEARER_CHALLENGE = 'Bearer realm="syncd"'
_PURGE_EVERY = timedelta(minutes=5)
#: Compared against when the client has no secret hash, so that the work done
#: does not depend on whether the client id exists.
_NO_HASH = hash_secret("no client")


def invalid_client(description: str | None = None) -> OAuthError:
    """RFC 6749 §5.2 invalid_client; without a description, the one answer for every
    client id when the caller proved nothing."""
    return OAuthError(
        "invalid_client",
        description
        or "client authentication failed: unknown or revoked client, or a client_secret or "
        "refresh_token that is not this client's",
        status=401,
        headers={"WWW-Authenticate": 'Basic realm="syncd"'},
    )


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """(user, password) from an `Authorization: Basic` header, or None if it is not one.

    Per RFC 6749 §2.3.1 both parts are form-urlencoded before base64, so they
    are decoded here (plain legacy passwords without "%" or "+" are unchanged).
    """
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    user, _, password = decoded.partition(":")
    return user, password


class TokenService:
    """Issues and checks tokens against the ledger; tenants come from the configuration."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime],
        settings: ApiServerConfig,
        tenants: Mapping[str, TenantConfig],
        guard: BruteForceGuard,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.settings = settings
        self.tenants = tenants
        self.guard = guard
        self._last_purge: datetime | None = None

    # ------------------------------------------------------------ token endpoint

    def token(
        self, form: Mapping[str, str], *, authorization: str | None, remote_addr: str
    ) -> dict[str, Any]:
        """Answer one token request (RFC 6749 §5.1) or raise OAuthError (§5.2)."""
        basic = parse_basic(authorization)
        client_id = form.get("client_id") or ""
        client_secret = form.get("client_secret")
        if basic is not None:
            basic_id, basic_secret = (unquote_plus(part) for part in basic)
            if client_id and client_id != basic_id:
                raise OAuthError("invalid_request", "client_id differs from the Basic credentials")
            client_id, client_secret = basic_id, basic_secret
        if not client_id:
            raise OAuthError("invalid_request", "client_id is required")
        # Charged to this client from this source only: failures elsewhere, or in the
        # name of another client, never refuse this caller (see syncd.auth.throttle).
        keys = [caller_key("client", remote_addr, client_id)]
        wait = self.guard.retry_after(keys)
        if wait is not None:
            raise OAuthError(
                "slow_down",
                f"too many failed attempts; retry in {wait} seconds",
                status=429,
                headers={"Retry-After": str(wait)},
            )
        grant = form.get("grant_type")
        try:
            if grant == "refresh_token":
                return self._refresh_grant(client_id, client_secret, form.get("refresh_token"))
            if grant == "client_credentials":
                return self._client_credentials_grant(client_id, client_secret)
        except OAuthError as exc:
            if exc.error in ("invalid_client", "invalid_grant"):
                self.guard.record_failure(keys)
            raise
        if not grant:
            raise OAuthError("invalid_request", "grant_type is required")
        raise OAuthError(
            "unsupported_grant_type",
            f"grant_type '{grant}' is not supported; use refresh_token or client_credentials",
        )

    def _refresh_grant(
        self, client_id: str, client_secret: str | None, refresh_token: str | None
    ) -> dict[str, Any]:
        if not refresh_token:
            raise OAuthError("invalid_request", "refresh_token is required")
        now = self.clock()
        token_hash = hash_secret(refresh_token)
        with session_scope(self.engine) as session:
            client = session.get(ApiClient, client_id)
            row = session.get(RefreshToken, token_hash)
            secret_ok = client_secret is None or _secret_matches(client, client_secret)
            issued_to_client = (
                client is not None
                and client.method == "oauth"
                and row is not None
                and row.client_id == client.client_id
            )
            if not (issued_to_client and secret_ok):
                raise invalid_client()
            assert client is not None and row is not None
            # The caller holds a refresh token issued to this client: it may learn more.
            self._check_client(client)
            if row.revoked_at is not None:
                raise OAuthError("invalid_grant", "the refresh token was revoked")
            if utc(row.expires_at) <= now:
                raise OAuthError(
                    "invalid_grant", "the refresh token has expired; ask for a new one"
                )
            # Atomic claim: of two concurrent uses only one wins; the loser is a reuse.
            claimed = session.exec(
                update(RefreshToken)
                .where(
                    col(RefreshToken.token_hash) == token_hash,
                    col(RefreshToken.used_at).is_(None),
                    col(RefreshToken.revoked_at).is_(None),
                )
                .values(used_at=now)
            ).rowcount
            if claimed != 1:
                self._revoke_family(session, row, now)
            else:
                new_refresh = store_refresh_token(
                    session,
                    client_id=client.client_id,
                    tenant=client.tenant,
                    family=row.family,
                    now=now,
                    ttl_days=self.settings.refresh_token_ttl_days,
                )
                answer = self._issue_access(session, client, now)
                answer["refresh_token"] = new_refresh
                return answer
        # Outside the session so that the revocation is committed before answering.
        raise OAuthError(
            "invalid_grant",
            "the refresh token was already used; its whole token family is now revoked "
            "(mint a new refresh token with `syncd clients`)",
        )

    def _revoke_family(self, session: Any, row: RefreshToken, now: datetime) -> None:
        session.exec(
            update(RefreshToken)
            .where(col(RefreshToken.family) == row.family, col(RefreshToken.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        # Access tokens do not record their family: drop all of this client's.
        session.exec(delete(AccessToken).where(col(AccessToken.client_id) == row.client_id))

    def _client_credentials_grant(
        self, client_id: str, client_secret: str | None
    ) -> dict[str, Any]:
        if not client_secret:
            raise invalid_client("client_credentials needs client_secret (form or HTTP Basic)")
        now = self.clock()
        with session_scope(self.engine) as session:
            client = session.get(ApiClient, client_id)
            if not _secret_matches(client, client_secret):
                raise invalid_client()
            assert client is not None
            self._check_client(client)
            return self._issue_access(session, client, now)

    def _check_client(self, client: ApiClient) -> None:
        """What a caller holding one of the client's credentials is told is wrong, if anything."""
        if client.revoked_at is not None:
            raise invalid_client(
                "this client was revoked; mint a new one with `syncd clients create`"
            )
        tenant = self.tenants.get(client.tenant)
        if tenant is None:
            raise OAuthError(
                "unauthorized_client", f"the client's tenant '{client.tenant}' is not configured"
            )
        if not tenant.api.oauth:
            raise OAuthError(
                "unauthorized_client",
                f"OAuth 2.0 is disabled for tenant '{tenant.name}'; "
                f"enabled: {describe_enabled(tenant)}",
            )

    def _issue_access(self, session: Any, client: ApiClient, now: datetime) -> dict[str, Any]:
        token = new_secret(ACCESS_TOKEN_PREFIX)
        ttl = self.settings.access_token_ttl_seconds
        session.add(
            AccessToken(
                token_hash=hash_secret(token),
                client_id=client.client_id,
                tenant=client.tenant,
                expires_at=now + timedelta(seconds=ttl),
            )
        )
        if self._last_purge is None or now - self._last_purge > _PURGE_EVERY:
            # Expired tokens are useless; delete them now and then, not on every issue.
            session.exec(delete(AccessToken).where(col(AccessToken.expires_at) < now))
            self._last_purge = now
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}

    # ------------------------------------------------------------ bearer tokens

    def authenticate(self, token: str) -> Caller:
        """The caller a bearer token stands for, or AuthError (RFC 6750 challenge).

        An unknown token counts against that token alone (its fingerprint), not
        the address it came from: a caller repeating a bad token is slowed down,
        while other callers behind the same address, each with a valid token,
        are not. An expired token does not count (it was real once).
        """
        token_keys = [token_key(token)]
        wait = self.guard.retry_after(token_keys)
        if wait is not None:
            raise AuthError(
                ErrorCode.THROTTLED,
                f"too many failed attempts; retry in {wait} seconds",
                retry_after=wait,
            )
        now = self.clock()
        with session_scope(self.engine) as session:
            row = session.get(AccessToken, hash_secret(token))
            client = session.get(ApiClient, row.client_id) if row is not None else None
        if row is None:
            self.guard.record_failure(token_keys)
            raise _invalid_token("the access token is not valid")
        if utc(row.expires_at) <= now:
            raise _invalid_token(
                "the access token has expired; get a new one from POST /oauth/token"
            )
        if client is None or client.revoked_at is not None:
            raise _invalid_token("the client of this access token was revoked")
        tenant = self.tenants.get(row.tenant)
        if tenant is None:
            raise AuthError(ErrorCode.FORBIDDEN, f"tenant '{row.tenant}' is not configured")
        if not tenant.api.oauth:
            raise AuthError(
                ErrorCode.FORBIDDEN,
                f"OAuth 2.0 is disabled for tenant '{tenant.name}'; "
                f"enabled: {describe_enabled(tenant)}",
            )
        return Caller(tenant=row.tenant, client_id=row.client_id, method="oauth")


def _secret_matches(client: ApiClient | None, client_secret: str) -> bool:
    """Is this the secret of an OAuth client? Constant time, and the same work for a
    client id that does not exist."""
    stored = client.secret_hash if client is not None and client.secret_hash else _NO_HASH
    matches = same(hash_secret(client_secret), stored)
    return matches and client is not None and client.method == "oauth" and stored != _NO_HASH


def _invalid_token(description: str) -> AuthError:
    challenge = f'{BEARER_CHALLENGE}, error="invalid_token", error_description="{description}"'
    return AuthError(ErrorCode.UNAUTHORIZED, description, headers={"WWW-Authenticate": challenge})
