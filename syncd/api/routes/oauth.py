"""POST /oauth/token: the OAuth 2.0 token endpoint (form-encoded per RFC 6749, or JSON)."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from syncd.api import lenient_json
from syncd.api.deps import raw_body, remote_address
from syncd.api.errors import WireJSONResponse
from syncd.auth import Authenticator, OAuthError

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a password
router = APIRouter(tags=["oauth"])


class TokenRequest(BaseModel):
    grant_type: Literal["refresh_token", "client_credentials"]
    client_id: str = Field(description="or in HTTP Basic, with client_secret")
    refresh_token: str | None = Field(default=None, description="for grant_type=refresh_token")
    client_secret: str | None = Field(default=None, description="for client_credentials")


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="seconds")
    refresh_token: str | None = Field(
        default=None,
        description="the new refresh token (refresh_token grant); the old one is spent",
    )


class OAuthErrorOut(BaseModel):
    error: str = Field(examples=["invalid_grant"])
    error_description: str


def token_form(body: bytes, content_type: str) -> dict[str, str]:
    """The token request's parameters, from a form or a JSON object of strings."""
    if "json" in content_type.lower() or body.lstrip().startswith(b"{"):
        try:
            data: Any = lenient_json.loads(body)
        except lenient_json.LenientJSONError as exc:
            raise OAuthError("invalid_request", f"the JSON body is not valid: {exc}") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise OAuthError("invalid_request", "the JSON body must be an object of strings")
        return data
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "the form body is not UTF-8") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise OAuthError("invalid_request", f"parameter '{name}' is given more than once")
        form[name] = value
    return form


_SCHEMA = {"$ref": "#/components/schemas/TokenRequest"}


@router.post(
    TOKEN_PATH,
    summary="Get an access token (refresh_token or client_credentials grant)",
    description="The refresh_token grant rotates: the answer has a new refresh token and the "
    "one sent is spent; sending a spent one again revokes its whole family. Client "
    "credentials may come as form fields or HTTP Basic.",
    responses={
        200: {"model": TokenOut, "description": "the tokens"},
        400: {"model": OAuthErrorOut, "description": "RFC 6749 §5.2 error"},
        401: {"model": OAuthErrorOut, "description": "invalid_client"},
        429: {"model": OAuthErrorOut, "description": "slow_down: too many failures"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": _SCHEMA},
                "application/json": {"schema": _SCHEMA},
            },
        }
    },
)
async def token(request: Request) -> WireJSONResponse:
    authenticator: Authenticator = request.app.state.authenticator
    form = token_form(await raw_body(request), request.headers.get("content-type", ""))
    answer = await run_in_threadpool(
        authenticator.tokens.token,
        form,
        authorization=request.headers.get("authorization"),
        remote_addr=remote_address(request),
    )
    return WireJSONResponse(answer, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
