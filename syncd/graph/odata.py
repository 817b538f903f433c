"""Building Graph URLs: path segments, OData string literals and query strings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import quote

#: Characters left as they are in query values (see `query`).
_QUERY_SAFE = "'(),$="

#: Prefer header that makes Graph return start/end (and getSchedule items) in UTC:
#: https://learn.microsoft.com/graph/api/event-get#support-various-time-zones
PREFER_UTC = 'outlook.timezone="UTC"'


def segment(value: str) -> str:
    """One path segment: e-mail addresses keep their '@', event ids their '=' padding."""
    return quote(value, safe="@=")


def user_path(mailbox: str) -> str:
    return f"/users/{segment(mailbox)}"


def event_path(mailbox: str, graph_event_id: str) -> str:
    return f"{user_path(mailbox)}/events/{segment(graph_event_id)}"


def literal(value: str) -> str:
    """An OData string literal: single-quoted, single quotes inside doubled (OData ABNF)."""
    return "'" + value.replace("'", "''") + "'"


def query(params: Mapping[str, str | int]) -> str:
    """`?$a=...&$b=...`; spaces, colons and slashes percent-encoded as Graph's docs ask for
    filter strings, while quotes, parentheses and commas stay readable:
    https://learn.microsoft.com/graph/api/singlevaluelegacyextendedproperty-get
    """
    if not params:
        return ""
    pairs = (f"{key}={quote(str(value), safe=_QUERY_SAFE)}" for key, value in params.items())
    return "?" + "&".join(pairs)


def select(fields: Sequence[str] | None) -> dict[str, str]:
    return {"$select": ",".join(fields)} if fields else {}


def extended_property_filter(property_id: str, value: str) -> dict[str, str]:
    """Query options that find events carrying a single-value extended property with `value`,
    and expand that property so the caller can check the exact value.

    The filter's value comparison is case-insensitive on Graph's side, and a
    filtered list does not include the property unless it is expanded:
    https://learn.microsoft.com/graph/api/singlevaluelegacyextendedproperty-get
    """
    pid, wanted = literal(property_id), literal(value)
    match = f"ep: ep/id eq {pid} and ep/value eq {wanted}"
    return {
        "$filter": f"singleValueExtendedProperties/Any({match})",
        "$expand": f"singleValueExtendedProperties($filter=id eq {pid})",
    }
