"""Rendering stored events as Graph's event JSON.

Property set and example payloads:
https://learn.microsoft.com/en-us/graph/api/resources/event
https://learn.microsoft.com/en-us/graph/api/user-post-events (example responses)
"""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from syncd.sandbox.microsoft.answers import (
    ACCEPTED,
    DECLINED,
    TENTATIVE,
    Answer,
    AttendeeAnswers,
)
from syncd.sandbox.microsoft.calendar import Attendee, StoredEvent
from syncd.sandbox.microsoft.extended_props import lookup
from syncd.sandbox.microsoft.timezones import NULL_TIME, format_local, format_timestamp

PREVIEW_LENGTH = 255


@dataclass(frozen=True)
class ExtendedExpand:
    """`$expand=singleValueExtendedProperties(...)`: the ids asked for, or None for all."""

    ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class EventView:
    """How to render: zone, body format, fields, and the instant answers are judged at."""

    base_url: str
    answers: AttendeeAnswers
    now: datetime
    zone: str | None = None
    original_zone: bool = False
    body_text: bool = False
    fresh_at: datetime | None = None
    select: tuple[str, ...] | None = None
    expand: ExtendedExpand | None = None


def attendee_answer(event: StoredEvent, attendee: Attendee, view: EventView) -> Answer:
    """An attendee's answer as the organizer sees it; none for invitations sent just now."""
    if view.fresh_at is not None and attendee.invite.invited_at == view.fresh_at:
        return Answer(None, None)
    return view.answers.answer(attendee.invite, view.now)


def own_answer(event: StoredEvent, answers: AttendeeAnswers, now: datetime) -> Answer:
    """An invitee's answer on their own copy of the meeting."""
    if event.my_invite is None:
        return Answer(None, None)
    return answers.answer(event.my_invite, now)


def effective_show_as(event: StoredEvent, answers: AttendeeAnswers, now: datetime) -> str:
    """Free/busy of the item in its owner's calendar; an invitee's copy follows their answer."""
    if event.is_cancelled:
        return "free"
    if event.is_organizer:
        return event.show_as
    response = own_answer(event, answers, now).response
    if response == ACCEPTED:
        return event.show_as
    if response == DECLINED:
        return "free"
    # Unanswered invitations sit in the calendar as tentative, like Outlook shows them.
    return "tentative" if response in (TENTATIVE, None) else event.show_as


def effective_change(
    event: StoredEvent, answers: AttendeeAnswers, now: datetime
) -> tuple[str, datetime]:
    """(changeKey, lastModifiedDateTime) of the item, counting answers that arrived since
    its last write: an attendee's answer updates the organizer's item (its attendees'
    `status`), and an invitee's own answer their copy, so both change as on any write
    ("every time the event is changed/updated, the property ChangeKey changes as well",
    https://learn.microsoft.com/graph/api/resources/event, changeKey: "Identifies the
    version of the event object"). Answers show lazily here (answers.Invite), so the
    new key is derived from the last one and the answer's time (assumed shape).
    """
    if event.is_organizer:
        times = [answers.answer(a.invite, now).time for a in event.attendees]
    else:
        times = [own_answer(event, answers, now).time]
    arrived = [t for t in times if t is not None and t > event.modified]
    if not arrived:
        return event.change_key, event.modified
    latest = max(arrived)
    digest = hashlib.sha256(f"{event.change_key}|{latest.isoformat()}".encode()).digest()
    return base64.b64encode(digest[:22]).decode(), latest


def _status(answer: Answer, *, unanswered: str) -> dict[str, str]:
    if answer.response is None or answer.time is None:
        return {"response": unanswered, "time": NULL_TIME}
    return {"response": answer.response, "time": format_timestamp(answer.time)}


def _body(event: StoredEvent, view: EventView) -> tuple[dict[str, str], str]:
    """(body object, preview text): HTML by default, as list/get return bodies."""
    if event.body_type == "html":
        as_html = event.body_content
        as_text = html.unescape(re.sub(r"<[^>]+>", " ", event.body_content))
    else:
        as_html = html.escape(event.body_content).replace("\n", "<br>")
        as_text = event.body_content
    if "<html" not in as_html.lower():
        as_html = f"<html><head></head><body>{as_html}</body></html>"
    preview = " ".join(as_text.split())[:PREVIEW_LENGTH]
    if view.body_text:
        return {"contentType": "text", "content": as_text.strip()}, preview
    return {"contentType": "html", "content": as_html}, preview


def _location(loc: dict[str, Any], *, primary: bool) -> dict[str, Any]:
    name = loc.get("displayName") or ""
    if not name:
        return {
            "displayName": "",
            "locationType": "default",
            "uniqueIdType": "unknown",
            "address": {},
            "coordinates": {},
        }
    kind = str(loc.get("locationType") or "default")
    out: dict[str, Any] = {"displayName": name, "locationType": kind[:1].lower() + kind[1:]}
    detailed = primary or "address" in loc or "coordinates" in loc
    if detailed:
        out["uniqueId"] = loc.get("uniqueId") or name
        out["uniqueIdType"] = "private"
    else:
        out["uniqueIdType"] = "unknown"
    for extra in ("locationEmailAddress", "locationUri", "address", "coordinates"):
        if extra in loc:
            out[extra] = loc[extra]
    return out


