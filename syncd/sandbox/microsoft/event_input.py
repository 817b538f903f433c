"""Reading an event payload (POST/PATCH body) into the store's fields, validating as Graph does.

Properties: https://learn.microsoft.com/en-us/graph/api/resources/event
Property names in request bodies are matched case-insensitively (Microsoft's SDKs send
the metadata's "Comment", "Schedules", its documentation "comment", "schedules"). A name
the v1.0 schema does not declare, at any depth, is Graph's 400 RequestBodyRead
(event_schema.py). Read-only properties are accepted and ignored: the documented update
example sends originalStartTimeZone, originalEndTimeZone and responseStatus
(https://learn.microsoft.com/graph/api/event-update).
"""

from __future__ import annotations

from typing import Any

from syncd.sandbox.microsoft.errors import GraphError, bad_request
from syncd.sandbox.microsoft.event_schema import BODY_TYPES, check_names
from syncd.sandbox.microsoft.recurrence import check_range_start, parse_recurrence
from syncd.sandbox.microsoft.timezones import parse_datetime_timezone

SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
SENSITIVITY = ("normal", "personal", "private", "confidential")
IMPORTANCE = ("low", "normal", "high")
ATTENDEE_TYPES = ("required", "optional", "resource")
PROVIDERS = ("unknown", "teamsForBusiness", "skypeForBusiness", "skypeForConsumer")

# The properties the sandbox applies: those event-update lists as updatable
# (https://learn.microsoft.com/graph/api/event-update, "Request body") plus the
# create-time allowNewTimeProposals, transactionId and singleValueExtendedProperties.
KNOWN = {
    name.lower(): name
    for name in (
        "subject",
        "body",
        "start",
        "end",
        "isAllDay",
        "location",
        "locations",
        "attendees",
        "showAs",
        "sensitivity",
        "importance",
        "categories",
        "isOnlineMeeting",
        "onlineMeetingProvider",
        "transactionId",
        "singleValueExtendedProperties",
        "reminderMinutesBeforeStart",
        "isReminderOn",
        "responseRequested",
        "allowNewTimeProposals",
        "hideAttendees",
        "recurrence",
    )
}

# Declared by the schema but not applied: read-only or server-computed properties, and
# relationships the sandbox does not model. Accepted in a body and ignored.
IGNORED = tuple(name for name in BODY_TYPES["event"] if name.lower() not in KNOWN)


def _enum(value: Any, allowed: tuple[str, ...], field: str) -> str:
    if isinstance(value, str):
        for option in allowed:
            if option.lower() == value.lower():
                return option
    raise bad_request(f"Requested value '{value}' was not found for property '{field}'.")


def _typed(value: Any, kind: type | tuple[type, ...], field: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise bad_request(f"Cannot convert the literal '{value}' for property '{field}'.")
    return value


def _location(value: Any) -> dict[str, Any]:
    if value is None:
        return {"displayName": ""}
    if not isinstance(value, dict):
        raise bad_request("'location' must be a location object.")
    loc = {str(k): v for k, v in value.items() if not str(k).startswith("@")}
    loc["displayName"] = str(loc.get("displayName") or "")
    return loc


def _attendees(value: Any) -> list[tuple[str, str, str]]:
    """(address, name, type) per attendee, first occurrence of an address wins."""
    if not isinstance(value, list):
        raise bad_request("'attendees' must be a collection of attendee objects.")
    seen: set[str] = set()
    result = []
    for item in value:
        email = item.get("emailAddress") if isinstance(item, dict) else None
        if not isinstance(email, dict):
            email = {}
        address = email.get("address")
        if not isinstance(address, str) or "@" not in address:
            raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
        kind = _enum(item.get("type") or "required", ATTENDEE_TYPES, "type")
        if address.lower() not in seen:
            seen.add(address.lower())
            result.append((address, str(email.get("name") or address), kind))
    return result


def _extended(value: Any) -> dict[str, str]:
    if not isinstance(value, list):
        raise bad_request("'singleValueExtendedProperties' must be a collection.")
    props = {}
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise bad_request("Each singleValueExtendedProperty needs a string 'id'.")
        if item.get("value") is not None and not isinstance(item.get("value"), str):
            raise bad_request("A singleValueExtendedProperty 'value' must be a string.")
        props[item["id"]] = item.get("value") or ""
    return props


def parse_event(payload: Any, *, partial: bool) -> dict[str, Any]:
    """Event fields under the store's names; `partial` (PATCH) leaves absent fields alone."""
    if not isinstance(payload, dict):
        raise bad_request("The request body must be a JSON object describing an event.")
    check_names(payload, "event")
    fields: dict[str, Any] = {}
    for raw_name, value in payload.items():
        lowered = str(raw_name).lower()
        if lowered in KNOWN:  # else an annotation, or a property in IGNORED
            _read_property(KNOWN[lowered], value, fields)
    if not partial:
        for required in ("start", "end"):
            if required not in fields:
                raise bad_request(f"The event needs a '{required}' dateTimeTimeZone.")
    if "start" in fields and "end" in fields and fields["end"] < fields["start"]:
        raise bad_request("The end of the event must not be before its start.")
    if not partial and fields.get("recurrence") is not None:
        check_range_start(fields["recurrence"], fields["start"], fields["start_zone"])
    return fields


def _read_property(name: str, value: Any, fields: dict[str, Any]) -> None:
    if name == "subject":
        fields["subject"] = "" if value is None else str(_typed(value, str, name))
    elif name == "body":
        if not isinstance(value, dict):
            raise bad_request("'body' must be an itemBody object.")
        lowered = {str(k).lower(): v for k, v in value.items()}
        fields["body_type"] = _enum(lowered.get("contenttype") or "text", ("text", "html"), name)
        fields["body_content"] = str(lowered.get("content") or "")
    elif name in ("start", "end"):
        instant, zone = parse_datetime_timezone(value, name)
        fields[name], fields[f"{name}_zone"] = instant, zone
    elif name == "location":
        fields["location"] = _location(value)
    elif name == "locations":
        fields["locations"] = [_location(v) for v in _typed(value or [], list, name)]
    elif name == "attendees":
        fields["attendees"] = _attendees(value or [])
    elif name == "showAs":
        fields["show_as"] = _enum(value, SHOW_AS, name)
    elif name == "sensitivity":
        fields["sensitivity"] = _enum(value, SENSITIVITY, name)
    elif name == "importance":
        fields["importance"] = _enum(value, IMPORTANCE, name)
    elif name == "categories":
        fields["categories"] = [str(c) for c in _typed(value or [], list, name)]
    elif name == "onlineMeetingProvider":
        fields["online_meeting_provider"] = _enum(value, PROVIDERS, name)
    elif name == "transactionId":
        fields["transaction_id"] = None if value is None else str(_typed(value, str, name))
    elif name == "singleValueExtendedProperties":
        fields["extended"] = _extended(value or [])
    elif name == "reminderMinutesBeforeStart":
        fields["reminder_minutes"] = _typed(value, int, name)
    elif name == "recurrence":
        # A patternedRecurrence makes the event a series master; null makes it single.
        fields["recurrence"] = parse_recurrence(value)
    else:  # the boolean flags
        attribute = {
            "isAllDay": "is_all_day",
            "isOnlineMeeting": "is_online_meeting",
            "isReminderOn": "is_reminder_on",
            "responseRequested": "response_requested",
            "allowNewTimeProposals": "allow_new_time_proposals",
            "hideAttendees": "hide_attendees",
        }[name]
        fields[attribute] = _typed(value, bool, name)
