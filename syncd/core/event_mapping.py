"""Pure mapping between syncd meetings and Microsoft Graph event resources.

Resource shape: https://learn.microsoft.com/en-us/graph/api/resources/event
No I/O here: the scheduler core and the sync planner both use these functions.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from syncd.core import recurrence_mapping
from syncd.domain import Attendee, Meeting, ResponseStatus, Source, utc

#: The single-value extended property that stamps syncd's external key on each
#: event, so the mapping can be found again in Graph after the ledger is lost.
#: https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-post-singlevalueextendedproperties
EXTERNAL_KEY_PROPERTY_ID = "String {8d3c2a5e-6f1b-4c7e-9a44-5b1f0e2d7c61} Name syncdExternalKey"

#: Namespace for deterministic transaction ids (uuid5).
_TRANSACTION_NAMESPACE = uuid.UUID("1f8b6c0e-3a52-4d8f-b2a7-9c4e5d6f7a81")

#: Graph fields syncd owns on an event; only these are diffed and PATCHed.
CONTENT_FIELDS = (
    "subject",
    "body",
    "start",
    "end",
    "location",
    "attendees",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "isAllDay",
    "showAs",
    "sensitivity",
    "recurrence",
)

# https://learn.microsoft.com/en-us/graph/api/resources/responsestatus
_RESPONSES: dict[str, ResponseStatus] = {
    "none": ResponseStatus.NO_RESPONSE,
    "notresponded": ResponseStatus.NO_RESPONSE,
    "accepted": ResponseStatus.ACCEPTED,
    "declined": ResponseStatus.DECLINED,
    "tentativelyaccepted": ResponseStatus.TENTATIVE,
    "organizer": ResponseStatus.ORGANIZER,
}


def external_key(tenant: str, source: Source | str, external_id: str) -> str:
    """The value stamped in the extended property: unique per tenant and source."""
    return f"{tenant}:{Source(source).value}:{external_id}"


def transaction_id(tenant: str, source: Source | str, external_id: str, generation: int) -> str:
    """Deterministic Graph transactionId: a retried create is deduplicated by Graph.

    https://learn.microsoft.com/en-us/graph/api/resources/event (transactionId)
    """
    name = f"{external_key(tenant, source, external_id)}#{generation}"
    return str(uuid.uuid5(_TRANSACTION_NAMESPACE, name))


def is_teams_location(location: str, keyword: str) -> bool:
    return location.strip().casefold() == keyword.strip().casefold()


def _graph_time(value: datetime) -> dict[str, str]:
    # Graph takes dateTime without offset plus a separate timeZone.
    return {"dateTime": utc(value).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _attendees(attendees: tuple[Attendee, ...], organizer: str) -> list[dict[str, Any]]:
    """Graph attendees: the organizer is never invited to their own meeting, and an
    address listed twice is invited once (required wins over optional)."""
    chosen: dict[str, Attendee] = {}
    for attendee in attendees:
        key = attendee.email.casefold()
        if key == organizer.casefold():
            continue
        if key not in chosen or (attendee.required and not chosen[key].required):
            chosen[key] = attendee
    return [
        {
            "emailAddress": {"address": a.email},
            "type": "required" if a.required else "optional",
        }
        for a in chosen.values()
    ]


def event_content(meeting: Meeting, *, teams_keyword: str) -> dict[str, Any]:
    """The Graph fields syncd owns for a meeting (what is created and diffed).

    A series master also carries its patternedRecurrence; zoned and all-day times are
    written as `recurrence_mapping.graph_time` explains (single meetings without a
    zone keep their UTC form, so their content hashes do not change).
    """
    teams = is_teams_location(meeting.location, teams_keyword)
    if meeting.time_zone is None:
        start, end = _graph_time(meeting.start), _graph_time(meeting.end)
    else:
        zone, all_day = meeting.time_zone, meeting.is_all_day
        start = recurrence_mapping.graph_time(meeting.start, zone, all_day=all_day)
        end = recurrence_mapping.graph_time(meeting.end, zone, all_day=all_day)
    content = {
        "subject": meeting.subject,
        "body": {"contentType": "text", "content": meeting.body},
        "start": start,
        "end": end,
        "location": {"displayName": meeting.location},
        "attendees": _attendees(meeting.attendees, meeting.organizer_email),
        "isOnlineMeeting": teams,
        "onlineMeetingProvider": "teamsForBusiness" if teams else "unknown",
        "isAllDay": meeting.is_all_day,
        "showAs": meeting.show_as,
        "sensitivity": "private" if meeting.is_private else "normal",
    }
    if meeting.recurrence is not None:
        recurrence = recurrence_mapping.graph_recurrence(meeting.recurrence)
        content["recurrence"] = json.loads(json.dumps(recurrence))
    return content


def create_payload(content: Mapping[str, Any], *, transaction: str, key: str) -> dict[str, Any]:
    """The POST body of a create: content + transactionId + external-key property."""
    payload = dict(content)
    if not payload.get("isOnlineMeeting"):
        # Graph rejects onlineMeetingProvider "unknown" on create for some
        # mailboxes; leaving it out means "no online meeting".
        payload.pop("onlineMeetingProvider", None)
    payload["transactionId"] = transaction
    payload["singleValueExtendedProperties"] = [{"id": EXTERNAL_KEY_PROPERTY_ID, "value": key}]
    return payload


def content_hash(content: Mapping[str, Any]) -> str:
    """A stable hash of the owned fields: equal content, equal hash."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _normalise_attendees(value: Any) -> list[tuple[str, str]]:
    return sorted(
        (str(a["emailAddress"]["address"]).casefold(), str(a.get("type", "required")))
        for a in value or []
    )


