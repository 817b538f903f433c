"""Legacy login/password (HTTP Basic for a tenant's administrator); off unless configured.

The username picks the tenant, so two tenants may not share one: that is
refused when the app starts. Passwords are read from their SecretRef on every
check (a rotated secret file takes effect without a restart) and compared in
constant time.
"""

from __future__ import annotations

from collections.abc import Mapping

from syncd.auth.caller import METHOD_NAMES, Caller
from syncd.auth.errors import AuthError
from syncd.auth.tokens import same
from syncd.config import ConfigError, LegacyLogin, TenantConfig
from syncd.domain import ErrorCode

BASIC_CHALLENGE = 'Basic realm="syncd"'


class LegacyLogins:
    """username -> (tenant, login settings) for every tenant that enables legacy login."""

    def __init__(self, tenants: Mapping[str, TenantConfig]) -> None:
        self._by_user: dict[str, tuple[str, LegacyLogin]] = {}
        for tenant in tenants.values():
            login = tenant.api.legacy_login
            if not login.enabled:
                continue
            other = self._by_user.get(login.username)
            if other is not None:
                raise ConfigError(
                    f"tenants '{other[0]}' and '{tenant.name}' both enable legacy login with "
                    f"username '{login.username}'; the username selects the tenant, so give "
                    "each tenant its own username (api.legacy_login.username)"
                )
            assert login.password is not None  # LegacyLogin validates this
            login.password.read()  # fail at start, not at the first login, if it is missing
            self._by_user[login.username] = (tenant.name, login)

    @property
    def enabled(self) -> bool:
        return bool(self._by_user)

    def verify(self, username: str, password: str) -> Caller:
        """The tenant administrator these credentials belong to, or AuthError."""
        if not self._by_user:
            raise AuthError(
                ErrorCode.UNAUTHORIZED,
                "legacy login/password is disabled for this deployment; use "
                f"{METHOD_NAMES['oauth']} or {METHOD_NAMES['hmac']}",
                headers={"WWW-Authenticate": 'Bearer realm="syncd"'},
            )
        entry = self._by_user.get(username)
        # Compare against something even for an unknown user, so timing tells nothing.
        tenant, login = entry if entry is not None else next(iter(self._by_user.values()))
        assert login.password is not None
        password_ok = same(password, login.password.read())
        if entry is None or not password_ok:
            raise AuthError(
                ErrorCode.UNAUTHORIZED,
                "wrong login or password",
                headers={"WWW-Authenticate": BASIC_CHALLENGE},
            )
        return Caller(tenant=tenant, client_id=f"legacy:{username}", method="legacy")
