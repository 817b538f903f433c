"""App-only access tokens for Graph (OAuth 2.0 client credentials through msal).

https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import msal
import requests
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS
from msal.exceptions import MsalServiceError

from syncd.config import ConfigError, MicrosoftConfig
from syncd.domain import ErrorCode, SyncdError
from syncd.graph.errors import GraphError

_log = logging.getLogger("syncd.graph.auth")

#: msal errors that a later attempt may not repeat; every other error is about the app itself.
_TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error", "service_unavailable"})
#: Several threads that all saw a 401 at once need one new token, not one each.
_FORCED_REFRESH_DEDUP_SECONDS = 10.0
#: A token kept by the provider itself is handed out until this long before it expires
#: (msal renews its cached token 5 minutes before expiry as well).
_EARLY_RENEWAL_SECONDS = 300.0


def _seconds(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


class TokenProvider(Protocol):
    """Hands out a bearer token for Graph; `force_refresh` after Graph answered 401."""

    def token(self, *, force_refresh: bool = False) -> str: ...


class _TimeoutHttpClient:
    """The shared session as msal's `http_client`, with our timeouts on every call
    (msal only applies its own `timeout` to a session it creates itself)."""

    def __init__(self, session: requests.Session, timeout: tuple[float, float]) -> None:
        self._session = session
        self._timeout = timeout

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return self._session.get(url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return self._session.post(url, **kwargs)

    def close(self) -> None:  # the session belongs to the caller
        pass


class MsalTokenProvider:
    """Client-credentials tokens from msal's cache; thread-safe; the msal app is built lazily.

    Building `ConfidentialClientApplication` already fetches the authority's
    openid-configuration, so it happens on first use and is retried a few times.
    """

    def __init__(
        self,
        *,
        authority: str,
        client_id: str,
        credential: str | dict[str, str],
        session: requests.Session,
        scopes: list[str],
        is_microsoft_cloud: bool,
        timeout: tuple[float, float] = (5.0, 30.0),
        startup_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._authority = authority.rstrip("/")
        self._client_id = client_id
        self._credential = credential
        self._http = _TimeoutHttpClient(session, timeout)
        self._scopes = list(scopes)
        self._is_microsoft_cloud = is_microsoft_cloud
        self._startup_attempts = max(1, startup_attempts)
        self._sleep = sleep
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()
        self._last_forced = float("-inf")
        # (token, monotonic time to stop using it): every Graph call asks for the token,
        # and asking msal's cache each time (under the lock) cost more than the call's
        # own bookkeeping. Set only for tokens with a long life left; cleared on a forced
        # refresh, so a revoked token is used no longer than msal's cache would use it.
        self._current: tuple[str, float] | None = None

    @property
    def _who(self) -> str:
        tenant = self._authority.rsplit("/", 1)[-1]
        return f"tenant {tenant}, client id {self._client_id}, authority {self._authority}"

    def token(self, *, force_refresh: bool = False) -> str:
        current = self._current
        if not force_refresh and current is not None and time.monotonic() < current[1]:
            return current[0]
        # One lock: at expiry one thread fetches and the others then read msal's cache.
        with self._lock:
            self._current = None
            app = self._app if self._app is not None else self._create_app()
            since_forced = time.monotonic() - self._last_forced
            if force_refresh and since_forced > _FORCED_REFRESH_DEDUP_SECONDS:
                # acquire_token_for_client refuses force_refresh; dropping the cached
                # app tokens is msal's way to get a new one.
                app.remove_tokens_for_client()
                self._last_forced = time.monotonic()
            try:
                result = app.acquire_token_for_client(scopes=self._scopes)
            except (requests.RequestException, MsalServiceError, RuntimeError) as exc:
                raise GraphError(
                    ErrorCode.UPSTREAM_UNAVAILABLE,
                    f"The Microsoft identity platform could not be reached for a Graph token "
                    f"({self._who}): {type(exc).__name__}. Retry later.",
                    retry_after=5.0,
                ) from None
        if isinstance(result, dict) and result.get("access_token"):
            token = str(result["access_token"])
            lifetime = _seconds(result.get("expires_in"))
            if lifetime > 2 * _EARLY_RENEWAL_SECONDS:
                self._current = (token, time.monotonic() + lifetime - _EARLY_RENEWAL_SECONDS)
            return token
        raise self._token_error(result if isinstance(result, dict) else {})

    def _create_app(self) -> msal.ConfidentialClientApplication:
        for attempt in range(1, self._startup_attempts + 1):
            try:
                self._app = msal.ConfidentialClientApplication(
                    self._client_id,
                    client_credential=self._credential,
                    authority=self._authority,
                    http_client=self._http,
                    # Off Microsoft's cloud (the sandbox) there is no instance
                    # discovery endpoint to ask.
                    instance_discovery=None if self._is_microsoft_cloud else False,
                )
                return self._app
            except (requests.RequestException, MsalServiceError, RuntimeError) as exc:
                # Network failures and 5xx (msal raises MsalServiceError for those).
                _log.warning(
                    "identity platform not reachable (%s), attempt %d of %d: %s",
                    self._who,
                    attempt,
                    self._startup_attempts,
                    type(exc).__name__,
                )
                if attempt < self._startup_attempts:
                    self._sleep(float(2 ** (attempt - 1)))
            except ValueError as exc:
                # msal raises ValueError when the authority answers 4xx: an unknown tenant.
                raise GraphError(
                    ErrorCode.ACCESS_DENIED,
                    f"The identity platform does not know this tenant ({self._who}): "
                    f"{self._scrub(str(exc))[:300]}. Check tenant_id and authority_host.",
                ) from None
        raise GraphError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            f"The Microsoft identity platform could not be reached ({self._who}) after "
            f"{self._startup_attempts} attempts. Retry later.",
            retry_after=30.0,
        )

    def _token_error(self, result: dict[str, Any]) -> SyncdError:
        error = str(result.get("error") or "unknown_error")
        description = self._scrub(str(result.get("error_description") or "")).splitlines()
        detail = description[0] if description else "no description"
        if error in _TRANSIENT_ERRORS:
            return GraphError(
                ErrorCode.UPSTREAM_UNAVAILABLE,
                f"The identity platform could not issue a Graph token now ({self._who}): "
                f"{error}: {detail}. Retry later.",
                retry_after=5.0,
            )
        return GraphError(
            ErrorCode.ACCESS_DENIED,
            f"The identity platform refused a Graph token ({self._who}): {error}: {detail}. "
            "Check the client secret or certificate, and that the app is consented in the tenant.",
        )

    def _scrub(self, text: str) -> str:
        """Never let the credential into a message, whatever the identity platform echoes."""
        secrets = (
            [self._credential]
            if isinstance(self._credential, str)
            else [v for v in self._credential.values() if isinstance(v, str)]
        )
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


def token_provider_from_config(
    ms: MicrosoftConfig,
    session: requests.Session,
    *,
    timeout: tuple[float, float] = (5.0, 30.0),
) -> MsalTokenProvider:
    """A provider for one tenant's app registration; reads its secret or certificate now."""
    try:
        credential: str | dict[str, str]
        if ms.client_secret is not None:
            credential = ms.client_secret.read()
        else:
            assert ms.certificate_key is not None and ms.certificate_thumbprint is not None
            credential = {
                "private_key": ms.certificate_key.read(),
                "thumbprint": ms.certificate_thumbprint,
            }
    except ConfigError as exc:
        raise GraphError(
            ErrorCode.ACCESS_DENIED,
            f"No credential for Microsoft app {ms.client_id} (tenant {ms.tenant_id}): {exc}",
        ) from None
    graph = urlsplit(ms.graph_url)
    host = (urlsplit(ms.authority_host).hostname or "").lower()
    return MsalTokenProvider(
        authority=f"{ms.authority_host.rstrip('/')}/{ms.tenant_id}",
        client_id=ms.client_id,
        credential=credential,
        session=session,
        # App-only tokens ask for the resource's ".default" scope.
        scopes=[f"{graph.scheme}://{graph.netloc}/.default"],
        is_microsoft_cloud=host in WELL_KNOWN_AUTHORITY_HOSTS,
        timeout=timeout,
    )
