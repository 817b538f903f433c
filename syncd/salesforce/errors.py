"""Salesforce's answers and transport failures mapped to `SyncdError`, once, for the client.

REST error bodies are a JSON list of `{message, errorCode, fields}`:
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
simple-salesforce raises one exception class per status (400 SalesforceMalformedRequest,
401 SalesforceExpiredSession, 403 SalesforceRefusedRequest, 404
SalesforceResourceNotFound, else SalesforceGeneralError) carrying the decoded body.
"""

from __future__ import annotations

from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceError as LibraryError

from syncd.domain import ErrorCode, SyncdError

#: 403 answer once the org's rolling 24-hour API request limit is spent (and for the
#: concurrent long-request limit): https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
INVALID_SESSION_ID = "INVALID_SESSION_ID"


class SalesforceError(SyncdError):
    """An error of the Salesforce layer (its answers, its transport, its login)."""


class WindowMissed(SalesforceError):
    """getUpdated / getDeleted was asked for a start older than Salesforce keeps:
    changes (or deletions) before the window cannot be listed; do a full resync."""

    def __init__(self, message: str, *, resource: str, oldest_start: Any) -> None:
        super().__init__(ErrorCode.INVALID_REQUEST, message)
        self.resource = resource
        self.oldest_start = oldest_start


def error_details(content: Any) -> tuple[str, str]:
    """(errorCode, message) of the first error in a REST error body; empty when absent."""
    first = content[0] if isinstance(content, list) and content else content
    if isinstance(first, dict):
        code = first.get("errorCode") or first.get("error") or ""
        message = first.get("message") or first.get("error_description") or ""
        return str(code), str(message)
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return "", str(content or "")[:300].strip()


def is_limit_exceeded(exc: LibraryError) -> bool:
    return exc.status == 403 and error_details(exc.content)[0] == REQUEST_LIMIT_EXCEEDED


def salesforce_says(exc: LibraryError) -> str:
    code, message = error_details(exc.content)
    return f"{code or f'HTTP {exc.status}'}: {message}" if message else code or f"HTTP {exc.status}"


def refused(exc: LibraryError, *, action: str, instance: str) -> SyncdError:
    """The error for an answer that retrying will not change."""
    says = salesforce_says(exc)
    if exc.status == 403:
        return SalesforceError(
            ErrorCode.ACCESS_DENIED,
            f"Salesforce {instance} denied the integration user access while trying to "
            f"{action}: {says}. Check the user's profile / permission sets (API Enabled, "
            "object and field access).",
        )
    return SalesforceError(
        ErrorCode.INVALID_REQUEST,
        f"Salesforce {instance} refused to {action}: {says} (HTTP {exc.status}).",
    )


def session_rejected(exc: LibraryError, *, action: str, instance: str) -> SyncdError:
    return SalesforceError(
        ErrorCode.ACCESS_DENIED,
        f"Salesforce {instance} rejected a freshly issued session while trying to {action}: "
        f"{salesforce_says(exc)}. Check the connected app's session and IP policies and that "
        "the integration user may use the API.",
    )


def limit_exhausted(
    exc: LibraryError, *, action: str, instance: str, waited: float, retry_after: float
) -> SyncdError:
    return SalesforceError(
        ErrorCode.THROTTLED,
        f"Salesforce {instance}'s API request limit is used up ({salesforce_says(exc)}); "
        f"waited {waited:.0f} s in all while trying to {action}. The limit is counted over "
        "a rolling 24 hours: retry later, or raise the org's allowance.",
        retry_after=retry_after,
    )


def unavailable(exc: LibraryError, *, action: str, instance: str, retries: int) -> SyncdError:
    return SalesforceError(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        f"Salesforce {instance} failed (HTTP {exc.status}, {salesforce_says(exc)}) while "
        f"trying to {action}, also after {retries} retries. Retry later.",
        retry_after=30.0,
    )


def unreachable(
    exc: requests.RequestException, *, action: str, instance: str, retries: int
) -> SyncdError:
    """The error for a request that got no usable HTTP answer (timeout, refused, TLS, reset)."""
    if isinstance(exc, requests.ConnectTimeout):
        why = "did not accept a connection in time"
    elif isinstance(exc, requests.ReadTimeout):
        why = "sent no answer in time"
    elif isinstance(exc, requests.exceptions.SSLError):
        why = "failed the TLS handshake (check ca_file and the server certificate)"
    elif isinstance(exc, requests.exceptions.JSONDecodeError):
        why = "answered with something that is not JSON"
    else:
        why = f"could not be reached ({type(exc).__name__})"
    after = f", also after {retries} retries" if retries else ""
    return SalesforceError(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        f"Salesforce {instance} {why} while trying to {action}{after}. Retry later.",
        retry_after=30.0,
    )
