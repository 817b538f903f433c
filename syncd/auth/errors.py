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


class OAuthError(AuthError):
    """An RFC 6749 §5.2 error answer of the token endpoint (answered in that format,
    not the Scheduler API's; `code` only places it among syncd's errors)."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        code = {401: ErrorCode.UNAUTHORIZED, 429: ErrorCode.THROTTLED}.get(
            status, ErrorCode.INVALID_REQUEST
        )
        super().__init__(code, f"{error}: {description}", headers=headers)
        self.error = error
        self.description = description
        self.status = status
