"""Salesforce Event records -> meetings (pure): parse, validate, explain.

A record that cannot become a meeting yields an `Invalid` with a reason a
Salesforce admin can act on; nothing here raises for bad data.
Event fields: https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_event.htm
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from syncd.domain import Attendee, Meeting
from syncd.salesforce.org_shape import OPTIONAL_EVENT_FIELDS
from syncd.sync.series_fields import SERIES_FIELDS

#: The row fields kept in SalesforceEvent.series: the recurrence fields plus the
#: Lightning series link (GroupEventType, ActivityRecurrence2Id) when the org has them.
_SERIES_ROW_FIELDS = (*SERIES_FIELDS, *OPTIONAL_EVENT_FIELDS)

#: Salesforce allows multi-day events of up to 14 days.
MAX_EVENT_SPAN = timedelta(days=14)
#: Outlook limits: body size we accept before refusing (Graph's own limit is larger,
#: but a description this big is a data problem worth reporting).
MAX_BODY_CHARS = 32_000
MAX_SUBJECT_CHARS = 255

# ShowAs values:
# https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_event.htm
_SHOW_AS = {"busy": "busy", "outofoffice": "oof", "free": "free"}
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: Addresses whose form is remembered (`valid_email`): the same invitees and owners
#: recur on thousands of Events; a bound keeps a huge org from holding every address.
EMAIL_CACHE_SIZE = 65_536
#: A value quoted in a reason is cut to this length (Sync_Error__c keeps 255 characters).
SHOWN_MAX_CHARS = 80


@dataclass(frozen=True)
class Invitee:
    """One EventRelation of an event: who is invited and what they answered."""

    relation_row_id: str
    relation_id: str
    relation_type: str
    email: str | None
    status: str | None = None


@dataclass(frozen=True)
class SalesforceEvent:
    """A parent Event as read from Salesforce, with its invitees."""

    id: str
    owner_id: str | None
    owner_email: str | None
    owner_active: bool
    subject: str
    description: str
    location: str
    start: datetime | None
    end: datetime | None
    is_all_day: bool
    activity_date: date | None
    duration_minutes: int | None
    show_as: str | None
    is_private: bool
    system_modstamp: datetime | None
    invitees: tuple[Invitee, ...] = ()
    graph_event_id: str | None = None
    #: False when the query returned no Owner for an OwnerId (the User cannot be read).
    owner_found: bool = True
    #: The recurrence fields of the row (series_fields.SERIES_FIELDS, GroupEventType,
    #: ActivityRecurrence2Id) that are set.
    series: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Invalid:
    """Why a record cannot be synced."""

    salesforce_id: str
    reason: str


@lru_cache(maxsize=EMAIL_CACHE_SIZE)
def valid_email(address: str) -> bool:
    """Whether `address` has the form of an e-mail address (a pure test of the string, so
    remembering the answer can never go stale)."""
    return _EMAIL.match(address) is not None


def parse_datetime(value: str | None) -> datetime | None:
    """Salesforce wire datetimes: 2013-05-20T20:49:32.000+0000 (UTC)."""
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _relation_email(relation: Mapping[str, Any] | None) -> tuple[str, str | None]:
    if not relation:
        return ("", None)
    kind = str((relation.get("attributes") or {}).get("type", ""))
    email = relation.get("Email")
    return (kind, str(email).strip() if email else None)


def parse_invitees(rows: Iterable[Mapping[str, Any]]) -> tuple[Invitee, ...]:
    """EventRelation rows (with `TYPEOF Relation ... Email`) -> invitees.

    A row without IsInvitee (an org without Shared Activities has no such field) is an
    invitee: there "EventRelation records only represent invitees"
    (https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_eventrelation.htm).
    """
    invitees = []
    for row in rows:
        if row.get("IsInvitee") is False:
            continue
        kind, email = _relation_email(row.get("Relation"))
        invitees.append(
            Invitee(
                relation_row_id=str(row["Id"]),
                relation_id=str(row.get("RelationId") or ""),
                relation_type=kind,
                email=email,
                status=row.get("Status"),
            )
        )
    return tuple(invitees)


def parse_event(
    row: Mapping[str, Any],
    relations: Iterable[Mapping[str, Any]] = (),
    *,
    outlook_id_field: str | None = None,
) -> SalesforceEvent:
    """A raw query row (with Owner relationship fields) -> SalesforceEvent."""
    owner = row.get("Owner") or {}
    activity_date = row.get("ActivityDate")
    return SalesforceEvent(
        id=str(row["Id"]),
        owner_id=row.get("OwnerId"),
        owner_email=(str(owner["Email"]).strip() if owner.get("Email") else None),
        owner_active=bool(owner.get("IsActive", True)),
        subject=str(row.get("Subject") or ""),
        description=str(row.get("Description") or ""),
        location=str(row.get("Location") or ""),
        start=parse_datetime(row.get("StartDateTime")),
        end=parse_datetime(row.get("EndDateTime")),
        is_all_day=bool(row.get("IsAllDayEvent")),
        activity_date=date.fromisoformat(activity_date) if activity_date else None,
        duration_minutes=row.get("DurationInMinutes"),
        show_as=row.get("ShowAs"),
        is_private=bool(row.get("IsPrivate")),
        system_modstamp=parse_datetime(row.get("SystemModstamp")),
        invitees=parse_invitees(relations),
        graph_event_id=row.get(outlook_id_field) if outlook_id_field else None,
        owner_found=bool(row.get("Owner")),
        series={k: row[k] for k in _SERIES_ROW_FIELDS if row.get(k) not in (None, False, "")},
    )


def shown(value: str) -> str:
    """A Salesforce value as a reason quotes it.

    Reasons go into log lines and into Sync_Error__c, so control characters are
    escaped (a raw line break in an address would forge a log line) and a long
    value is shortened (the whole reason must fit the 255 characters written back).
    """
    text = _UNPRINTABLE.sub(lambda match: repr(match.group())[1:-1], value)
    if len(text) > SHOWN_MAX_CHARS:
        head, tail = 60, SHOWN_MAX_CHARS - 61  # 60 + "…" + 19 characters
        text = f"{text[:head]}…{text[-tail:]}"
    return text


def _span(event: SalesforceEvent) -> tuple[datetime, datetime] | str:
    if event.is_all_day:
        # All-day events: ActivityDate plus DurationInMinutes (whole days).
        if event.activity_date is None:
            return "all-day event has no ActivityDate"
        days = max(1, (event.duration_minutes or 1440) // 1440)
        start = datetime.combine(event.activity_date, datetime.min.time(), tzinfo=UTC)
        return (start, start + timedelta(days=days))
    if event.start is None or event.end is None:
        return "StartDateTime and EndDateTime are required"
    return (event.start, event.end)


def _check_text(name: str, value: str, limit: int) -> str | None:
    if _CONTROL.search(value):
        return f"{name} contains control characters; remove them in Salesforce"
    if len(value) > limit:
        return f"{name} is {len(value)} characters long; at most {limit} can be synced"
    return None


def _attendees(event: SalesforceEvent, organizer: str) -> tuple[Attendee, ...] | str:
    seen: set[str] = set()
    attendees = []
    for invitee in event.invitees:
        if not invitee.email:
            return (
                f"invitee {invitee.relation_id} ({invitee.relation_type or 'unknown type'}) "
                "has no e-mail address"
            )
        if not valid_email(invitee.email) or len(invitee.email) > 320:
            return (
                f"invitee {invitee.relation_id} has an invalid e-mail address "
                f"'{shown(invitee.email)}'"
            )
        key = invitee.email.casefold()
        if key == organizer.casefold() or key in seen:
            continue  # the organizer is never an attendee; duplicates are merged
        seen.add(key)
        attendees.append(Attendee(invitee.email, required=True))
    return tuple(attendees)


def to_meeting(event: SalesforceEvent, *, in_org: Any, teams_keyword: str) -> Meeting | Invalid:
    """Map a parent Event to a meeting, or explain why it cannot be synced.

    `in_org(email) -> bool` says whether an address belongs to the tenant.
    """
    del teams_keyword  # the location keyword is applied by the core's event mapping
    organizer = event.owner_email
    if not organizer and event.owner_id and not event.owner_found:
        # Without this the reason would say "no e-mail address" and send the admin
        # looking at a User record that is not there.
        return Invalid(
            event.id,
            f"the event's owner {shown(event.owner_id)} cannot be read in Salesforce "
            "(deleted, or not visible to syncd's integration user); "
            "assign the event to an active in-org user",
        )
    if not organizer:
        return Invalid(event.id, "the event's owner has no e-mail address")
    if not valid_email(organizer):
        return Invalid(event.id, f"the owner's e-mail address '{shown(organizer)}' is invalid")
    if not in_org(organizer):
        return Invalid(
            event.id,
            f"the owner {shown(organizer)} is not in the organization's mail domains; "
            "only in-org users can organize Outlook meetings",
        )
    if not event.owner_active:
        return Invalid(event.id, f"the owner {shown(organizer)} is an inactive Salesforce user")
    span = _span(event)
    if isinstance(span, str):
        return Invalid(event.id, span)
    start, end = span
    if end <= start:
        return Invalid(event.id, "EndDateTime is not after StartDateTime")
    if end - start > MAX_EVENT_SPAN:
        return Invalid(event.id, "the event lasts more than 14 days, which Salesforce forbids")
    for name, value, limit in (
        ("Subject", event.subject, MAX_SUBJECT_CHARS),
        ("Description", event.description, MAX_BODY_CHARS),
        ("Location", event.location, MAX_SUBJECT_CHARS),
    ):
        problem = _check_text(name, value, limit)
        if problem:
            return Invalid(event.id, problem)
    attendees = _attendees(event, organizer)
    if isinstance(attendees, str):
        return Invalid(event.id, attendees)
    return Meeting(
        external_id=event.id,
        organizer_email=organizer,
        subject=event.subject,
        body=event.description,
        location=event.location,
        start=start,
        end=end,
        attendees=attendees,
        is_all_day=event.is_all_day,
        show_as=_SHOW_AS.get((event.show_as or "Busy").casefold(), "busy"),
        is_private=event.is_private,
    )
