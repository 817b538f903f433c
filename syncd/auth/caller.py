"""Who is calling: the authenticated identity of a request, and the request facts auth needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from syncd.config import TenantConfig

AuthMethod = Literal["oauth", "hmac", "legacy"]


@dataclass(frozen=True)
class Caller:
    """An authenticated caller; `tenant` is the only tenant its requests may touch."""

    tenant: str
    client_id: str
    method: AuthMethod


@dataclass(frozen=True)
class RequestInfo:
    """What the authenticator looks at, independent of the web framework."""

    method: str
    raw_path: str  # percent-encoded, as sent
    query_string: str  # raw, as sent
    headers: Mapping[str, str]  # keys lower-case
    body: bytes
    remote_addr: str


METHOD_NAMES: dict[str, str] = {
    "oauth": "OAuth 2.0 bearer tokens (POST /oauth/token)",
    "hmac": "HMAC signatures (X-Syncd-* headers)",
    "legacy": "legacy login/password (HTTP Basic)",
}


def enabled_methods(tenant: TenantConfig) -> list[str]:
    """The auth methods a tenant accepts, in the words of an error message."""
    methods = []
    if tenant.api.oauth:
        methods.append(METHOD_NAMES["oauth"])
    if tenant.api.hmac.enabled:
        methods.append(METHOD_NAMES["hmac"])
    if tenant.api.legacy_login.enabled:
        methods.append(METHOD_NAMES["legacy"])
    return methods


def method_enabled(tenant: TenantConfig, method: AuthMethod) -> bool:
    if method == "oauth":
        return tenant.api.oauth
    if method == "hmac":
        return tenant.api.hmac.enabled
    return tenant.api.legacy_login.enabled


def describe_enabled(tenant: TenantConfig) -> str:
    methods = enabled_methods(tenant)
    return "; ".join(methods) if methods else "none (the tenant accepts no API calls)"
