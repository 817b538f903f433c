"""syncd's own OAuth logins to Salesforce: JWT bearer and client credentials.

simple-salesforce's login helpers hard-code `https://{domain}.salesforce.com`,
so syncd gets the access token itself from the tenant's configured login URL
and hands it to simple-salesforce in direct mode (instance_url + session_id).

- JWT bearer: https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm
- Client credentials: https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_client_credentials_flow.htm

Messages name the login URL and client id; never the secret, key or assertion.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from syncd.config import ConfigError, SalesforceLogin
from syncd.domain import ErrorCode, SyncdError
from syncd.salesforce.errors import SalesforceError
from syncd.salesforce.http import DEFAULT_TIMEOUT

_log = logging.getLogger("syncd.salesforce.login")

Clock = Callable[[], datetime]

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: JWT audiences: "https://login.salesforce.com, https://test.salesforce.com, or
#: https://site.force.com/customers if implementing for an Experience Cloud site" -- the
#: authorization server's URL, not the My Domain URL the token is asked for at.
PRODUCTION_AUDIENCE = "https://login.salesforce.com"
SANDBOX_AUDIENCE = "https://test.salesforce.com"
#: Login hosts of sandbox orgs, as forcedotcom/sfdx-core tells them apart
#: (src/util/sfdcUrl.ts, isSandboxUrl; its DNS CNAME lookup is left out).
_SANDBOX_HOSTS = (
    re.compile(r"^test\.salesforce\.com$"),
    re.compile(r"\.sandbox\.my\.salesforce\.com$"),
    re.compile(r"(^|\.)cs\d+(\.my)?\.salesforce\.com$"),
    re.compile(r"(^|\.)[a-z]{3}\d+s\.sfdc-.+\.(salesforce|force)\.com$"),
)
#: "exp ... within 3 minutes after the JWT is issued" (the JWT bearer flow page).
JWT_LIFETIME = timedelta(minutes=3)
#: Token endpoint errors that a later attempt may not repeat.
_TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


def utc_now() -> datetime:
    return datetime.now(UTC)


def jwt_audience(login_url: str) -> str:
    """The JWT `aud` for an org logged in to at `login_url`: test.salesforce.com for a
    sandbox org (test.salesforce.com, *.sandbox.my.salesforce.com, csNN instances),
    login.salesforce.com otherwise -- as sfdx-core's getJwtAudienceUrl decides.
    An Experience Cloud site sets its own URL as `audience` in the configuration."""
    host = (urlsplit(login_url).hostname or "").lower()
    if any(pattern.search(host) for pattern in _SANDBOX_HOSTS):
        return SANDBOX_AUDIENCE
    return PRODUCTION_AUDIENCE


@dataclass(frozen=True)
class SalesforceSession:
    """An access token and the org instance it is valid for."""

    instance_url: str
    access_token: str = field(repr=False)  # never in a repr, so never in a log line
    issued_at: datetime


class Login(Protocol):
    """Gets a new session from Salesforce; called lazily and again after INVALID_SESSION_ID."""

    def login(self) -> SalesforceSession: ...


class _TokenEndpoint:
    """POSTs one grant to `{login_url}/services/oauth2/token` and reads the answer."""

    def __init__(
        self,
        *,
        flow: str,
        login_url: str,
        client_id: str,
        session: requests.Session,
        timeout: tuple[float, float],
        clock: Clock,
        hint: str,
    ) -> None:
        self.flow = flow
        self.login_url = login_url.rstrip("/")
        self.client_id = client_id
        self.url = f"{self.login_url}/services/oauth2/token"
        self._session = session
        self._timeout = timeout
        self._clock = clock
        self._hint = hint

    @property
    def who(self) -> str:
        return f"{self.flow} login at {self.login_url} for client id {self.client_id}"

    def exchange(self, form: dict[str, str], *, secrets: tuple[str, ...]) -> SalesforceSession:
        try:
            answer = self._session.post(
                self.url,
                data=form,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise SalesforceError(
                ErrorCode.UPSTREAM_UNAVAILABLE,
                f"Salesforce could not be reached for the {self.who}: {type(exc).__name__}. "
                "Retry later.",
                retry_after=30.0,
            ) from None
        body = _json(answer)
        if answer.status_code == 200 and isinstance(body, dict):
            return self._session_from(body)
        raise self._refusal(answer.status_code, body, secrets)

    def _session_from(self, body: dict[str, Any]) -> SalesforceSession:
        token, instance = body.get("access_token"), body.get("instance_url")
        if not (isinstance(token, str) and token and isinstance(instance, str)):
            raise SalesforceError(
                ErrorCode.UPSTREAM_UNAVAILABLE,
                f"Salesforce answered the {self.who} without access_token or instance_url.",
                retry_after=30.0,
            )
        if urlsplit(instance).scheme != "https" or not urlsplit(instance).hostname:
            raise SalesforceError(
                ErrorCode.ACCESS_DENIED,
                f"Salesforce answered the {self.who} with instance_url {instance!r}, "
                "which is not an https URL; not sending the token there.",
            )
        session = SalesforceSession(
            instance_url=instance.rstrip("/"),
            access_token=token,
            issued_at=_issued_at(body.get("issued_at")) or self._clock(),
        )
        _log.info("logged in to Salesforce %s (%s)", session.instance_url, self.who)
        return session

    def _refusal(self, status: int, body: Any, secrets: tuple[str, ...]) -> SyncdError:
        error = str(body.get("error") or "") if isinstance(body, dict) else ""
        described = str(body.get("error_description") or "") if isinstance(body, dict) else ""
        detail = _scrub(f"{error}: {described}" if described else error, secrets)
        detail = detail or f"HTTP {status}"
        if status >= 500 or error in _TRANSIENT_ERRORS:
            return SalesforceError(
                ErrorCode.UPSTREAM_UNAVAILABLE,
                f"Salesforce could not complete the {self.who} now ({detail[:300]}). Retry later.",
                retry_after=30.0,
            )
        return SalesforceError(
            ErrorCode.ACCESS_DENIED,
            f"Salesforce refused the {self.who}: {detail[:300]}. {self._hint}",
        )


class JwtBearerLogin:
    """OAuth 2.0 JWT bearer flow: an RS256 assertion signed with the connected app's key.

    Claims: iss = consumer key, sub = username, aud = `audience` (default
    `jwt_audience(login_url)`), exp = now + 3 min. The assertion is posted to the login
    URL (the org's My Domain URL works), but that URL is never the audience.
    """

    def __init__(
        self,
        *,
        login_url: str,
        client_id: str,
        username: str,
        private_key: str,
        session: requests.Session,
        audience: str | None = None,
        clock: Clock = utc_now,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self._endpoint = _TokenEndpoint(
            flow="JWT bearer",
            login_url=login_url,
            client_id=client_id,
            session=session,
            timeout=timeout,
            clock=clock,
            hint=(
                f"Check that user {username} exists and is pre-authorized for the connected "
                "app (admin-approved users), and that the app holds the certificate matching "
                "the private key."
            ),
        )
        self._username = username
        self._audience = (audience or jwt_audience(login_url)).rstrip("/")
        self._key = _rsa_key(private_key, self._endpoint.who)
        self._clock = clock

    def assertion(self) -> str:
        """A freshly signed JWT for one token request."""
        now = self._clock()
        claims = {
            "iss": self._endpoint.client_id,
            "sub": self._username,
            "aud": self._audience,
            "exp": int((now + JWT_LIFETIME).timestamp()),
        }
        return jwt.encode(claims, self._key, algorithm="RS256")

    def login(self) -> SalesforceSession:
        assertion = self.assertion()
        form = {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}
        return self._endpoint.exchange(form, secrets=(assertion,))


class ClientCredentialsLogin:
    """OAuth 2.0 client credentials flow: the connected app's key and secret, run as the
    app's configured integration user. `login_url` must be the org's My Domain URL."""

    def __init__(
        self,
        *,
        login_url: str,
        client_id: str,
        client_secret: str,
        session: requests.Session,
        clock: Clock = utc_now,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self._endpoint = _TokenEndpoint(
            flow="client credentials",
            login_url=login_url,
            client_id=client_id,
            session=session,
            timeout=timeout,
            clock=clock,
            hint=(
                "Check the consumer secret, that the connected app enables the client "
                "credentials flow with a Run As user, and that login_url is the org's "
                "My Domain URL."
            ),
        )
        self._secret = client_secret

    def login(self) -> SalesforceSession:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._endpoint.client_id,
            "client_secret": self._secret,
        }
        return self._endpoint.exchange(form, secrets=(self._secret,))


def login_from_config(
    cfg: SalesforceLogin, session: requests.Session, *, clock: Clock = utc_now
) -> Login:
    """The login a tenant's `[salesforce.login]` describes; reads its secret or key now."""
    who = f"Salesforce login at {cfg.login_url} (client id {cfg.client_id})"
    try:
        if cfg.flow == "jwt_bearer":
            assert cfg.private_key is not None and cfg.username is not None
            return JwtBearerLogin(
                login_url=cfg.login_url,
                client_id=cfg.client_id,
                username=cfg.username,
                private_key=cfg.private_key.read(),
                session=session,
                audience=cfg.audience,
                clock=clock,
            )
        assert cfg.client_secret is not None
        return ClientCredentialsLogin(
            login_url=cfg.login_url,
            client_id=cfg.client_id,
            client_secret=cfg.client_secret.read(),
            session=session,
            clock=clock,
        )
    except ConfigError as exc:
        raise SalesforceError(
            ErrorCode.ACCESS_DENIED, f"No credential for the {who}: {exc}"
        ) from None


def _rsa_key(pem: str, who: str) -> RSAPrivateKey:
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        reason = "it is encrypted" if isinstance(exc, TypeError) else "it is not a PEM private key"
        raise SalesforceError(
            ErrorCode.ACCESS_DENIED,
            f"The private key for the {who} cannot be used: {reason}. "
            "Configure an unencrypted PEM RSA key.",
        ) from None
    if not isinstance(key, RSAPrivateKey):
        raise SalesforceError(
            ErrorCode.ACCESS_DENIED,
            f"The private key for the {who} is not an RSA key; the JWT bearer flow signs RS256.",
        )
    return key


def _issued_at(value: Any) -> datetime | None:
    """`issued_at` is milliseconds since the epoch, as a string."""
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _json(answer: requests.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
