"""Graph's error shape and the errors the sandbox raises while handling a request.

Shape: https://learn.microsoft.com/en-us/graph/errors
`{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}`
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

# Codes used for forced/injected statuses (faults) when nothing more specific applies.
DEFAULT_CODES = {
    400: ("BadRequest", "The request is malformed or incorrect."),
    401: ("InvalidAuthenticationToken", "Access token validation failure."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    409: ("ErrorIrresolvableConflict", "The send or update operation could not be performed."),
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    500: ("InternalServerError", "An internal server error occurred."),
    502: ("BadGateway", "The server received an invalid response from an upstream server."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Try again later."),
    504: ("GatewayTimeout", "The upstream service did not answer in time."),
}


class GraphError(Exception):
    """An error answer: HTTP status, Graph error code and message, extra headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    @classmethod
    def for_status(cls, status: int, *, retry_after: int | None = None) -> GraphError:
        code, message = DEFAULT_CODES.get(status, ("UnknownError", f"Forced status {status}."))
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return cls(status, code, message, headers=headers)

    def body(self, *, request_id: str, client_request_id: str, now: datetime) -> dict[str, Any]:
        return error_body(self.code, self.message, request_id, client_request_id, now)


def error_body(
    code: str, message: str, request_id: str, client_request_id: str, now: datetime
) -> dict[str, Any]:
    """Graph's JSON error object; `date` has no zone suffix, as Graph sends it."""
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": now.strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def item_not_found() -> GraphError:
    # https://learn.microsoft.com/en-us/graph/api/event-get (404 for an unknown id)
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