def content_changes(
    previous: Mapping[str, Any], desired: Mapping[str, Any], *, join_url: str | None = None
) -> dict[str, Any]:
    """The PATCH body: only fields whose value changed (each PATCH e-mails attendees).

    https://learn.microsoft.com/en-us/graph/api/event-update
    """
    changes: dict[str, Any] = {}
    for name in CONTENT_FIELDS:
        old, new = previous.get(name), desired.get(name)
        if name == "attendees":
            if _normalise_attendees(old) != _normalise_attendees(new):
                changes[name] = new
        elif name in ("start", "end", "recurrence"):
            if not recurrence_mapping.same_times(name, old, new):
                changes[name] = new
        elif old != new:
            changes[name] = new
    if previous.get("isOnlineMeeting") and not desired.get("isOnlineMeeting"):
        # Teams cannot be switched off: "After you set isOnlineMeeting to true, Microsoft
        # Graph initializes onlineMeeting. Subsequently Outlook ignores any further
        # changes to isOnlineMeeting, and the meeting remains available online", and
        # onlineMeetingProvider cannot change again either
        # (https://learn.microsoft.com/graph/api/resources/event#properties). So nothing
        # asks for it; the meeting keeps its join link (see `online_kept`).
        changes.pop("isOnlineMeeting", None)
        changes.pop("onlineMeetingProvider", None)
    online = desired.get("isOnlineMeeting") or previous.get("isOnlineMeeting")
    if "body" in changes and join_url and online:
        # The Teams join block lives in the body; replacing the body would drop
        # it, so the link is appended again (the contract's "appended to Body").
        content = changes["body"]["content"]
        changes["body"] = {
            "contentType": "text",
            "content": f"{content}\n\nJoin Microsoft Teams meeting: {join_url}",
        }
    if changes.get("isOnlineMeeting") is False:
        changes.pop("onlineMeetingProvider", None)
    return changes


def online_kept(previous: Mapping[str, Any], content: Mapping[str, Any]) -> dict[str, Any]:
    """`content` as Outlook holds it once sent over `previous` (what Outlook had): a
    meeting that was online stays online with its provider, whatever `content` says
    (resources/event, isOnlineMeeting; see `content_changes`). The ledger keeps this as
    what was sent, so it shows what Outlook shows."""
    if not previous.get("isOnlineMeeting") or content.get("isOnlineMeeting"):
        return dict(content)
    provider = previous.get("onlineMeetingProvider") or "teamsForBusiness"
    return {**content, "isOnlineMeeting": True, "onlineMeetingProvider": provider}


def response_of(graph_response: str | None) -> ResponseStatus:
    """Graph responseStatus.response -> the contract's vocabulary."""
    if not graph_response:
        return ResponseStatus.NO_RESPONSE
    return _RESPONSES.get(graph_response.casefold(), ResponseStatus.UNKNOWN)


