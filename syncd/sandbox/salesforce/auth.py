"""Connected apps, the OAuth token endpoint (JWT bearer, client credentials) and sessions.

JWT bearer flow (https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm):
RS256 assertion with iss = consumer key, sub = username, exp = within 3 minutes, and
aud = "the authorization server's URL": https://login.salesforce.com,
https://test.salesforce.com (sandbox orgs) or an Experience Cloud site URL -- never the
org's My Domain or instance URL, even when the assertion is posted there. A wrong aud
answers 400 invalid_grant "audience is invalid" (the text Salesforce answers, as
integrators report it, e.g. https://www.useparagon.com/integration-error-solutions/salesforce-invalid-grant-audience-is-invalid).
The signature is checked against the certificate uploaded to the connected app. The
answer has access_token, scope, instance_url, id and token_type.
Client credentials flow (https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_client_credentials_flow.htm):
client_id + client_secret (form fields or HTTP Basic); the session runs as the app's
"run as" user; the answer adds issued_at and signature (Base64 HMAC-SHA256 of id +
issued_at keyed with the consumer secret,
https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_tokens_scopes.htm).
Errors are `{"error", "error_description"}` with HTTP 400.
Sessions expire after `session_timeout_seconds` without use (Salesforce's session
timeout is an inactivity timeout, 2 hours by default:
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_concepts_errorhandling.htm).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from syncd.sandbox.salesforce.org import SalesforceOrg

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: The JWT audiences of production orgs and of sandbox orgs (JWT bearer flow page).
PRODUCTION_AUDIENCE = "https://login.salesforce.com"
SANDBOX_AUDIENCE = "https://test.salesforce.com"
ASSERTION_MAX_LIFETIME = 180
# Leeway for clocks that disagree by a little (the assertion is stamped by the client).
ASSERTION_SKEW = 30
DEFAULT_SESSION_TIMEOUT = 7200


class OAuthError(Exception):
    """An error answer of the token endpoint."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class ConnectedApp:
    client_id: str
    certificates: list[x509.Certificate] = field(default_factory=list)
    client_secret: str | None = None
    run_as: str | None = None
    name: str = "syncd"


@dataclass
class Session:
    token: str
    user_id: str
    client_id: str
    issued_at: datetime
    last_used: datetime


