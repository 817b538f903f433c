"""Conversions between domain meetings and the ledger's JSON columns (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncd.domain import Attendee, Meeting, MeetingChanges, ResponseStatus, format_gmt, utc


def meeting_to_request(meeting: Meeting) -> dict[str, Any]:
    """The caller's view of a meeting as stored in the ledger (`request` column)."""
    request: dict[str, Any] = {
        "organizerEmail": meeting.organizer_email,
        "subject": meeting.subject,
        "body": meeting.body,
        "location": meeting.location,
        "startTime": format_gmt(meeting.start),
        "endTime": format_gmt(meeting.end),
        "isAllDay": meeting.is_all_day,
        "showAs": meeting.show_as,
        "isPrivate": meeting.is_private,
        "attendees": [{"email": a.email, "isRequired": a.required} for a in meeting.attendees],
    }
    # Only series and zoned meetings carry these, so other requests compare as before.
    if meeting.time_zone is not None:
        request["timeZone"] = meeting.time_zone
    if meeting.recurrence is not None:
        request["recurrence"] = dict(meeting.recurrence)
    return request


def _parse(value: str) -> datetime:
    return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def request_to_meeting(
    external_id: str,
    request: dict[str, Any],
    *,
    responses: dict[str, Any] | None = None,
    join_url: str | None = None,
) -> Meeting:
    """Rebuild a meeting from the ledger, with attendee responses when known."""
    responses = responses or {}
    attendees = []
    for entry in request.get("attendees", []):
        answer = responses.get(entry["email"].casefold()) or {}
        if entry["email"].casefold() == request["organizerEmail"].casefold():
            answer = {"response": ResponseStatus.ORGANIZER.value}
        answered_at = answer.get("time")
        attendees.append(
            Attendee(
                email=entry["email"],
                required=bool(entry["isRequired"]),
                response=ResponseStatus(answer.get("response", ResponseStatus.NO_RESPONSE)),
                responded_at=_parse(answered_at) if answered_at else None,
            )
        )
    return Meeting(
        external_id=external_id,
        organizer_email=request["organizerEmail"],
        subject=request["subject"],
        body=request["body"],
        location=request["location"],
        start=_parse(request["startTime"]),
        end=_parse(request["endTime"]),
        attendees=tuple(attendees),
        is_all_day=bool(request.get("isAllDay", False)),
        show_as=request.get("showAs", "busy"),
        is_private=bool(request.get("isPrivate", False)),
        join_url=join_url,
        time_zone=request.get("timeZone"),
        recurrence=request.get("recurrence"),
    )


def apply_changes(meeting: Meeting, changes: MeetingChanges) -> Meeting:
    """A PATCH: omitted fields keep their values; attendees replace the list."""
    from dataclasses import replace

    updates: dict[str, Any] = {
        name: getattr(changes, name)
        for name in ("subject", "body", "location", "start", "end", "attendees")
        if getattr(changes, name) is not None
    }
    return replace(meeting, **updates)
