"""Tenant address aliases: addresses as callers send them -> the mailboxes they mean.

Applied to the parsed request once the caller (and so the tenant) is known,
before any validation, so the rest of the API only ever sees real addresses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def resolve(value: Any, aliases: Mapping[str, str]) -> Any:
    """The aliased address for `value`, or `value` unchanged."""
    if isinstance(value, str):
        return aliases.get(value.strip(), value)
    return value


def _resolve_entry(entry: Any, aliases: Mapping[str, str]) -> Any:
    if isinstance(entry, dict) and "email" in entry:
        return {**entry, "email": resolve(entry["email"], aliases)}
    return entry


def apply(data: Any, aliases: Mapping[str, str]) -> Any:
    """Resolve organizerEmail and every attendee/availability `email` in a body."""
    if not aliases:
        return data
    if isinstance(data, list):
        return [_resolve_entry(entry, aliases) for entry in data]
    if not isinstance(data, dict):
        return data
    resolved = dict(data)
    if "organizerEmail" in resolved:
        resolved["organizerEmail"] = resolve(resolved["organizerEmail"], aliases)
    if isinstance(resolved.get("attendees"), list):
        resolved["attendees"] = [_resolve_entry(a, aliases) for a in resolved["attendees"]]
    return resolved
