"""Salesforce's REST error shape and the errors the sandbox raises.

Status codes and the JSON list `[{"message", "errorCode", "fields"}]`:
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
Per-record errors inside sObject Collections use `statusCode` instead of `errorCode`:
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_update.htm
"""

from __future__ import annotations

from typing import Any

# What a forced (fault-injected) status answers when no code is given.
DEFAULT_CODES = {
    400: ("MALFORMED_QUERY", "The request could not be understood."),
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    404: ("NOT_FOUND", "The requested resource does not exist"),
    409: ("CONFLICT", "Conflict"),
    500: (
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId if you contact support: "
        "1234567890-12345 (-1234567890)",
    ),
    502: ("SERVER_UNAVAILABLE", "Bad gateway"),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable, please retry later."),
    504: (
        "REQUEST_RUNNING_TOO_LONG",
        "Your request was running for too long, and has been stopped.",
    ),
}


class SalesforceError(Exception):
    """An error answer: HTTP status, error code, message and the fields concerned."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = list(fields) if fields is not None else None
        self.headers = dict(headers or {})

    def body(self) -> list[dict[str, Any]]:
        """The REST error list."""
        item: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]

    def record_error(self) -> dict[str, Any]:
        """The same error as one entry of a SaveResult's `errors`."""
        return {"statusCode": self.code, "message": self.message, "fields": self.fields or []}

    @classmethod
    def for_status(
        cls, status: int, code: str | None = None, message: str | None = None
    ) -> SalesforceError:
        default_code, default_message = DEFAULT_CODES.get(
            status, ("UNKNOWN_EXCEPTION", f"Forced status {status}.")
        )
        return cls(status, code or default_code, message or default_message)


class RecordError(SalesforceError):
    """A write refused for one record (validation); HTTP 400 when it is the whole request."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(400, code, message, fields if fields is not None else [])


def not_found() -> SalesforceError:
    return SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")


def entity_deleted() -> SalesforceError:
    return SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted", [])


def session_invalid() -> SalesforceError:
    # The body is a JSON list, as NOTES-salesforce.md records.
    return SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def limit_exceeded() -> SalesforceError:
    # https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm
    return SalesforceError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def json_error(message: str) -> SalesforceError:
    return SalesforceError(400, "JSON_PARSER_ERROR", message)