class Auth:
    """Issues and checks sessions; `assertion_clock` is the time JWT `exp` is checked against.

    The client stamps its assertion with its own (real) clock, so `exp` is checked
    against real time by default even when tests move the sandbox clock.
    """

    def __init__(
        self,
        org: SalesforceOrg,
        *,
        assertion_clock: Callable[[], float] = time.time,
        session_timeout_seconds: float = DEFAULT_SESSION_TIMEOUT,
    ) -> None:
        self.org = org
        self.assertion_clock = assertion_clock
        self.session_timeout_seconds = session_timeout_seconds
        #: the aud this org expects: PRODUCTION_AUDIENCE, or SANDBOX_AUDIENCE for a sandbox org
        self.jwt_audience = PRODUCTION_AUDIENCE
        #: Experience Cloud site URLs, also accepted as aud
        self.extra_audiences: set[str] = set()
        self._lock = threading.Lock()
        self._apps: dict[str, ConnectedApp] = {}
        self._sessions: dict[str, Session] = {}

    # -- connected apps ----------------------------------------------------------------
    def register_connected_app(
        self,
        client_id: str,
        certificate_pem: str | bytes | None = None,
        client_secret: str | None = None,
        run_as: str | None = None,
        name: str = "syncd",
    ) -> ConnectedApp:
        """Register (or extend) a connected app: a certificate for JWT, a secret + run-as user."""
        if run_as is not None and self.org.find_user(run_as) is None:
            raise KeyError(f"run-as user {run_as!r} is not in the org")
        with self._lock:
            app = self._apps.setdefault(client_id, ConnectedApp(client_id, name=name))
            if certificate_pem:
                pem = (
                    certificate_pem.encode()
                    if isinstance(certificate_pem, str)
                    else certificate_pem
                )
                app.certificates.append(x509.load_pem_x509_certificate(pem))
            if client_secret is not None:
                app.client_secret = client_secret
            if run_as is not None:
                app.run_as = run_as
        return app

    # -- token endpoint ----------------------------------------------------------------
    def issue(
        self, form: Mapping[str, str], headers: Mapping[str, str], base_url: str
    ) -> dict[str, Any]:
        """Answer a token request (raises OAuthError)."""
        grant = form.get("grant_type", "")
        if grant == JWT_GRANT:
            return self._jwt_bearer(form.get("assertion", ""), base_url)
        if grant == "client_credentials":
            client_id, secret = _client_credentials(form, headers)
            return self._client_credentials(client_id, secret, base_url)
        raise OAuthError("unsupported_grant_type", "grant type not supported")

    def _jwt_bearer(self, assertion: str, base_url: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise OAuthError("invalid_grant", "invalid assertion") from error
        app = self._app(str(claims.get("iss", "")))
        if header.get("alg") != "RS256" or not app.certificates:
            raise OAuthError("invalid_grant", "invalid assertion")
        if not any(_signature_ok(assertion, cert) for cert in app.certificates):
            raise OAuthError("invalid_grant", "invalid assertion")
        # The URL the assertion was posted to (base_url, the org's own origin) is not an
        # audience: Salesforce wants the authorization server's URL (module docstring).
        audiences = {self.jwt_audience.rstrip("/"), *(a.rstrip("/") for a in self.extra_audiences)}
        audience = claims.get("aud")
        given = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(a, str) and a.rstrip("/") in audiences for a in given):
            raise OAuthError("invalid_grant", "audience is invalid")
        self._check_expiry(claims.get("exp"))
        user_id = self._active_user(str(claims.get("sub", "")))
        return self._session_answer(user_id, app, base_url, signed=False)

    def _check_expiry(self, exp: Any) -> None:
        # simple-salesforce sends exp as a string of seconds; accept both forms.
        try:
            expires = float(exp)
        except (TypeError, ValueError) as error:
            raise OAuthError("invalid_grant", "invalid assertion") from error
        now = self.assertion_clock()
        if expires < now - ASSERTION_SKEW:
            raise OAuthError("invalid_grant", "expired authorization code")
        if expires > now + ASSERTION_MAX_LIFETIME + ASSERTION_SKEW:
            raise OAuthError("invalid_grant", "invalid assertion: exp must be within 3 minutes")

    def _client_credentials(self, client_id: str, secret: str, base_url: str) -> dict[str, Any]:
        app = self._app(client_id)
        if app.client_secret is None or not hmac.compare_digest(app.client_secret, secret):
            raise OAuthError("invalid_client", "invalid client credentials")
        if app.run_as is None:
            raise OAuthError("invalid_grant", "no client credentials user enabled")
        user_id = self._active_user(app.run_as)
        return self._session_answer(user_id, app, base_url, signed=True)

    def _app(self, client_id: str) -> ConnectedApp:
        with self._lock:
            app = self._apps.get(client_id)
        if app is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        return app

    def _active_user(self, username: str) -> str:
        user_id = self.org.find_user(username) if username else None
        record = self.org.get(user_id) if user_id else None
        if record is None or not record.get("IsActive"):
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        return str(user_id)

    def _session_answer(
        self, user_id: str, app: ConnectedApp, base_url: str, *, signed: bool
    ) -> dict[str, Any]:
        now = self.org.now()
        token = f"{self.org.org_id[:15]}!{secrets.token_urlsafe(64)}"
        with self._lock:
            self._sessions[token] = Session(token, user_id, app.client_id, now, now)
        identity = f"{base_url}/id/{self.org.org_id}/{user_id}"
        answer: dict[str, Any] = {
            "access_token": token,
            "scope": "api",
            "instance_url": base_url,
            "id": identity,
            "token_type": "Bearer",
        }
        if signed:
            issued_at = str(int(now.timestamp() * 1000))
            key = (app.client_secret or "").encode()
            digest = hmac.new(key, (identity + issued_at).encode(), hashlib.sha256).digest()
            answer["issued_at"] = issued_at
            answer["signature"] = base64.b64encode(digest).decode()
        return answer

    # -- sessions ----------------------------------------------------------------------
    def open_session(self, user: str, client_id: str = "sandbox") -> str:
        """A session for `user` without the OAuth dance (tests and tools)."""
        user_id = self._active_user(user)
        now = self.org.now()
        token = f"{self.org.org_id[:15]}!{secrets.token_urlsafe(64)}"
        with self._lock:
            self._sessions[token] = Session(token, user_id, client_id, now, now)
        return token

    def check(self, authorization: str | None) -> Session | None:
        """The live session behind an `Authorization: Bearer|OAuth <token>` header."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not token:
            return None
        now = self.org.now()
        with self._lock:
            session = self._sessions.get(token.strip())
            if session is None:
                return None
            if (now - session.last_used).total_seconds() > self.session_timeout_seconds:
                del self._sessions[session.token]
                return None
            session.last_used = now
            return session

    def revoke_sessions(self) -> int:
        """End every session; the next API call with any of them answers 401."""
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
        return count


def _signature_ok(assertion: str, certificate: x509.Certificate) -> bool:
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        jwt.decode(
            assertion,
            key,
            algorithms=["RS256"],
            options={
                "verify_exp": False,
                "verify_aud": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError:
        return False
    return True


def _client_credentials(form: Mapping[str, str], headers: Mapping[str, str]) -> tuple[str, str]:
    """client_id and client_secret from the form or an HTTP Basic header."""
    basic = headers.get("authorization", "")
    if basic.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(basic[6:].strip()).decode()
        except (ValueError, UnicodeDecodeError) as error:
            raise OAuthError("invalid_client", "invalid client credentials") from error
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret", "")
