"""Outlook against Salesforce: the end state every reliability test must reach.

`check(sandbox, tenant)` reads both sides of the sandbox (never syncd's ledger) and
lists every way they disagree:

- duplicates: an Event with more than one live Outlook meeting (found by the syncd key
  stamped on each meeting, so a second copy cannot hide);
- missing: a valid Event (owner with a mailbox, inside the sync window) with none;
- orphans: a live meeting whose Event is deleted or cannot be synced;
- mismatches: a meeting whose subject, body, start, end, location, Teams flag,
  attendees, showAs or sensitivity differ from its Event;
- write-back: an Event whose Outlook_Event_Id__c, Sync_Status__c, Sync_Error__c or
  Teams_Join_Url__c do not say what Outlook holds (Failed with a reason for an Event
  that cannot be synced);
- responses: an invitee who accepted or declined in Outlook and whose EventRelation
  Status does not say so.

The check is independent of syncd's mapping code: expectations come from the
Salesforce record, observations from the sandbox's stored calendars.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from syncd.core.event_mapping import EXTERNAL_KEY_PROPERTY_ID
from syncd.sandbox.microsoft.answers import AttendeeAnswers
from syncd.sandbox.microsoft.calendar import StoredEvent
from syncd.sandbox.microsoft.extended_props import lookup
from syncd.sandbox.microsoft.timezones import resolve_zone
from syncd.sandbox.server import RunningSandbox

TEAMS = "MS Teams"
_SHOW_AS = {"busy": "busy", "free": "free", "outofoffice": "oof"}
#: Graph's answer -> the EventRelation Status syncd writes back (Tentative has none).
_RELATION_STATUS = {"accepted": "Accepted", "declined": "Declined"}


@dataclass
class Report:
    """Every disagreement found, by kind; empty lists mean Outlook matches Salesforce."""

    events: int = 0
    valid: int = 0
    meetings: int = 0
    duplicates: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    writeback: list[str] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)

    KINDS = ("duplicates", "missing", "orphans", "mismatches", "writeback", "responses")

    @property
    def ok(self) -> bool:
        return not any(getattr(self, kind) for kind in self.KINDS)

    def counts(self) -> dict[str, int]:
        return {kind: len(getattr(self, kind)) for kind in self.KINDS}

    def summary(self, shown: int = 8) -> str:
        lines = [
            f"{self.events} Events ({self.valid} valid), {self.meetings} live meetings: "
            f"{self.counts()}"
        ]
        for kind in self.KINDS:
            items = getattr(self, kind)
            lines += [f"  {kind}: {item}" for item in items[:shown]]
            if len(items) > shown:
                lines.append(f"  {kind}: ... and {len(items) - shown} more")
        return "\n".join(lines)


def check(
    sandbox: RunningSandbox,
    tenant: str,
    *,
    days_past: int = 7,
    days_future: int = 180,
    responses: bool = True,
    removed_in_outlook: Collection[str] = (),
) -> Report:
    """Compare the tenant's Outlook calendars with its Salesforce org (see the module doc).

    `removed_in_outlook`: Events whose meeting an organizer deleted or cancelled in
    Outlook; by the tenant's policy they keep no meeting, and what they hold instead is
    checked by tests/reliability/outlook_checks.py, not here."""
    org = sandbox.org(tenant).org
    users = {u.email.lower(): u for u in sandbox.tenant(tenant).users}
    now = org.now()
    window = (now - timedelta(days=days_past), now + timedelta(days=days_future))
    report = Report()

    # Outlook: every live meeting an organizer holds, by the syncd key stamped on it.
    prefix = f"{tenant}:salesforce:"
    meetings: dict[str, list[StoredEvent]] = defaultdict(list)
    for user in users.values():
        if not user.has_mailbox:
            continue
        for event in sandbox.calendars.events(
            user.id, lambda e: e.is_organizer and not e.is_cancelled
        ):
            stamped = lookup(event.extended, EXTERNAL_KEY_PROPERTY_ID)
            key = stamped[1] if stamped else ""
            if key.startswith(prefix):
                meetings[key.removeprefix(prefix)].append(event)
                report.meetings += 1

    live_events: set[str] = set()
    for event_id in org.ids_of("Event"):
        record = org.record(event_id)
        if record.get("IsChild"):
            continue
        live_events.add(event_id)
        report.events += 1
        found = meetings.get(event_id, [])
        owner = org.record(record["OwnerId"])
        owner_user = users.get(str(owner["Email"]).lower())
        start = record["StartDateTime"]
        in_window = start is not None and window[0] <= start <= window[1]
        valid = owner_user is not None and owner_user.has_mailbox and bool(owner["IsActive"])
        if not in_window or event_id in removed_in_outlook:
            continue
        if not valid:
            if found:
                report.orphans.append(f"Event {event_id} cannot be synced but has {len(found)}")
            status, error = record.get("Sync_Status__c"), record.get("Sync_Error__c")
            if status != "Failed" or not error:
                report.writeback.append(
                    f"Event {event_id} cannot be synced: Sync_Status__c={status!r}, "
                    f"Sync_Error__c={error!r}"
                )
            continue
        report.valid += 1
        if not found:
            report.missing.append(f"Event {event_id} ({record['Subject']!r})")
            continue
        if len(found) > 1:
            report.duplicates.append(
                f"Event {event_id}: {len(found)} meetings {[e.id for e in found]}"
            )
        meeting = found[0]
        if meeting.owner_email.lower() != str(owner["Email"]).lower():
            report.mismatches.append(
                f"Event {event_id}: organized by {meeting.owner_email}, owner {owner['Email']}"
            )
        attendees = _invitee_emails(org, event_id) - {str(owner["Email"]).casefold()}
        for problem in _differences(record, meeting, attendees):
            report.mismatches.append(f"Event {event_id}: {problem}")
        report.writeback += [f"Event {event_id}: {p}" for p in _writeback(record, meeting)]
        if responses:
            report.responses += [
                f"Event {event_id}: {p}" for p in _responses(org, event_id, meeting, now)
            ]

    for event_id, found in meetings.items():
        if event_id not in live_events:
            report.orphans += [f"meeting {e.id} of deleted Event {event_id}" for e in found]
    return report


def _invitee_emails(org: Any, event_id: str) -> set[str]:
    return {
        str(org.record(row["RelationId"])["Email"]).casefold()
        for row in org.invitees(event_id)
        if row["IsInvitee"]
    }


def _differences(record: dict[str, Any], meeting: StoredEvent, attendees: set[str]) -> list[str]:
    problems = []

    def compare(name: str, outlook: object, salesforce: object) -> None:
        if outlook != salesforce:
            problems.append(f"{name} {outlook!r} in Outlook, {salesforce!r} in Salesforce")

    compare("subject", meeting.subject, record["Subject"] or "")
    compare("body", meeting.body_content, record["Description"] or "")
    compare("location", meeting.location.get("displayName") or "", record["Location"] or "")
    if record["Location"] == TEAMS:
        compare("Teams", meeting.is_online_meeting, True)
        if not meeting.join_url:
            problems.append("a Teams meeting without a join link")
    # Otherwise Outlook may still be online: Teams cannot be switched off once on
    # (https://learn.microsoft.com/graph/api/resources/event), and the write-back then
    # carries the join link Outlook shows (`_writeback`).
    compare("showAs", meeting.show_as, _SHOW_AS.get(str(record["ShowAs"] or "Busy").lower()))
    compare("sensitivity", meeting.sensitivity, "private" if record["IsPrivate"] else "normal")
    compare("attendees", sorted(a.address.casefold() for a in meeting.attendees), sorted(attendees))
    compare("all-day", meeting.is_all_day, bool(record["IsAllDayEvent"]))
    if record["IsAllDayEvent"]:
        first: date = record["ActivityDate"]
        days = max(1, int(record["DurationInMinutes"] or 1440) // 1440)
        zone = resolve_zone(meeting.start_zone)
        compare("first day", meeting.start.astimezone(zone).date(), first)
        compare("end day", meeting.end.astimezone(zone).date(), first + timedelta(days=days))
    else:
        compare("start", _utc(meeting.start), _utc(record["StartDateTime"]))
        compare("end", _utc(meeting.end), _utc(record["EndDateTime"]))
    return problems


def _writeback(record: dict[str, Any], meeting: StoredEvent) -> list[str]:
    problems = []
    expected = {
        "Outlook_Event_Id__c": meeting.id,
        "Sync_Status__c": "Synced",
        "Sync_Error__c": None,
        "Teams_Join_Url__c": meeting.join_url,
    }
    for name, value in expected.items():
        if record.get(name) != value:
            problems.append(f"{name} is {record.get(name)!r}, Outlook says {value!r}")
    return problems


def _responses(org: Any, event_id: str, meeting: StoredEvent, now: datetime) -> list[str]:
    rows = {
        str(org.record(row["RelationId"])["Email"]).casefold(): row
        for row in org.invitees(event_id)
        if row["IsInvitee"]
    }
    problems = []
    for attendee in meeting.attendees:
        row = rows.get(attendee.address.casefold())
        if row is None:
            continue
        answer = AttendeeAnswers.answer(attendee.invite, now).response
        wanted = _RELATION_STATUS.get(answer or "")
        # An answer given in Outlook must reach Salesforce; without one (or Tentative,
        # which EventRelation cannot hold) Salesforce may keep what was said there.
        if wanted is not None and row["Status"] != wanted:
            problems.append(
                f"{attendee.address} answered {answer or 'nothing'} in Outlook, "
                f"EventRelation Status is {row['Status']!r}"
            )
    return problems


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
