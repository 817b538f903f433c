"""What MemoryGraph keeps and how it reads and writes Graph's time values (see graph.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from syncd.core.recurrence_mapping import zone_info
from syncd.domain import ErrorCode, SyncdError, utc
from syncd.graph.batch import GraphResponse
from tests.fakes import recurrence as rr
from tests.fakes.faults import snapshot

NULL_TIME = "0001-01-01T00:00:00Z"
#: Fields a PATCH on an occurrence may override (the rest belong to the series).
INSTANCE_FIELDS = ("subject", "body", "location", "start", "end", "showAs", "sensitivity")
INSTANCE_MARK = "_OCC"
STAMP = "%Y%m%dT%H%M%SZ"
_DIGITS = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4"}
_PRIORITY = {"oof": 4, "busy": 3, "tentative": 2, "workingElsewhere": 1}


def graph_instant(value: datetime) -> str:
    """A DateTimeOffset as Graph writes it: UTC, 7 fractional digits, trailing Z."""
    instant = value.astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S") + f".{instant.microsecond:06d}0Z"


def utc_time(value: datetime) -> dict[str, str]:
    """A dateTimeTimeZone in UTC, as Graph renders it."""
    instant = value.astimezone(UTC)
    return {"dateTime": instant.strftime("%Y-%m-%dT%H:%M:%S") + ".0000000", "timeZone": "UTC"}


def parse_time(value: Any, what: str) -> tuple[datetime, str]:
    """(aware UTC instant, zone name) of a dateTimeTimeZone; INVALID_REQUEST when unreadable."""
    if not isinstance(value, dict) or not value.get("dateTime"):
        raise SyncdError(ErrorCode.INVALID_REQUEST, f"Graph needs {what} as a dateTimeTimeZone")
    zone_name = str(value.get("timeZone") or "UTC")
    zone = zone_info(zone_name)
    if zone is None:
        raise SyncdError(
            ErrorCode.INVALID_REQUEST,
            f"Graph refused the time zone {zone_name!r} of {what} (TimeZoneNotSupportedException)",
        )
    local = datetime.fromisoformat(str(value["dateTime"])[:26].rstrip("Z"))
    return utc(local.replace(tzinfo=zone) if local.tzinfo is None else local), zone_name


@dataclass
class StoredEvent:
    id: str
    mailbox: str
    start: datetime
    end: datetime
    zone: str
    created: datetime
    change_key: str
    fields: dict[str, Any]  # the Graph properties as sent, less the ones kept apart
    attendees: list[dict[str, Any]] = field(default_factory=list)
    transaction_id: str | None = None
    extended: dict[str, tuple[str, str]] = field(default_factory=dict)  # lower id -> (id, v)
    modified: datetime | None = None
    exceptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)


@dataclass
class Mailbox:
    address: str
    time_zone: str = "Pacific Standard Time"
    has_mailbox: bool = True


def narrow(event: dict[str, Any], select: Sequence[str] | None) -> dict[str, Any]:
    if not select:
        return event
    return {k: v for k, v in event.items() if k == "id" or k in select}


def split_instance_id(event_id: str) -> tuple[str, str | None]:
    """(master id, original start stamp) of an occurrence id; (id, None) for any other."""
    body = event_id.removesuffix("AAA=")
    head, mark, stamp = body.rpartition(INSTANCE_MARK)
    if not mark or len(stamp) != 16:
        return event_id, None
    return head + "AAA=", stamp


def check_times(start: datetime, end: datetime) -> None:
    if end < start:
        raise SyncdError(
            ErrorCode.INVALID_REQUEST, "The end of the event must not be before its start."
        )


def check_pattern(recurrence: Any) -> None:
    try:
        rr.check(recurrence)
    except ValueError as error:
        raise SyncdError(ErrorCode.INVALID_REQUEST, str(error)) from None


def schedule_information(
    address: str, events: Sequence[dict[str, Any]], start: datetime, end: datetime, interval: int
) -> dict[str, Any]:
    """getSchedule's scheduleInformation for a calendar's rendered events in [start, end)
    (https://learn.microsoft.com/graph/api/calendar-getschedule): items that are not
    free, and one availabilityView digit per interval, the strongest status winning."""
    items = [
        (e, str(e.get("showAs") or "busy"))
        for e in events
        if str(e.get("showAs") or "busy") != "free"
    ]
    view, step, cursor = [], timedelta(minutes=interval), start
    while cursor < end:
        slot_end = min(cursor + step, end)
        statuses = [
            s
            for e, s in items
            if parse_time(e["start"], "start")[0] < slot_end
            and parse_time(e["end"], "end")[0] > cursor
        ]
        top = max(statuses, key=lambda s: _PRIORITY.get(s, 0), default="free")
        view.append(_DIGITS.get(top, "0"))
        cursor = slot_end
    return {
        "scheduleId": address,
        "availabilityView": "".join(view),
        "scheduleItems": [
            {
                "isPrivate": e.get("sensitivity") == "private",
                "status": s,
                "start": e["start"],
                "end": e["end"],
            }
            for e, s in items
        ],
        "workingHours": {},
    }


def no_schedule(address: str, known_user: bool) -> dict[str, Any]:
    """The error item of an address without a calendar (sandbox's observed answers)."""
    code = "MailboxNotEnabledForRESTAPI" if known_user else "5009"
    return {
        "scheduleId": address,
        "error": {"message": f"no calendar for {address}", "responseCode": code},
    }


@dataclass(frozen=True)
class Occurrence:
    """One instance of a series: its original start, its (maybe moved) times, its JSON."""

    original: datetime
    start: datetime
    end: datetime
    rendered: dict[str, Any]


def expand(master: StoredEvent, horizon: date, rendered: dict[str, Any]) -> list[Occurrence]:
    """The occurrences of `master` up to `horizon` (original dates), exceptions applied and
    cancelled ones left out; `rendered` is the master's JSON each instance starts from."""
    if not master.fields.get("recurrence"):
        return []
    first = master.start.astimezone(zone_info(master.zone))
    found = []
    for local in rr.local_starts(first, master.fields["recurrence"], horizon):
        original = local.astimezone(UTC)
        stamp = original.strftime(STAMP)
        if stamp in master.cancelled:
            continue
        overrides = master.exceptions.get(stamp, {})
        start = overrides.get("start", original)
        end = overrides.get("end", original + (master.end - master.start))
        instance = snapshot(rendered)
        instance.update({k: snapshot(v) for k, v in overrides.items()})
        instance.update(
            id=f"{master.id.removesuffix('AAA=')}{INSTANCE_MARK}{stamp}AAA=",
            type="exception" if overrides else "occurrence",
            seriesMasterId=master.id,
            originalStart=graph_instant(original),
            start=utc_time(start),
            end=utc_time(end),
            recurrence=None,
        )
        found.append(Occurrence(original, start, end, instance))
    return found


def missing_answer(error: SyncdError) -> GraphResponse:
    """A $batch item's 404 with the code Graph uses (errors: ErrorItemNotFound for an
    event, ResourceNotFound for a mailbox), so the client's mapping reads it the same."""
    code = "ErrorItemNotFound" if error.code is ErrorCode.MEETING_NOT_FOUND else "ResourceNotFound"
    return GraphResponse(404, {"error": {"code": code, "message": error.message}}, {})


def render(event: StoredEvent, organizer: str, *, extended: bool = False) -> dict[str, Any]:
    """An event as Graph renders it (times in UTC); `organizer`: its mailbox's address."""
    out = snapshot(event.fields)
    if out.get("recurrence"):
        out["recurrence"]["range"].setdefault("recurrenceTimeZone", event.zone)
    online = bool(out.get("isOnlineMeeting"))
    out.update(
        id=event.id,
        changeKey=event.change_key,
        createdDateTime=graph_instant(event.created),
        lastModifiedDateTime=graph_instant(event.modified or event.created),
        start=utc_time(event.start),
        end=utc_time(event.end),
        originalStartTimeZone=event.zone,
        attendees=snapshot(event.attendees),
        isCancelled=False,
        isOrganizer=True,
        organizer={"emailAddress": {"address": organizer}},
        type="seriesMaster" if out.get("recurrence") else "singleInstance",
        seriesMasterId=None,
        onlineMeeting=(
            {"joinUrl": f"https://teams.microsoft.com/l/meetup-join/{event.id}"}
            if online and out.get("onlineMeetingProvider") == "teamsForBusiness"
            else None
        ),
    )
    out.setdefault("recurrence", None)
    if event.transaction_id:
        out["transactionId"] = event.transaction_id
    if extended and event.extended:
        out["singleValueExtendedProperties"] = [
            {"id": pid, "value": value} for pid, value in event.extended.values()
        ]
    return out
