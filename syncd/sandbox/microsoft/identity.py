"""The identity platform: app registrations, the client credentials grant, opaque access tokens.

Client credentials flow:
https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
Certificate credentials (client_assertion JWT: aud = token endpoint, iss = sub = client id):
https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials
AADSTS codes: https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes
Access tokens are JWTs whose `roles` claim lists the application permissions granted
to the app, present "only if a value exists to fill it"
(https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference).
Graph checks them itself; here they are read back by clients (`syncd doctor`), and
validation stays a lookup of the issued value. The signing key is the sandbox's own
(assumed: Graph tokens are not meant to be verified by clients).
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from jwt.utils import base64url_encode

from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.faults import Faults
from syncd.sandbox.microsoft.directory import Directory, Tenant
from syncd.sandbox.stats import Counters

DEFAULT_TOKEN_TTL = 3600
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRAPH_RESOURCES = ("https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000")
# Entra allows this much clock skew when checking a client assertion's lifetime.
ASSERTION_SKEW_SECONDS = 300
#: Application permissions an app registered in the sandbox is granted (admin-consented):
#: what syncd needs (https://learn.microsoft.com/en-us/graph/api/user-post-events,
#: .../user-get-mailboxsettings, .../calendar-getschedule, .../user-get).
DEFAULT_APP_ROLES = ("Calendars.ReadWrite", "MailboxSettings.Read", "User.Read.All")


class TokenError(Exception):
    """An OAuth error answer from the token (or discovery) endpoint."""

    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(f"{status} {error} AADSTS{code}: {description}")
        self.status = status
        self.error = error
        self.code = code
        self.description = description


@dataclass
class AppRegistration:
    """An app registered in one tenant with its secrets and certificates."""

    tenant_id: str
    client_id: str
    secrets: list[str] = field(default_factory=list)
    certificates: list[x509.Certificate] = field(default_factory=list)
    #: granted application permissions, carried in each token's `roles` claim
    roles: list[str] = field(default_factory=lambda: list(DEFAULT_APP_ROLES))


@dataclass(frozen=True)
class IssuedToken:
    value: str
    tenant_id: str
    client_id: str
    issued_at: float
    expires_at: float
    #: the application permissions granted when it was issued (its `roles` claim)
    roles: tuple[str, ...] = ()


class AuthFailure(Exception):
    """The bearer token cannot be used; the message is Graph's."""


