"""Every error the API answers, in the contract's shape: {"email", "errorCode", "errorMessage"}.

SyncdError is mapped to the wire here and nowhere else. The token endpoint's
errors keep OAuth's own shape (RFC 6749 §5.2). Nothing ever answers with a
stack trace or an empty 500.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from syncd.api.parsing import field_path
from syncd.auth.errors import AuthError, OAuthError
from syncd.domain import HTTP_STATUS, ErrorCode, SyncdError

log = logging.getLogger("syncd.api")

#: Not in the domain's vocabulary: only the web layer can miss a route.
ROUTE_NOT_FOUND = ErrorCode.ROUTE_NOT_FOUND.value
DEFAULT_THROTTLE_SECONDS = 5
_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
_STATUS_CODES: dict[int, str] = {
    400: ErrorCode.INVALID_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ROUTE_NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    429: ErrorCode.THROTTLED,
    503: ErrorCode.UPSTREAM_UNAVAILABLE,
}


class WireJSONResponse(JSONResponse):
    """JSON that survives any text a caller sent (a lone surrogate becomes '?')."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "replace")


def organizer_of(request: Request) -> str | None:
    """The organizerEmail the request named, once it was read (for error answers)."""
    return getattr(request.state, "organizer_email", None)


def error_response(
    code: str,
    message: str,
    *,
    status: int,
    email: str | None = None,
    headers: dict[str, str] | None = None,
) -> WireJSONResponse:
    body = {"email": email, "errorCode": str(code), "errorMessage": message}
    return WireJSONResponse(body, status_code=status, headers=headers)


def syncd_error_response(exc: SyncdError, email: str | None) -> WireJSONResponse:
    headers = dict(getattr(exc, "headers", {}) or {})
    if exc.code == ErrorCode.THROTTLED:
        headers["Retry-After"] = str(_seconds(exc.retry_after) or DEFAULT_THROTTLE_SECONDS)
    elif exc.code == ErrorCode.UPSTREAM_UNAVAILABLE and exc.retry_after is not None:
        headers["Retry-After"] = str(_seconds(exc.retry_after))
    status = HTTP_STATUS.get(exc.code, 500)
    return error_response(exc.code, exc.message, status=status, email=email, headers=headers)


def internal_error_response() -> WireJSONResponse:
    return error_response(
        ErrorCode.INTERNAL_ERROR,
        "the server failed unexpectedly; the error was logged with this request's "
        "correlation id (X-Correlation-Id); retry later or report that id",
        status=500,
    )


def _seconds(value: float | None) -> int:
    return max(1, math.ceil(value)) if value is not None else 0


async def _on_syncd_error(request: Request, exc: Exception) -> WireJSONResponse:
    assert isinstance(exc, SyncdError)
    level = (
        logging.WARNING if isinstance(exc, AuthError) or exc.http_status >= 500 else logging.INFO
    )
    log.log(level, "answered %s: %s", exc.code, exc.message)
    return syncd_error_response(exc, organizer_of(request))


async def _on_oauth_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OAuthError)
    log.warning("token request refused: %s (%s)", exc.error, exc.description)
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **exc.headers}
    body = {"error": exc.error, "error_description": exc.description}
    return WireJSONResponse(body, status_code=exc.status, headers=headers)


async def _on_http_error(request: Request, exc: Exception) -> WireJSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        message = (
            f"there is no endpoint at {request.url.path}; "
            "the endpoints are listed at /docs and /openapi.json"
        )
    elif exc.status_code == 405:
        allowed = _allowed_methods(request) or headers.get("allow", "")
        headers = {"Allow": allowed}
        message = f"{request.method} is not allowed on {request.url.path}; use {allowed}"
    else:
        message = str(exc.detail)
    code = _STATUS_CODES.get(exc.status_code, ErrorCode.INVALID_REQUEST)
    return error_response(
        code, message, status=exc.status_code, email=organizer_of(request), headers=headers
    )


def _allowed_methods(request: Request) -> str:
    """Every method some route offers on this path (Starlette names only the first route's)."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


async def _on_validation_error(request: Request, exc: Exception) -> WireJSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{field_path(item.get('loc', ())) or 'request'}: {item.get('msg', 'is not valid')}"
        for item in exc.errors()[:5]
    ]
    return error_response(
        ErrorCode.INVALID_REQUEST,
        "; ".join(problems) or "the request is not valid",
        status=400,
        email=organizer_of(request),
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; unexpected exceptions are caught by RequestContextMiddleware."""
    app.add_exception_handler(SyncdError, _on_syncd_error)
    app.add_exception_handler(OAuthError, _on_oauth_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
