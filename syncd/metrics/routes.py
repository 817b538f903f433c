"""Route templates for metric labels: a URL path with every id, address and
locator replaced by a placeholder (pure).

Only known words survive (an allowlist), so whatever a path carries that is not
one of them (an event id, a mailbox address, a query locator, a tenant GUID)
becomes `{id}` or `{user}`: a label never holds personal data, and the number
of label values stays small (https://prometheus.io/docs/practices/naming/#labels).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

#: Path words of the Graph resources and identity endpoints syncd calls.
GRAPH_WORDS = frozenset(
    {
        "$batch",
        "users",
        "me",
        "events",
        "event",
        "calendar",
        "calendars",
        "calendarView",
        "instances",
        "cancel",
        "accept",
        "decline",
        "tentativelyAccept",
        "delta",
        "mailboxSettings",
        "timeZone",
        "getSchedule",
        "findMeetingTimes",
        "extensions",
        "attachments",
        "oauth2",
        "v2.0",
        "token",
        "authorize",
        ".well-known",
        "openid-configuration",
        "discovery",
        "instance",
        "common",
        "organizations",
    }
)
#: Path words of the Salesforce REST resources and login endpoints syncd calls.
SALESFORCE_WORDS = frozenset(
    {
        "services",
        "data",
        "oauth2",
        "token",
        "userinfo",
        "query",
        "queryAll",
        "sobjects",
        "composite",
        "updated",
        "deleted",
        "describe",
        "limits",
    }
)
#: Graph API versions: what comes before them is the host's (the sandbox's prefix).
GRAPH_VERSIONS = ("v1.0", "beta")
_SF_VERSION = re.compile(r"^v\d{2,3}\.\d$")
#: An sObject API name ("Event", "Sync_Log__c"), told apart from a record id, which
#: is 15 or 18 letters and digits with digits in it.
_SOBJECT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
_RECORD_ID = re.compile(r"^(?=.*\d)[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


def _template(segments: list[str], words: frozenset[str], after_users: str = "{user}") -> str:
    out: list[str] = []
    for segment in segments:
        if segment in words:
            out.append(segment)
        elif out and out[-1] == "users":
            out.append(after_users)
        else:
            out.append("{id}")
    return "/" + "/".join(out)


def _segments(path: str) -> list[str]:
    return [s for s in urlsplit(path).path.split("/") if s]


def graph_route(url: str) -> tuple[str, str]:
    """(service, route) of a URL the Graph session called: `graph` and the path after
    the API version, or `identity` (token and discovery endpoints) and its path."""
    segments = _segments(url)
    for index, segment in enumerate(segments):
        if segment in GRAPH_VERSIONS:
            return "graph", _template(segments[index + 1 :], GRAPH_WORDS)
    return "identity", _template(segments, GRAPH_WORDS)


def graph_inner_route(relative_url: str) -> str:
    """The route of a $batch inner request (its URL is relative to the API version)."""
    return _template(_segments(relative_url), GRAPH_WORDS)


def salesforce_route(url: str) -> str:
    """The route of a Salesforce REST or login URL, e.g.
    `/services/data/{version}/sobjects/Event/updated`."""
    out: list[str] = []
    for segment in _segments(url):
        if segment in SALESFORCE_WORDS:
            out.append(segment)
        elif _SF_VERSION.match(segment):
            out.append("{version}")
        elif out and out[-1] == "sobjects" and _sobject_name(segment):
            out.append(segment)
        else:
            out.append("{id}")
    return "/" + "/".join(out)


def _sobject_name(segment: str) -> bool:
    return bool(_SOBJECT_NAME.match(segment)) and not _RECORD_ID.match(segment)