class IdentityProvider:
    """Registers apps, issues opaque tokens and validates them for the Graph side."""

    def __init__(
        self,
        directory: Directory,
        clock: SandboxClock,
        faults: Faults,
        counters: Counters,
        *,
        token_factory: Callable[[], str] | None = None,
    ) -> None:
        self._directory = directory
        self._clock = clock
        self._faults = faults
        self._counters = counters
        self._token_factory = token_factory
        self._signing_key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._apps: dict[tuple[str, str], AppRegistration] = {}
        self._tokens: dict[str, IssuedToken] = {}
        self._revoked: set[str] = set()

    # -- registrations ------------------------------------------------------------
    def register_app(
        self,
        tenant_id: str,
        client_id: str,
        secret: str | None = None,
        certificate_pem: str | bytes | None = None,
    ) -> AppRegistration:
        """Register (or add credentials to) an app in a tenant."""
        tenant = self._directory.tenant(tenant_id)
        if tenant is None:
            raise KeyError(f"no tenant {tenant_id!r} to register app {client_id} in")
        with self._lock:
            app = self._apps.setdefault(
                (tenant.id, client_id.lower()), AppRegistration(tenant.id, client_id)
            )
            if secret:
                app.secrets.append(secret)
            if certificate_pem:
                pem = certificate_pem
                if isinstance(pem, str):
                    pem = pem.encode()
                app.certificates.append(x509.load_pem_x509_certificate(pem))
        return app

    def set_roles(self, client_id: str, roles: list[str]) -> AppRegistration:
        """Grant exactly `roles` to the app (in every tenant it is registered in): what an
        admin does with API permissions + admin consent. Tokens issued later carry them."""
        with self._lock:
            found = [app for (_, cid), app in self._apps.items() if cid == client_id.lower()]
            if not found:
                raise KeyError(f"no app {client_id!r} is registered")
            for app in found:
                app.roles = [str(role) for role in roles]
        return found[0]

    def app(self, tenant_id: str, client_id: str) -> AppRegistration | None:
        with self._lock:
            return self._apps.get((tenant_id, client_id.lower()))

    # -- discovery ------------------------------------------------------------------
    def tenant_for(self, segment: str) -> Tenant:
        tenant = self._directory.tenant(segment)
        if tenant is None:
            raise TokenError(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud. Check with your subscription "
                "administrator, this may happen if there are no active subscriptions for the "
                "tenant.",
            )
        return tenant

    def openid_configuration(self, base_url: str, segment: str) -> dict[str, object]:
        """The v2.0 OpenID configuration document for a tenant (by id or domain).

        https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc
        """
        tenant = self.tenant_for(segment)
        root = f"{base_url}/{segment}"
        return {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base_url}/{tenant.id}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base_url}/{tenant.id}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver"],
            "kerberos_endpoint": f"{root}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }

    # -- token endpoint ---------------------------------------------------------------
    def issue(self, form: dict[str, str], base_url: str, segment: str) -> dict[str, object]:
        """Answer a token request (client credentials grant) or raise TokenError."""
        tenant = self.tenant_for(segment)
        grant = form.get("grant_type", "")
        if grant != "client_credentials":
            if not grant:
                raise _missing("grant_type")
            raise TokenError(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant}'.",
            )
        client_id = form.get("client_id") or ""
        if not client_id:
            raise _missing("client_id")
        app = self.app(tenant.id, client_id)
        if app is None:
            raise TokenError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant.name}'. This can happen if the application has not been installed by "
                "the administrator of the tenant or consented to by any user in the tenant. You "
                "may have sent your authentication request to the wrong tenant.",
            )
        self._authenticate_client(app, tenant, form)
        self._check_scope(form.get("scope"), tenant, base_url)
        return self._mint(app)

    def _authenticate_client(
        self, app: AppRegistration, tenant: Tenant, form: dict[str, str]
    ) -> None:
        if form.get("client_assertion"):
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise TokenError(
                    400,
                    "invalid_request",
                    50027,
                    "JWT token is invalid or malformed: unsupported client_assertion_type.",
                )
            self._verify_assertion(app, tenant, form["client_assertion"])
        elif form.get("client_secret"):
            if not any(secrets.compare_digest(form["client_secret"], s) for s in app.secrets):
                raise TokenError(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request "
                    "is the client secret value, not the client secret ID, for a secret added to "
                    f"app '{app.client_id}'.",
                )
        else:
            raise TokenError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )

    def _verify_assertion(self, app: AppRegistration, tenant: Tenant, assertion: str) -> None:
        """Check the JWT's signature against a registered certificate, then its claims."""
        claims = None
        for certificate in _candidates(app.certificates, assertion):
            try:
                claims = jwt.decode(
                    assertion,
                    certificate.public_key(),  # type: ignore[arg-type]
                    algorithms=["RS256", "PS256"],
                    # Lifetime is checked below against the sandbox clock, aud by URL path.
                    options={
                        "verify_aud": False,
                        "verify_exp": False,
                        "verify_nbf": False,
                        "verify_iat": False,
                    },
                )
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as exc:
                raise _bad_assertion(f"JWT token is invalid or malformed: {exc}") from exc
        if claims is None:
            raise TokenError(
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation. The certificate used to sign "
                f"the assertion is not registered on application '{app.client_id}'.",
            )
        now = self._clock.time()
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat", now))
        if (
            not isinstance(exp, int | float)
            or exp + ASSERTION_SKEW_SECONDS < now
            or (isinstance(nbf, int | float) and nbf - ASSERTION_SKEW_SECONDS > now)
        ):
            raise TokenError(
                401,
                "invalid_client",
                700024,
                f"Client assertion is not within its valid time range. Current time: {now:.0f}, "
                f"expiry time of assertion: {exp}.",
            )
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            raise _bad_assertion(
                "JWT token is invalid or malformed: iss and sub must be the client_id."
            )
        if not self._audience_ok(claims.get("aud"), tenant):
            raise _bad_assertion(
                f"JWT token is invalid or malformed: unexpected audience {claims.get('aud')!r}."
            )

    def _audience_ok(self, audience: object, tenant: Tenant) -> bool:
        """aud must be this tenant's token endpoint (on the sandbox or on login.microsoftonline)."""
        values = audience if isinstance(audience, list) else [audience]
        for value in values:
            if not isinstance(value, str):
                continue
            parts = urlparse(value).path.strip("/").split("/")
            if len(parts) >= 3 and parts[1:] in (["oauth2", "v2.0", "token"], ["oauth2", "token"]):
                found = self._directory.tenant(parts[0])
                if found is not None and found.id == tenant.id:
                    return True
        return False

    def _check_scope(self, scope: str | None, tenant: Tenant, base_url: str) -> None:
        if not scope:
            raise _missing("scope")
        wanted = [s for s in scope.split() if s not in ("openid", "profile", "offline_access")]
        known = (*GRAPH_RESOURCES, base_url, f"{base_url}/v1.0")
        resources = {r.rstrip("/").lower() for r in known}
        for item in wanted:
            if not item.endswith("/.default"):
                raise TokenError(
                    400,
                    "invalid_scope",
                    1002012,
                    f"The provided value for scope {item} is not valid. Client credential flows "
                    "must have a scope value with /.default suffixed to the resource identifier "
                    "(application ID URI).",
                )
            resource = item[: -len("/.default")].rstrip("/").lower()
            if resource not in resources:
                raise TokenError(
                    400,
                    "invalid_resource",
                    500011,
                    f"The resource principal named {resource} was not found in the tenant named "
                    f"{tenant.name}. This can happen if the application has not been installed by "
                    "the administrator of the tenant or consented to by any user in the tenant.",
                )

    def _mint(self, app: AppRegistration) -> dict[str, object]:
        ttl = self._faults.token_ttl_seconds or DEFAULT_TOKEN_TTL
        now = self._clock.time()
        value = self._token_factory() if self._token_factory else self._jwt(app, now, ttl)
        token = IssuedToken(value, app.tenant_id, app.client_id, now, now + ttl, tuple(app.roles))
        with self._lock:
            self._tokens[token.value] = token
        self._counters.token_issued()
        return {
            "token_type": "Bearer",
            "expires_in": ttl,
            "ext_expires_in": ttl,
            "access_token": token.value,
        }

    def _jwt(self, app: AppRegistration, now: float, ttl: int) -> str:
        """An app-only access token shaped like Entra's v1.0 Graph tokens."""
        claims: dict[str, object] = {
            "aud": "https://graph.microsoft.com",
            "iss": f"https://sts.windows.net/{app.tenant_id}/",
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now + ttl),
            "appid": app.client_id,
            "idtyp": "app",
            "tid": app.tenant_id,
            "sub": app.client_id,
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
        }
        if app.roles:  # no permission granted: no roles claim at all
            claims["roles"] = list(app.roles)
        return jwt.encode(claims, self._signing_key, algorithm="HS256")

    # -- Graph side ---------------------------------------------------------------------
    def validate(self, authorization: str | None) -> IssuedToken:
        """The token behind an Authorization header, or AuthFailure with Graph's message."""
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthFailure("Access token is empty.")
        with self._lock:
            token = self._tokens.get(value.strip())
            revoked = value.strip() in self._revoked
        if revoked:
            raise AuthFailure("Access token validation failure. The token has been revoked.")
        if token is None:
            raise AuthFailure("CompactToken parsing failed with error code: 80049217")
        if self._clock.time() >= token.expires_at:
            raise AuthFailure("Lifetime validation failed, the token is expired.")
        return token

    def revoke_all(self) -> int:
        """Invalidate every token issued so far; returns how many there were."""
        with self._lock:
            self._revoked.update(self._tokens)
            count = len(self._tokens)
            self._tokens.clear()
        return count


