"""Authentication of Scheduler API callers: OAuth 2.0, HMAC and legacy login/password.

Every credential belongs to exactly one tenant, and a request's tenant is its
credential's tenant.
"""

from syncd.auth.authenticator import Authenticator
from syncd.auth.caller import Caller, RequestInfo
from syncd.auth.clients import (
    create_client,
    issue_refresh_token,
    list_clients,
    revoke_client,
    rotate_hmac_secret,
)
from syncd.auth.errors import AuthError, OAuthError
from syncd.auth.hmac_scheme import derive_secret, sign_request

__all__ = [
    "AuthError",
    "Authenticator",
    "Caller",
    "OAuthError",
    "RequestInfo",
    "create_client",
    "derive_secret",
    "issue_refresh_token",
    "list_clients",
    "revoke_client",
    "rotate_hmac_secret",
    "sign_request",
]
