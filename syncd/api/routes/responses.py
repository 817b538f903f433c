"""Shared OpenAPI response declarations of the Scheduler API endpoints."""

from __future__ import annotations

from typing import Any

from syncd.api.wire import ErrorOut

_ERRORS = {
    400: "InvalidRequest: a field is missing or malformed (errorMessage names it)",
    401: "Unauthorized: no, wrong or expired credentials (see WWW-Authenticate)",
    403: "Forbidden / AccessDenied: the credential's tenant may not do this",
    404: "MeetingNotFound / MailboxNotFound / RouteNotFound",
    409: "MeetingAlreadyExists / OrganizerMismatch",
    422: "OrganizerNotFound / ExternalUserNotSupported",
    429: "Throttled: retry after the Retry-After header's seconds",
    500: "InternalError: logged with the X-Correlation-Id; retry or report it",
    503: "UpstreamUnavailable: Microsoft 365 did not answer; retry (Retry-After when known)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorOut, "description": _ERRORS[status]} for status in statuses}


COMMON = (400, 401, 403, 429, 500, 503)
MEETING_ERRORS = error_responses(*COMMON, 404, 409, 422)
AVAILABILITY_ERRORS = error_responses(*COMMON, 404, 422)
