"""One entry point for the Scheduler API's auth: which credentials a request carries, and whose.

The tenant of a request is always the tenant of its credential; nothing in
the request itself can name another tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from syncd.auth.caller import METHOD_NAMES, Caller, RequestInfo
from syncd.auth.errors import AuthError
from syncd.auth.hmac_auth import HMAC_CHALLENGE, HmacVerifier, has_hmac_headers
from syncd.auth.legacy import BASIC_CHALLENGE, LegacyLogins
from syncd.auth.oauth import BEARER_CHALLENGE, TokenService, parse_basic
from syncd.auth.throttle import BruteForceGuard, BruteForcePolicy, caller_key
from syncd.config import ApiServerConfig, TenantConfig
from syncd.domain import ErrorCode


class Authenticator:
    """Resolves a request to a Caller (tenant + client) or raises AuthError."""

    def __init__(
        self,
        engine: Engine,
        *,
        master_key: bytes,
        clock: Callable[[], datetime],
        tenants: Mapping[str, TenantConfig],
        settings: ApiServerConfig,
        policy: BruteForcePolicy | None = None,
    ) -> None:
        self.guard = BruteForceGuard(engine, clock, policy)
        self.tokens = TokenService(
            engine, clock=clock, settings=settings, tenants=tenants, guard=self.guard
        )
        self.hmac = HmacVerifier(
            engine, master_key=master_key, clock=clock, tenants=tenants, guard=self.guard
        )
        self.legacy = LegacyLogins(tenants)

    @classmethod
    def from_runtime(cls, runtime: Any, policy: BruteForcePolicy | None = None) -> Authenticator:
        return cls(
            runtime.engine,
            master_key=runtime.master_key,
            clock=runtime.clock,
            tenants=runtime.config.tenants,
            settings=runtime.config.settings.api,
            policy=policy,
        )

    def challenges(self) -> str:
        """The WWW-Authenticate value listing the schemes this deployment accepts."""
        schemes = [BEARER_CHALLENGE, HMAC_CHALLENGE]
        if self.legacy.enabled:
            schemes.append(BASIC_CHALLENGE)
        return ", ".join(schemes)

    def authenticate(self, request: RequestInfo) -> Caller:
        authorization = request.headers.get("authorization", "").strip()
        if has_hmac_headers(request.headers):
            if authorization:
                raise self._unauthorized(
                    "send either an Authorization header or the X-Syncd-* HMAC headers, not both"
                )
            return self.hmac.verify(request)
        if not authorization:
            raise self._unauthorized(
                "authentication required: use "
                f"{METHOD_NAMES['oauth']}, {METHOD_NAMES['hmac']} or, where enabled, "
                f"{METHOD_NAMES['legacy']}"
            )
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer":
            if not credentials.strip():
                raise self._unauthorized("the Bearer token is missing after 'Bearer '")
            return self.tokens.authenticate(credentials.strip())
        if scheme.lower() == "basic":
            return self._basic(authorization, request.remote_addr)
        # Nothing of the header is echoed, not even its first word: a caller that
        # sends a bare token or password there would see it in the answer and the log.
        raise self._unauthorized(
            "unsupported Authorization scheme; use Bearer, HMAC headers (X-Syncd-*) or Basic"
        )

    def _basic(self, authorization: str, remote_addr: str) -> Caller:
        user, password = parse_basic(authorization) or ("", "")
        if not self.legacy.enabled:
            return self.legacy.verify(user, password)  # raises "disabled"
        # Charged to this username from this source only (see syncd.auth.throttle).
        keys = [caller_key("user", remote_addr, user)]
        wait = self.guard.retry_after(keys)
        if wait is not None:
            raise AuthError(
                ErrorCode.THROTTLED,
                f"too many failed attempts; retry in {wait} seconds",
                retry_after=wait,
            )
        try:
            return self.legacy.verify(user, password)
        except AuthError:
            self.guard.record_failure(keys)
            raise

    def _unauthorized(self, message: str) -> AuthError:
        return AuthError(
            ErrorCode.UNAUTHORIZED, message, headers={"WWW-Authenticate": self.challenges()}
        )
