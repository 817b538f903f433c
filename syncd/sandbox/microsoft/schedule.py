"""getSchedule: free/busy of up to 20 users, rooms or lists over less than 62 days.

https://learn.microsoft.com/en-us/graph/api/calendar-getschedule
https://learn.microsoft.com/en-us/graph/outlook-get-free-busy-schedule (limits, error items,
UTC unless `Prefer: outlook.timezone`, availabilityView digits)
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from syncd.sandbox.microsoft.directory import DirectoryUser
from syncd.sandbox.microsoft.errors import GraphError, bad_request
from syncd.sandbox.microsoft.event_json import effective_show_as
from syncd.sandbox.microsoft.graph_types import GraphResponse, HandlerContext
from syncd.sandbox.microsoft.timezones import format_local, is_known_zone, parse_datetime_timezone

MAX_PERIOD = timedelta(days=62)
DIGITS = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4"}
# Which status wins when several items share a slot.
PRIORITY = {"oof": 4, "busy": 3, "tentative": 2, "workingElsewhere": 1, "free": 0, "unknown": 0}
WORKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]


def _request_body(ctx: HandlerContext) -> dict[str, Any]:
    if not isinstance(ctx.request.body, dict):
        raise bad_request("The getSchedule body must be a JSON object.")
    return {str(k).lower(): v for k, v in ctx.request.body.items()}


def _interval(value: Any) -> int:
    try:
        minutes = int(value)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"availabilityViewInterval '{value}' is not a number.") from exc
    if not 5 <= minutes <= 1440:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            "availabilityViewInterval must be between 5 and 1440 minutes.",
        )
    return minutes


def _window(body: dict[str, Any]) -> tuple[datetime, datetime]:
    start, _ = parse_datetime_timezone(body.get("starttime"), "startTime")
    end, _ = parse_datetime_timezone(body.get("endtime"), "endTime")
    if end <= start:
        raise GraphError(
            400,
            "ErrorInvalidTimeInterval",
            "The time duration specified for FreeBusyViewOptions.TimeWindow is invalid.",
        )
    if end - start >= MAX_PERIOD:
        days = math.ceil((end - start) / timedelta(days=1))
        raise GraphError(
            400,
            "ErrorTimeIntervalTooBig",
            "The requested time duration specified for FreeBusyViewOptions.TimeWindow is too "
            f"long. The allowed limit = 62 days; the actual limit = {days} days.",
        )
    return start, end


def get_schedule(ctx: HandlerContext) -> GraphResponse:
    body = _request_body(ctx)
    schedules = body.get("schedules")
    if not isinstance(schedules, list) or not all(isinstance(s, str) for s in schedules):
        raise bad_request("'schedules' must be a collection of SMTP addresses.")
    if len(schedules) > ctx.state.schedule_limit:
        raise GraphError(
            400,
            "ErrorMailboxDataArrayTooBig",
            "There are too many target users in the EmailAddress array. The allowed size = "
            f"{ctx.state.schedule_limit}; the actual size = {len(schedules)}.",
        )
    start, end = _window(body)
    interval = _interval(body.get("availabilityviewinterval", 30))
    zone = ctx.prefer.get("outlook.timezone")
    zone = zone if zone and is_known_zone(zone) else None
    value = [_schedule(ctx, address, start, end, interval, zone or "UTC") for address in schedules]
    headers = {"Preference-Applied": f'outlook.timezone="{zone}"'} if zone else {}
    context = (
        f"{ctx.request.base_url}/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)"
    )
    return GraphResponse(200, {"@odata.context": context, "value": value}, headers)


def _schedule(
    ctx: HandlerContext, address: str, start: datetime, end: datetime, interval: int, zone: str
) -> dict[str, Any]:
    user = ctx.state.directory.find_user(ctx.token.tenant_id, address)
    if user is None:
        # Observed answer for an address the tenant cannot resolve (external or unknown).
        return {
            "scheduleId": address,
            "error": {
                "message": f"Unable to resolve e-mail address {address} to an Active Directory "
                "object.",
                "responseCode": "5009",
            },
        }
    if not user.has_mailbox:
        return {
            "scheduleId": address,
            "error": {
                "message": "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
                "responseCode": "MailboxNotEnabledForRESTAPI",
            },
        }
    return _busy_view(ctx, user, address, start, end, interval, zone)


def _busy_view(
    ctx: HandlerContext,
    user: DirectoryUser,
    address: str,
    start: datetime,
    end: datetime,
    interval: int,
    zone: str,
) -> dict[str, Any]:
    items = [
        (event, effective_show_as(event, ctx.state.answers, ctx.now))
        for event in ctx.state.calendars.between(user.id, start, end)
        if not event.is_cancelled
    ]
    step = timedelta(minutes=interval)
    slots = math.ceil((end - start) / step)
    view = []
    for index in range(slots):
        slot_start = start + index * step
        slot_end = min(slot_start + step, end)
        statuses = [s for ev, s in items if ev.start < slot_end and ev.end > slot_start]
        top = max(statuses, key=lambda s: PRIORITY.get(s, 0), default="free")
        view.append(DIGITS.get(top, "0"))
    return {
        "scheduleId": address,
        "availabilityView": "".join(view),
        "scheduleItems": [
            {
                "isPrivate": event.sensitivity == "private",
                "status": status,
                "start": format_local(event.start, zone),
                "end": format_local(event.end, zone),
            }
            for event, status in items
        ],
        "workingHours": {
            "daysOfWeek": WORKDAYS,
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": user.time_zone},
        },
    }