def _times(event: StoredEvent, view: EventView) -> tuple[dict[str, str], dict[str, str]]:
    if view.zone:
        return format_local(event.start, view.zone), format_local(event.end, view.zone)
    if view.original_zone:
        return format_local(event.start, event.start_zone), format_local(event.end, event.end_zone)
    return format_local(event.start, "UTC"), format_local(event.end, "UTC")


def render_event(event: StoredEvent, view: EventView) -> dict[str, Any]:
    """The event resource as Graph returns it (all properties unless $select narrows them)."""
    body, preview = _body(event, view)
    start, end = _times(event, view)
    if event.is_organizer:
        response_status = {"response": "organizer", "time": NULL_TIME}
    else:
        own = own_answer(event, view.answers, view.now)
        response_status = _status(own, unanswered="notResponded")
    change_key, modified = effective_change(event, view.answers, view.now)
    full: dict[str, Any] = {
        "@odata.etag": f'W/"{change_key}"',
        "id": event.id,
        "createdDateTime": format_timestamp(event.created),
        "lastModifiedDateTime": format_timestamp(modified),
        "changeKey": change_key,
        "categories": list(event.categories),
        "transactionId": event.transaction_id,
        "originalStartTimeZone": event.start_zone,
        "originalEndTimeZone": event.end_zone,
        "iCalUId": event.ical_uid,
        "reminderMinutesBeforeStart": event.reminder_minutes,
        "isReminderOn": event.is_reminder_on,
        "hasAttachments": False,
        "subject": event.subject,
        "bodyPreview": preview,
        "importance": event.importance,
        "sensitivity": event.sensitivity,
        "isAllDay": event.is_all_day,
        "isCancelled": event.is_cancelled,
        "isOrganizer": event.is_organizer,
        "responseRequested": event.response_requested,
        "seriesMasterId": event.series_master_id,
        "showAs": effective_show_as(event, view.answers, view.now),
        "type": "seriesMaster" if event.recurrence is not None else event.event_type,
        "webLink": "https://outlook.office365.com/owa/?itemid="
        + quote(event.id, safe="")
        + "&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": event.is_online_meeting,
        "onlineMeetingProvider": event.online_meeting_provider,
        "allowNewTimeProposals": event.allow_new_time_proposals,
        "isDraft": False,
        "hideAttendees": event.hide_attendees,
        "responseStatus": response_status,
        "body": body,
        "start": start,
        "end": end,
        "location": _location(event.location, primary=True),
        "locations": [_location(loc, primary=False) for loc in event.locations],
        "recurrence": _recurrence(event),
        "attendees": [
            {
                "type": a.type,
                "status": _status(attendee_answer(event, a, view), unanswered="none"),
                "emailAddress": {"name": a.name, "address": a.address},
            }
            for a in event.attendees
        ],
        "organizer": {
            "emailAddress": {"name": event.organizer_name, "address": event.organizer_address}
        },
        "onlineMeeting": {"joinUrl": event.join_url} if event.join_url else None,
    }
    if event.transaction_id is None:
        # "This property is only returned in a response payload if an app has set it."
        del full["transactionId"]
    if event.original_start is not None:
        # Occurrences and exceptions name the slot they fill in the series (resources/event).
        full["originalStart"] = format_timestamp(event.original_start)
    rendered = _narrow(full, view.select)
    if view.expand is not None:
        rendered.update(_extended(event, view.expand))
    return rendered


def _recurrence(event: StoredEvent) -> dict[str, Any] | None:
    """The master's patternedRecurrence as Graph returns it (range zone filled in)."""
    if event.recurrence is None:
        return None
    rendered = copy.deepcopy(event.recurrence)
    if not rendered["range"].get("recurrenceTimeZone"):
        rendered["range"]["recurrenceTimeZone"] = event.start_zone
    return rendered


def _narrow(full: dict[str, Any], select: tuple[str, ...] | None) -> dict[str, Any]:
    if select is None:
        return full
    keep = {"@odata.etag", "id", *select}
    return {key: value for key, value in full.items() if key in keep}


def _extended(event: StoredEvent, expand: ExtendedExpand) -> dict[str, Any]:
    if expand.ids is None:
        items = list(event.extended.items())
    else:
        found = (lookup(event.extended, wanted) for wanted in expand.ids)
        items = [item for item in found if item is not None]
    if not items:
        return {}
    return {"singleValueExtendedProperties": [{"id": k, "value": v} for k, v in items]}


# Names $select accepts (Graph answers 400 for any other property name).
EVENT_PROPERTIES = (
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "transactionId",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "iCalUId",
    "reminderMinutesBeforeStart",
    "isReminderOn",
    "hasAttachments",
    "subject",
    "bodyPreview",
    "importance",
    "sensitivity",
    "isAllDay",
    "isCancelled",
    "isOrganizer",
    "responseRequested",
    "seriesMasterId",
    "originalStart",
    "showAs",
    "type",
    "webLink",
    "onlineMeetingUrl",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "allowNewTimeProposals",
    "isDraft",
    "hideAttendees",
    "responseStatus",
    "body",
    "start",
    "end",
    "location",
    "locations",
    "recurrence",
    "attendees",
    "organizer",
    "onlineMeeting",
)