def parse_graph_time(value: Mapping[str, str] | None) -> datetime | None:
    """A Graph dateTimeTimeZone read with Prefer: outlook.timezone="UTC"."""
    if not value or not value.get("dateTime"):
        return None
    text = value["dateTime"]
    if "." in text:
        head, fraction = text.split(".", 1)
        text = f"{head}.{fraction[:6]}"
    parsed = datetime.fromisoformat(text)
    return utc(parsed)


def attendee_responses(event: Mapping[str, Any]) -> dict[str, dict[str, str | None]]:
    """Per attendee e-mail (lower-cased): the contract response and when it was given."""
    answers: dict[str, dict[str, str | None]] = {}
    for attendee in event.get("attendees") or []:
        address = str(attendee.get("emailAddress", {}).get("address", "")).casefold()
        if not address:
            continue
        status = attendee.get("status") or {}
        answered = status.get("time")
        if answered and answered.startswith("0001-01-01"):
            answered = None
        answers[address] = {"response": response_of(status.get("response")).value, "time": answered}
    return answers


def unanswered(event: Mapping[str, Any]) -> dict[str, dict[str, str | None]]:
    """`attendee_responses` of the event's attendees before anyone answered."""
    return {
        address: {"response": ResponseStatus.NO_RESPONSE.value, "time": None}
        for address in attendee_responses(event)
    }


def observed_content(event: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The owned fields of an existing Graph `event`, as a base for `content_changes`.

    Each field Outlook already holds as `desired` wants it (compared by meaning: the
    same instant in any time zone, the same text whatever the body's format, the same
    attendees in any order) takes the desired value, so it is not PATCHed; any other
    takes Outlook's value, so it is. Used when syncd takes over an event it created
    but has no record of sending (a retried create, a lost ledger).
    """
    observed: dict[str, Any] = {}
    for name in CONTENT_FIELDS:
        have, want = event.get(name), desired.get(name)
        if name not in desired:
            continue
        if _same(name, have, want, event):
            observed[name] = want
        elif name == "attendees":
            observed[name] = have if isinstance(have, list) else []
        else:
            observed[name] = have if have is not None else {"differs": True}
    return observed


def _same(name: str, have: Any, want: Any, event: Mapping[str, Any]) -> bool:
    if name in ("start", "end"):
        return _instant(have) is not None and _instant(have) == _instant(want)
    if name == "body":
        return _same_body(have, want, online=bool(event.get("isOnlineMeeting")))
    if name == "location":
        return _text(have, "displayName") == _text(want, "displayName")
    if name == "attendees":
        return _normalise_attendees(have) == _normalise_attendees(want)
    if name == "showAs":
        return str(have or "").casefold() == str(want or "").casefold()
    if name == "onlineMeetingProvider":
        # Meaningless (and left out of creates) while the meeting is not online.
        return (not event.get("isOnlineMeeting") and want == "unknown") or have == want
    if name == "recurrence":
        return _contains(have, want)
    return bool(have == want)


def _instant(value: Any) -> datetime | None:
    """A dateTimeTimeZone as an aware UTC instant; None when it cannot be read."""
    if not isinstance(value, Mapping) or not value.get("dateTime"):
        return None
    zone = recurrence_mapping.zone_info(str(value.get("timeZone") or "UTC"))
    text = str(value["dateTime"])
    if "." in text:
        head, fraction = text.split(".", 1)
        text = f"{head}.{fraction[:6]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if zone is None:
        return None
    return utc(parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed)


def _text(value: Any, key: str) -> str:
    return str((value or {}).get(key) or "").strip() if isinstance(value, Mapping) else ""


_TAGS = re.compile(r"<[^>]*>")


def _same_body(have: Any, want: Any, *, online: bool) -> bool:
    """The same text; Graph may answer in HTML, and appends the Teams join block."""
    wanted = " ".join(_text(want, "content").split())
    content = _text(have, "content")
    if str((have or {}).get("contentType", "")).casefold() == "html":
        content = html.unescape(_TAGS.sub(" ", content))
    found = " ".join(content.split())
    return found == wanted or (online and found.startswith(wanted))


def _contains(have: Any, want: Any) -> bool:
    """Whether every value `want` sets is in `have` (Graph adds defaults of its own)."""
    if isinstance(want, Mapping):
        return isinstance(have, Mapping) and all(_contains(have.get(k), v) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and sorted(map(str, have)) == sorted(map(str, want))
    return bool(have == want)


def join_url_of(event: Mapping[str, Any]) -> str | None:
    online = event.get("onlineMeeting") or {}
    return online.get("joinUrl") or None
