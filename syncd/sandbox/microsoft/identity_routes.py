"""HTTP front of the identity platform: OpenID configuration, token endpoint, (empty) JWKS.

Paths as on login.microsoftonline.com, with the tenant (id or domain) first:
https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from syncd.sandbox.clock import SandboxClock
from syncd.sandbox.microsoft.identity import IdentityProvider, TokenError, error_body

NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


def identity_router(identity: IdentityProvider, clock: SandboxClock) -> APIRouter:
    router = APIRouter()

    def failure(error: TokenError) -> JSONResponse:
        stamp = clock.now().strftime("%Y-%m-%d %H:%M:%SZ")
        return JSONResponse(error_body(error, stamp), status_code=error.status, headers=NO_STORE)

    @router.get("/{tenant}/v2.0/.well-known/openid-configuration")
    async def openid_configuration(tenant: str, request: Request) -> JSONResponse:
        base_url = str(request.base_url).rstrip("/")
        try:
            return JSONResponse(identity.openid_configuration(base_url, tenant))
        except TokenError as error:
            return failure(error)

    @router.post("/{tenant}/oauth2/v2.0/token")
    async def token(tenant: str, request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        base_url = str(request.base_url).rstrip("/")
        try:
            return JSONResponse(identity.issue(form, base_url, tenant), headers=NO_STORE)
        except TokenError as error:
            return failure(error)

    @router.get("/{tenant}/discovery/v2.0/keys")
    async def keys(tenant: str) -> JSONResponse:
        # Access tokens are opaque strings, so there is no signing key to publish.
        try:
            identity.tenant_for(tenant)
        except TokenError as error:
            return failure(error)
        return JSONResponse({"keys": []})

    return router
