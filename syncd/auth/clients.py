"""API clients of the Scheduler API: create, list, revoke, rotate (what `syncd clients` runs).

Every client belongs to exactly one tenant. Only hashes of secrets are stored;
an HMAC client's secret is derived from the master key and not stored at all.
Secrets are returned once, at creation or rotation.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, delete, update
from sqlmodel import col, select

from syncd.auth.errors import AuthError
from syncd.auth.hmac_scheme import derive_secret
from syncd.auth.tokens import hash_secret, new_secret
from syncd.domain import ErrorCode
from syncd.ledger.db import session_scope
from syncd.ledger.models import AccessToken, ApiClient, RefreshToken

ClientMethod = Literal["oauth", "hmac"]
CLIENT_SECRET_PREFIX = "sycs"  # noqa: S105 - a label, not a secret
REFRESH_TOKEN_PREFIX = "syrt"  # noqa: S105
ACCESS_TOKEN_PREFIX = "syat"  # noqa: S105
DEFAULT_REFRESH_TOKEN_TTL_DAYS = 90


class ClientError(AuthError, ValueError):
    """A client operation that cannot be done (unknown client, wrong method...); a
    ValueError too, as it was before the auth layer had an error class of its own."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.INVALID_REQUEST, message)


def _now() -> datetime:
    return datetime.now(UTC)


def new_client_id(method: ClientMethod) -> str:
    return f"{method}_{secrets.token_hex(10)}"


def store_refresh_token(
    session: Any,
    *,
    client_id: str,
    tenant: str,
    family: str,
    now: datetime,
    ttl_days: int,
) -> str:
    """Mint a refresh token in `family`, store its hash, return the token."""
    token = new_secret(REFRESH_TOKEN_PREFIX)
    session.add(
        RefreshToken(
            token_hash=hash_secret(token),
            client_id=client_id,
            tenant=tenant,
            family=family,
            issued_at=now,
            expires_at=now + timedelta(days=ttl_days),
        )
    )
    return token


def create_client(
    engine: Engine,
    *,
    tenant: str,
    method: ClientMethod,
    master_key: bytes,
    description: str = "",
    clock: Callable[[], datetime] = _now,
    refresh_token_ttl_days: int = DEFAULT_REFRESH_TOKEN_TTL_DAYS,
) -> dict[str, str]:
    """Create a client of `tenant` and return its credentials (shown once).

    oauth: client_id, tenant, method, refresh_token, client_secret (for the
    client_credentials grant). hmac: client_id, tenant, method, secret.
    """
    if method not in ("oauth", "hmac"):
        raise ClientError(f"unknown method '{method}': use 'oauth' or 'hmac'")
    if not tenant or len(tenant) > 64:
        raise ClientError("tenant must be a configured tenant name (1 to 64 characters)")
    now = clock()
    client_id = new_client_id(method)
    result = {"client_id": client_id, "tenant": tenant, "method": method}
    with session_scope(engine) as session:
        client = ApiClient(
            client_id=client_id,
            tenant=tenant,
            method=method,
            description=description[:255],
            created_at=now,
        )
        if method == "oauth":
            client_secret = new_secret(CLIENT_SECRET_PREFIX)
            client.secret_hash = hash_secret(client_secret)
            session.add(client)
            result["refresh_token"] = store_refresh_token(
                session,
                client_id=client_id,
                tenant=tenant,
                family=uuid.uuid4().hex,
                now=now,
                ttl_days=refresh_token_ttl_days,
            )
            result["client_secret"] = client_secret
        else:
            session.add(client)
            result["secret"] = derive_secret(master_key, tenant, client_id, 0)
    return result


def issue_refresh_token(
    engine: Engine,
    client_id: str,
    *,
    clock: Callable[[], datetime] = _now,
    refresh_token_ttl_days: int = DEFAULT_REFRESH_TOKEN_TTL_DAYS,
) -> dict[str, str]:
    """A fresh refresh token (new family) for an existing OAuth client, e.g. after a loss."""
    now = clock()
    with session_scope(engine) as session:
        client = _live_client(session, client_id, "oauth")
        token = store_refresh_token(
            session,
            client_id=client_id,
            tenant=client.tenant,
            family=uuid.uuid4().hex,
            now=now,
            ttl_days=refresh_token_ttl_days,
        )
    return {"client_id": client_id, "tenant": client.tenant, "refresh_token": token}


def rotate_hmac_secret(engine: Engine, client_id: str, *, master_key: bytes) -> dict[str, str]:
    """Bump the HMAC client's secret generation; the old secret stops working at once."""
    with session_scope(engine) as session:
        client = _live_client(session, client_id, "hmac")
        client.secret_generation += 1
        session.add(client)
        secret = derive_secret(master_key, client.tenant, client_id, client.secret_generation)
    return {"client_id": client_id, "tenant": client.tenant, "method": "hmac", "secret": secret}


def revoke_client(engine: Engine, client_id: str, *, clock: Callable[[], datetime] = _now) -> bool:
    """Revoke a client and all its tokens; False when there is no such client."""
    now = clock()
    with session_scope(engine) as session:
        client = session.get(ApiClient, client_id)
        if client is None:
            return False
        if client.revoked_at is None:
            client.revoked_at = now
            session.add(client)
        session.exec(
            update(RefreshToken)
            .where(col(RefreshToken.client_id) == client_id, col(RefreshToken.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        session.exec(delete(AccessToken).where(col(AccessToken.client_id) == client_id))
    return True


def list_clients(engine: Engine, *, tenant: str | None = None) -> list[dict[str, Any]]:
    """All clients (optionally of one tenant), without any secret."""
    with session_scope(engine) as session:
        query = select(ApiClient).order_by(col(ApiClient.tenant), col(ApiClient.created_at))
        if tenant is not None:
            query = query.where(ApiClient.tenant == tenant)
        clients = session.exec(query).all()
    return [
        {
            "client_id": c.client_id,
            "tenant": c.tenant,
            "method": c.method,
            "description": c.description,
            "secret_generation": c.secret_generation,
            "created_at": c.created_at.isoformat(),
            "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
        }
        for c in clients
    ]


def _live_client(session: Any, client_id: str, method: ClientMethod) -> ApiClient:
    client = session.get(ApiClient, client_id)
    if client is None:
        raise ClientError(f"no API client '{client_id}'")
    if client.revoked_at is not None:
        raise ClientError(f"API client '{client_id}' was revoked at {client.revoked_at}")
    if client.method != method:
        raise ClientError(f"API client '{client_id}' is an {client.method} client, not {method}")
    return client
