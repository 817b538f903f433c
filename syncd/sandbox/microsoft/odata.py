"""The OData query options and Prefer headers the sandbox understands.

Query parameters: https://learn.microsoft.com/en-us/graph/query-parameters
Paging (Outlook's default page size is 10): https://learn.microsoft.com/en-us/graph/paging
Extended-property filter and expand forms:
https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from syncd.sandbox.microsoft.errors import GraphError, bad_request
from syncd.sandbox.microsoft.event_json import EVENT_PROPERTIES, ExtendedExpand

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000

_STRING = r"'((?:[^']|'')*)'"
_EXTENDED_FILTER = re.compile(
    r"^\s*singleValueExtendedProperties\s*/\s*any\s*\(\s*(\w+)\s*:\s*"
    rf"\1\s*/\s*id\s+eq\s+{_STRING}\s+and\s+\1\s*/\s*value\s+eq\s+{_STRING}\s*\)\s*$",
    re.IGNORECASE,
)
_EXPAND = re.compile(
    rf"^\s*singleValueExtendedProperties\s*(?:\(\s*\$filter\s*=\s*id\s+eq\s+{_STRING}\s*\))?\s*$",
    re.IGNORECASE,
)
_PREFER_ITEM = re.compile(r'\s*([\w.-]+)\s*(?:=\s*(?:"([^"]*)"|([^,;\s]*)))?')


def option(query: Mapping[str, str], name: str) -> str | None:
    """A system query option, with or without its `$` (Graph accepts both), any case."""
    bare = name.lstrip("$").lower()
    for key, value in query.items():
        if key.lstrip("$").lower() == bare:
            return value
    return None


@dataclass(frozen=True)
class ExtendedFilter:
    property_id: str
    value: str


def parse_filter(text: str | None) -> ExtendedFilter | None:
    """Only `singleValueExtendedProperties/Any(ep: ep/id eq '..' and ep/value eq '..')`."""
    if text is None or not text.strip():
        return None
    match = _EXTENDED_FILTER.match(text)
    if match is None:
        raise GraphError(
            400,
            "ErrorInvalidUrlQueryFilter",
            "The query filter contains one or more invalid nodes. The sandbox supports only "
            "singleValueExtendedProperties/Any(ep: ep/id eq '...' and ep/value eq '...').",
        )
    return ExtendedFilter(match.group(2).replace("''", "'"), match.group(3).replace("''", "'"))


def parse_select(text: str | None) -> tuple[str, ...] | None:
    if text is None or not text.strip():
        return None
    canonical = {name.lower(): name for name in EVENT_PROPERTIES}
    chosen = []
    for raw in text.split(","):
        name = raw.strip()
        if name.lower() not in canonical:
            raise GraphError(
                400,
                "RequestBroker--ParseUri",
                f"Could not find a property named '{name}' on type 'microsoft.graph.event'.",
            )
        chosen.append(canonical[name.lower()])
    return tuple(chosen)


def parse_expand(text: str | None) -> ExtendedExpand | None:
    if text is None or not text.strip():
        return None
    match = _EXPAND.match(text)
    if match is None:
        raise bad_request(
            f"Parsing OData Select and Expand failed: the sandbox cannot expand '{text}'; only "
            "singleValueExtendedProperties($filter=id eq '...') is supported."
        )
    wanted = match.group(1)
    return ExtendedExpand(None if wanted is None else (wanted.replace("''", "'"),))


ORDERABLE = {
    "start/datetime": lambda e: e.start,
    "end/datetime": lambda e: e.end,
    "createddatetime": lambda e: e.created,
    "lastmodifieddatetime": lambda e: e.modified,
    "subject": lambda e: e.subject.lower(),
}


def parse_orderby(text: str | None) -> tuple[Callable[[Any], Any], bool] | None:
    """(sort key, descending) for one `$orderby` property of an event, or None."""
    if text is None or not text.strip():
        return None
    name, _, direction = text.strip().partition(" ")
    key = ORDERABLE.get(name.strip().lower())
    if key is None or direction.strip().lower() not in ("", "asc", "desc"):
        raise bad_request(
            f"The sandbox cannot order events by '{text}'; use start/dateTime, end/dateTime, "
            "createdDateTime, lastModifiedDateTime or subject, optionally with asc or desc."
        )
    return key, direction.strip().lower() == "desc"


def parse_top(text: str | None) -> int:
    if text is None:
        return DEFAULT_PAGE_SIZE
    try:
        top = int(text)
    except ValueError as exc:
        raise bad_request(f"Invalid value '{text}' for $top query option.") from exc
    if top < 1:
        raise bad_request(f"Invalid value '{text}' for $top query option.")
    return min(top, MAX_PAGE_SIZE)


def encode_skiptoken(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def parse_offset(query: Mapping[str, str]) -> int:
    """Where the page starts: from $skiptoken (our nextLink) or $skip."""
    token = option(query, "$skiptoken")
    if token:
        try:
            padded = token + "=" * (-len(token) % 4)
            offset = int(json.loads(base64.urlsafe_b64decode(padded))["o"])
        except (ValueError, KeyError, TypeError) as exc:
            raise bad_request("The $skiptoken is invalid or has expired.") from exc
        return max(offset, 0)
    skip = option(query, "$skip")
    if skip:
        try:
            return max(int(skip), 0)
        except ValueError as exc:
            raise bad_request(f"Invalid value '{skip}' for $skip query option.") from exc
    return 0


def next_link(base_url: str, path: str, query: Mapping[str, str], offset: int) -> str:
    """Absolute URL of the next page, keeping the caller's options."""
    kept = {k: v for k, v in query.items() if k.lstrip("$").lower() not in ("skiptoken", "skip")}
    kept["$skiptoken"] = encode_skiptoken(offset)
    return f"{base_url}/v1.0{path}?" + urlencode(kept, quote_via=quote, safe="$")


def parse_prefer(headers: Mapping[str, str]) -> dict[str, str]:
    """`Prefer: outlook.timezone="..."`, `outlook.body-content-type="text"` and friends."""
    prefs: dict[str, str] = {}
    raw = headers.get("prefer", "")
    for part in raw.split(","):
        match = _PREFER_ITEM.match(part)
        if match and match.group(1):
            prefs[match.group(1).lower()] = match.group(2) or match.group(3) or ""
    return prefs
