"""Errors of the auth layer: Scheduler-API auth failures and OAuth token-endpoint errors."""

from __future__ import annotations

from syncd.domain import ErrorCode, SyncdError


class AuthError(SyncdError):
    """A refused credential; carries the response headers (WWW-Authenticate, Retry-After)."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, message, retry_after=retry_after)
        self.headers = dict(headers or {})


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer of the token endpoint."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.headers = dict(headers or {})
