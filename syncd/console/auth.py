"""The operator credential of /status and /metrics, apart from every API client's.

One token, read from the environment, a file or a systemd credential (`[operator]
token` in syncd.toml), never from the configuration itself and never logged. Scripts
send it as `Authorization: Bearer <token>`; browsers trade it once at the login form
for a session cookie (HttpOnly, SameSite=Strict) signed with HMAC-SHA256 under a key
derived from the token, so changing the token ends every session. Forms carry a CSRF
token bound to the session. Every comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from syncd.config import ConfigError, LoadedConfig

COOKIE = "syncd_operator"
#: The least an operator token may be: it is the only thing between the web and the page.
MIN_TOKEN_CHARS = 32
_KEY_LABEL = b"syncd operator session key v1"


@dataclass(frozen=True)
class Operator:
    """An authenticated operator: by bearer token (scripts) or by session cookie."""

    via: str  # "bearer" | "session"
    #: the session's CSRF token (forms must send it back); None for bearer callers
    csrf: str | None = None
    session: str | None = None


class OperatorAuth:
    """Checks the operator token and signs and checks session cookies."""

    def __init__(
        self, token: str | None, *, session_seconds: int, clock: Callable[[], datetime]
    ) -> None:
        self._token = token.encode() if token else None
        self._key = (
            hmac.new(self._token, _KEY_LABEL, hashlib.sha256).digest() if self._token else b""
        )
        self.session_seconds = session_seconds
        self.clock = clock

    @classmethod
    def from_config(cls, config: LoadedConfig, clock: Callable[[], datetime]) -> OperatorAuth:
        settings = config.settings.operator
        token = settings.token.read() if settings.token is not None else None
        if token is not None and len(token) < MIN_TOKEN_CHARS:
            assert settings.token is not None
            raise ConfigError(
                f"the operator token from {settings.token.describe()} is shorter than "
                f"{MIN_TOKEN_CHARS} characters; make one with "
                "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return cls(token, session_seconds=settings.session_hours * 3600, clock=clock)

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def token_matches(self, given: str) -> bool:
        if self._token is None:
            return False
        return hmac.compare_digest(given.encode(), self._token)

    # ------------------------------------------------------------- sessions

    def _sign(self, text: str) -> str:
        mac = hmac.new(self._key, text.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def new_session(self) -> str:
        """A cookie value: expiry, a random session id and their signature."""
        expires = int(self.clock().timestamp()) + self.session_seconds
        body = f"{expires}.{secrets.token_urlsafe(18)}"
        return f"{body}.{self._sign(body)}"

    def session_of(self, cookie: str) -> Operator | None:
        """The operator of a cookie that is signed by us and not expired."""
        if not self.enabled:
            return None
        body, _, signature = cookie.rpartition(".")
        expires, _, session = body.partition(".")
        if not (expires.isdigit() and session and signature):
            return None
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            return None
        if int(expires) <= self.clock().timestamp():
            return None
        return Operator("session", csrf=self._sign(f"csrf.{session}"), session=session)

    def csrf_matches(self, operator: Operator, given: str) -> bool:
        """A form's CSRF token against its session's (bearer callers need none)."""
        if operator.via == "bearer":
            return True
        return operator.csrf is not None and hmac.compare_digest(
            given.encode(), operator.csrf.encode()
        )
