"""Per-request context: correlation id, tenant, one access-log line, and the last-resort 500.

A plain ASGI middleware (not BaseHTTPMiddleware) so that the request runs in
this same task: the correlation id and tenant that the endpoint sets are still
visible here when the response goes out and the access line is written.
"""

from __future__ import annotations

import logging
import time
import uuid
from urllib.parse import parse_qsl, quote

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncd import logs
from syncd.api import fields
from syncd.api.errors import internal_error_response
from syncd.metrics import api_metrics

log = logging.getLogger("syncd.api")

CORRELATION_HEADER = "X-Correlation-Id"
CORRELATION_PARAM = "salesforcecorrelationid"
_PATH_SAFE = "/%:@!$&'()*+,;=~"


def header_safe(value: str) -> str:
    """A correlation id as an HTTP header value: the same text as in the log lines
    (percent-encoded outside [A-Za-z0-9._:~-]), so the two can be matched."""
    return logs.field_text(value)


def logged_path(scope: Scope) -> str:
    """The path as sent (still percent-encoded): a decoded `%0A` would start a new log line."""
    raw = scope.get("raw_path")
    text = raw.decode("latin-1") if isinstance(raw, bytes) else scope.get("path", "")
    # Existing escapes stay as sent; spaces, brackets, controls and non-ASCII get encoded.
    return quote(text, safe=_PATH_SAFE)


def query_correlation_id(query_string: bytes) -> str | None:
    """salesforceCorrelationId from the query (any case), if it is a usable one."""
    for name, value in parse_qsl(query_string.decode("utf-8", "replace")):
        if name.lower() == CORRELATION_PARAM:
            try:
                return fields.parse_correlation_id(value)
            except ValueError:
                return None
    return None


def set_correlation_id(value: str) -> None:
    """Adopt the caller's correlation id for the rest of the request (logs, core, header)."""
    logs.correlation_id.set(value)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = query_correlation_id(scope.get("query_string", b""))
        cid_token = logs.correlation_id.set(given or str(uuid.uuid4()))
        tenant_token = logs.tenant.set(None)
        started = time.perf_counter()
        status = 0

        async def send_with_context(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[CORRELATION_HEADER] = header_safe(logs.correlation_id.get() or "")
            await send(message)

        try:
            await self.app(scope, receive, send_with_context)
        except Exception:
            log.exception("unexpected error on %s %s", scope["method"], logged_path(scope))
            if status:
                raise  # the response is under way; nothing sane can be sent any more
            await internal_error_response()(scope, receive, send_with_context)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            api_metrics.observe(scope, status, elapsed / 1000)
            log.info("%s %s -> %s in %.0f ms", scope["method"], logged_path(scope), status, elapsed)
            logs.tenant.reset(tenant_token)
            logs.correlation_id.reset(cid_token)
