"""Graph's answers and transport failures mapped to `SyncdError`, once, for the whole client.

Error body format: https://learn.microsoft.com/graph/errors
Messages name the mailbox and what was being done, quote Graph's own message
and request-id (support asks for it), and never include a token.
"""

from __future__ import annotations

from typing import Any

import requests

from syncd.domain import ErrorCode, SyncdError

#: Codes meaning the user or their mailbox does not exist (or has no Exchange Online mailbox).
#: Directory lookups answer Request_ResourceNotFound; Outlook resources answer the others.
MAILBOX_MISSING = frozenset(
    {
        "ResourceNotFound",
        "Request_ResourceNotFound",
        "MailboxNotEnabledForRESTAPI",
        "ErrorInvalidUser",
        "ErrorNonExistentMailbox",
    }
)

#: Codes meaning the event is gone (or the id cannot name an event in this mailbox).
EVENT_MISSING = frozenset({"ErrorItemNotFound", "ErrorInvalidIdMalformed", "itemNotFound"})


class GraphError(SyncdError):
    """An error of the Microsoft Graph layer (its answers, its transport, its token)."""


def error_details(body: Any) -> tuple[str, str, str | None]:
    """(code, message, request-id) from a Graph error body; empty strings when absent."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", "", None
    inner = error.get("innerError") or error.get("innererror") or {}
    request_id = inner.get("request-id") if isinstance(inner, dict) else None
    return str(error.get("code") or ""), str(error.get("message") or ""), request_id


def is_mailbox_missing(status: int, body: Any) -> bool:
    code, _, _ = error_details(body)
    return status in (400, 404) and code in MAILBOX_MISSING


def graph_error(
    status: int,
    body: Any,
    *,
    action: str,
    mailbox: str | None,
    retry_after: float | None = None,
    not_found: ErrorCode = ErrorCode.MEETING_NOT_FOUND,
    request_id: str | None = None,
) -> SyncdError:
    """The `SyncdError` for a non-success Graph answer to `action` (e.g. "update event X"),
    carrying Graph's request-id."""
    error = _graph_error(
        status,
        body,
        action=action,
        mailbox=mailbox,
        retry_after=retry_after,
        not_found=not_found,
        request_id=request_id,
    )
    error.graph_request_id = request_id or error_details(body)[2]
    return error


def _graph_error(
    status: int,
    body: Any,
    *,
    action: str,
    mailbox: str | None,
    retry_after: float | None = None,
    not_found: ErrorCode = ErrorCode.MEETING_NOT_FOUND,
    request_id: str | None = None,
) -> SyncdError:
    """The `SyncdError` for a non-success Graph answer to `action` (e.g. "update event X")."""
    code, message, body_request_id = error_details(body)
    where = f" in mailbox {mailbox}" if mailbox else ""
    rid = _rid(request_id or body_request_id)
    graph_says = f"{message} ({code or f'HTTP {status}'}{rid})"

    if code in MAILBOX_MISSING and status in (400, 404):
        return GraphError(
            ErrorCode.MAILBOX_NOT_FOUND,
            f"Microsoft 365 has no mailbox {mailbox or 'named in the request'} "
            f"(while trying to {action}): {graph_says}. "
            "Check the address and that the user has an Exchange Online licence.",
        )
    if code in EVENT_MISSING and status in (400, 404):
        return GraphError(
            ErrorCode.MEETING_NOT_FOUND,
            f"The event is not in Outlook{where} (while trying to {action}): {graph_says}. "
            "It may have been deleted in Outlook.",
        )
    if status == 401:
        return GraphError(
            ErrorCode.ACCESS_DENIED,
            f"Graph rejected the app's access token even after a fresh one was fetched "
            f"(while trying to {action}{where}): {graph_says}. Check the app registration's "
            "tenant id, client id and credential.",
        )
    if status == 403:
        return GraphError(
            ErrorCode.ACCESS_DENIED,
            f"Graph denied the app access{where} (while trying to {action}): {graph_says}. "
            "Grant the application permission Calendars.ReadWrite with admin consent and "
            "check that no application access policy excludes this mailbox.",
        )
    if status == 404:
        return GraphError(
            not_found,
            f"Graph found nothing to {action}{where}: {graph_says}.",
        )
    if status in (409, 412):
        # ErrorIrresolvableConflict and friends: a concurrent change in Outlook; a later
        # attempt reads the new state and succeeds, so callers may retry.
        return GraphError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            f"Outlook reported a conflicting change while trying to {action}{where}: "
            f"{graph_says}. Retry shortly.",
            retry_after=retry_after or 1.0,
        )
    if status == 424:
        # A request of a $batch that was not carried out: the batch failed whole, as it
        # does when a request in it is throttled (throttling#throttling-and-batching).
        return GraphError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            f"Graph did not carry out the request to {action}{where}: its $batch failed "
            f"as a whole (HTTP 424), also after retries: {graph_says}. Retry later.",
            retry_after=retry_after or 1.0,
        )
    if status == 429:
        return GraphError(
            ErrorCode.THROTTLED,
            f"Graph is throttling requests{where} (while trying to {action}) and retries "
            f"did not get through: {graph_says}. Retry later.",
            retry_after=retry_after,
        )
    if status >= 500:
        return GraphError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            f"Graph is unavailable (HTTP {status}) while trying to {action}{where}: "
            f"{graph_says}. Retry later.",
            retry_after=retry_after,
        )
    return GraphError(
        ErrorCode.INVALID_REQUEST,
        f"Graph refused to {action}{where}: {graph_says}.",
    )


def transport_error(
    exc: requests.RequestException,
    *,
    action: str,
    mailbox: str | None,
    timeout: tuple[float, float],
    retry_after: float | None,
) -> SyncdError:
    """The `SyncdError` for a request that got no HTTP answer (timeout, refused, TLS, reset)."""
    where = f" in mailbox {mailbox}" if mailbox else ""
    if isinstance(exc, requests.ConnectTimeout):
        why = f"could not connect within {timeout[0]:g} s"
    elif isinstance(exc, requests.ReadTimeout):
        why = f"sent no answer within {timeout[1]:g} s"
    elif isinstance(exc, requests.exceptions.SSLError):
        why = "failed the TLS handshake (check ca_file and the server certificate)"
    else:
        why = f"could not be reached ({type(exc).__name__})"
    return GraphError(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        f"Graph {why} while trying to {action}{where}, also after retries. Retry later.",
        retry_after=retry_after,
    )


def _rid(request_id: str | None) -> str:
    return f", request-id {request_id}" if request_id else ""
