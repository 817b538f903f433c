"""Matching single-value extended property ids and values the way Exchange does.

https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get:
the Name part of the id is case-sensitive, the value comparison is not.
The type and GUID parts are treated case-insensitively (a GUID is a number).
"""

from __future__ import annotations

import re

_NAMED = re.compile(r"^\s*(\w+)\s+\{([0-9A-Fa-f-]{36})\}\s+(Name|Id)\s+(.+?)\s*$", re.IGNORECASE)


def property_key(property_id: str) -> tuple[str, ...]:
    """A comparable form of an extended property id."""
    match = _NAMED.match(property_id)
    if match is None:
        return (property_id.strip().lower(),)
    kind, guid, how, name = match.groups()
    if how.lower() == "id":
        name = name.lower()  # a numeric tag like 0x8511 is not a name
    return (kind.lower(), guid.lower(), how.lower(), name)


def same_property(a: str, b: str) -> bool:
    return property_key(a) == property_key(b)


def lookup(props: dict[str, str], property_id: str) -> tuple[str, str] | None:
    """(stored id, value) of the property matching `property_id`, if the event has it."""
    for stored_id, value in props.items():
        if same_property(stored_id, property_id):
            return stored_id, value
    return None


def value_matches(props: dict[str, str], property_id: str, value: str) -> bool:
    found = lookup(props, property_id)
    return found is not None and found[1].lower() == value.lower()