def _missing(parameter: str) -> TokenError:
    return TokenError(
        400,
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{parameter}'.",
    )


def _bad_assertion(description: str) -> TokenError:
    return TokenError(401, "invalid_client", 50027, description)


def _candidates(certificates: list[x509.Certificate], assertion: str) -> list[x509.Certificate]:
    """Certificates matching the x5t / x5t#S256 header first, then the rest."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        raise _bad_assertion(f"JWT token is invalid or malformed: {exc}") from exc

    def thumbprints(cert: x509.Certificate) -> set[str]:
        return {
            base64url_encode(cert.fingerprint(hashes.SHA1())).decode(),  # noqa: S303
            base64url_encode(cert.fingerprint(hashes.SHA256())).decode(),
        }

    hinted = {header.get("x5t"), header.get("x5t#S256")} - {None}
    return sorted(certificates, key=lambda cert: not (thumbprints(cert) & hinted))


def error_body(error: TokenError, now_text: str) -> dict[str, object]:
    """Entra's JSON error answer (error, error_description with trace ids, error_codes...)."""
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    return {
        "error": error.error,
        "error_description": (
            f"AADSTS{error.code}: {error.description} Trace ID: {trace_id} "
            f"Correlation ID: {correlation_id} Timestamp: {now_text}"
        ),
        "error_codes": [error.code],
        "timestamp": now_text,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={error.code}",
    }
