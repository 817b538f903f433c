"""All-day meetings changed in Outlook (pure): the days Outlook shows become the Event's
all-day fields, and the Event written maps back to exactly what Outlook holds (no echo),
in zones east and west of UTC and across daylight-saving changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from syncd import timezones
from syncd.core import event_mapping as em
from syncd.domain import Attendee, Meeting
from syncd.sync.outlook_classify import ChangeKind, Tracked, classify
from syncd.sync.outlook_policy import Move, SalesforceSide, decide
from syncd.sync.salesforce_event import parse_event, to_meeting
from tests.support import suite_now

ORGANIZER = "olivia@contoso.example"
GUEST = "carl@contoso.example"
BERLIN = "Europe/Berlin"
#: Days that hold a daylight-saving change (EU: 2027-03-28, 2027-10-31; US: 2027-03-14;
#: New Zealand: 2027-04-04) and the suite's own day.
DAYS = (date(2027, 3, 28), date(2027, 10, 31), date(2027, 3, 14), date(2027, 4, 4))
ZONES = (BERLIN, "America/Los_Angeles", "Pacific/Auckland", "UTC")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def all_day(first: date, days: int, zone: str | None = BERLIN) -> Meeting:
    """An all-day meeting as syncd keeps it (midnight UTC of its days, end exclusive)."""
    return Meeting(
        external_id="00U1",
        organizer_email=ORGANIZER,
        subject="Offsite",
        body="Agenda",
        location="Lodge",
        start=_midnight(first),
        end=_midnight(first + timedelta(days=days)),
        attendees=(Attendee(GUEST),),
        is_all_day=True,
        time_zone=zone,
    )


def timed(start: datetime, minutes: int = 60) -> Meeting:
    return Meeting(
        external_id="00U1",
        organizer_email=ORGANIZER,
        subject="Offsite",
        body="Agenda",
        location="Lodge",
        start=start,
        end=start + timedelta(minutes=minutes),
        attendees=(Attendee(GUEST),),
    )


def tracked(meeting: Meeting) -> Tracked:
    sent = em.event_content(meeting, teams_keyword="MS Teams")
    return Tracked("00U1", sent, {GUEST: {"response": "NoResponseReceived", "time": None}})


def _utc(instant: datetime) -> dict[str, str]:
    text = instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000")
    return {"dateTime": text, "timeZone": "UTC"}


def outlook(meeting: Meeting, **changes: Any) -> dict[str, Any]:
    """The meeting as calendarView delta renders it: times in UTC (Prefer:
    outlook.timezone="UTC"), the zone it was made in as originalStartTimeZone."""
    event = dict(em.event_content(meeting, teams_keyword="MS Teams"))
    event.update(
        id="AAMk1",
        changeKey="ck2",
        lastModifiedDateTime="2027-01-01T10:00:00Z",
        start=_utc(em.parse_graph_time(event["start"]) or meeting.start),
        end=_utc(em.parse_graph_time(event["end"]) or meeting.end),
        originalStartTimeZone=timezones.windows_name(meeting.time_zone or "UTC"),
        attendees=[{"emailAddress": {"address": GUEST}, "type": "required"}],
        isCancelled=False,
    )
    event.update(changes)
    return event


def outlook_days(first: date, days: int, zone: str, **changes: Any) -> dict[str, Any]:
    """An all-day event on `days` days from `first`, midnight to midnight in `zone`."""
    info = ZoneInfo(zone)
    bounds = (
        datetime.combine(first, time(0), tzinfo=info),
        datetime.combine(first + timedelta(days=days), time(0), tzinfo=info),
    )
    values = {"originalStartTimeZone": timezones.windows_name(zone), **changes}
    return outlook(all_day(first, days, zone), start=_utc(bounds[0]), end=_utc(bounds[1]), **values)


def salesforce_row(fields: dict[str, Any]) -> dict[str, Any]:
    """The Event as a query returns it after the write (what Salesforce derives filled in
    as the sandbox org's event rules do)."""
    row = {
        "Id": "00U1",
        "OwnerId": "005A",
        "Owner": {"Email": ORGANIZER, "IsActive": True},
        "Subject": "Offsite",
        "Description": "Agenda",
        "Location": "Lodge",
        "ShowAs": "Busy",
        **fields,
    }
    return row


def maps_back(fields: dict[str, Any], zone: str | None) -> Meeting:
    """The meeting the planner makes of the Event after the write."""
    event = parse_event(
        salesforce_row(fields),
        [{"Id": "0RE1", "RelationId": "003G", "Relation": {"Email": GUEST}}],
    )
    mapped = to_meeting(event, in_org=lambda _: True, teams_keyword="MS Teams")
    assert isinstance(mapped, Meeting), mapped
    if mapped.is_all_day:
        mapped = replace(mapped, time_zone=zone)
    return mapped


# ---------------------------------------------------------------------- classify


def test_an_all_day_meeting_unmoved_is_no_change_in_any_zone() -> None:
    for zone in ZONES:
        for day in (*DAYS, suite_now().date()):
            assert classify(tracked(all_day(day, 3, zone)), outlook_days(day, 3, zone)) is None


def test_an_all_day_move_is_classified_as_its_days() -> None:
    first = date(2027, 3, 26)
    moved = outlook_days(first + timedelta(days=2), 2, BERLIN)
    change = classify(tracked(all_day(first, 2)), moved)

    assert change is not None and change.kinds == {ChangeKind.MOVED}
    assert change.values == {
        "start": _midnight(date(2027, 3, 28)),
        "end": _midnight(date(2027, 3, 30)),
        "isAllDay": True,
    }
    assert change.fields == {
        "start": ["2027-03-26", "2027-03-28"],
        "end": ["2027-03-28", "2027-03-30"],
    }


def test_the_days_are_read_in_the_zone_syncd_wrote_when_outlook_names_none() -> None:
    first = date(2027, 10, 30)
    moved = outlook_days(first + timedelta(days=1), 1, BERLIN, originalStartTimeZone=None)
    change = classify(tracked(all_day(first, 1)), moved)
    assert change is not None
    assert (change.values["start"], change.values["end"]) == (
        _midnight(date(2027, 10, 31)),
        _midnight(date(2027, 11, 1)),
    )


# ------------------------------------------------------------------------ policy


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("days", [1, 3])
@pytest.mark.parametrize("day", [*DAYS, suite_now().date()])
def test_two_way_writes_the_days_and_the_event_maps_back_to_outlook(
    zone: str, days: int, day: date
) -> None:
    before = all_day(day - timedelta(days=5), days, zone)
    held = outlook_days(day, days, zone)
    change = classify(tracked(before), held)
    assert change is not None

    decision = decide(change, policy="two_way", all_day=True)

    last = day + timedelta(days=days - 1)
    assert decision.move is Move.FOLLOW and decision.status == "Synced"
    assert decision.event_fields == {
        "IsAllDayEvent": True,
        "ActivityDate": day.isoformat(),
        "StartDateTime": f"{day.isoformat()}T00:00:00Z",
        "EndDateTime": f"{last.isoformat()}T00:00:00Z",
        "DurationInMinutes": days * 1440,
    }
    # The Event as written maps to the meeting Outlook holds: no PATCH back, no new change.
    mapped = maps_back(decision.event_fields, zone)
    assert (mapped.start, mapped.end) == (decision.values["start"], decision.values["end"])
    assert classify(tracked(mapped), held) is None


def test_a_meeting_switched_to_all_day_writes_the_all_day_fields() -> None:
    start = datetime(2027, 3, 28, 9, 0, tzinfo=UTC)
    switched = outlook_days(date(2027, 3, 28), 2, BERLIN)
    change = classify(tracked(timed(start)), switched)
    assert change is not None and change.values["isAllDay"] is True

    decision = decide(change, policy="two_way", all_day=False)

    assert decision.event_fields == {
        "IsAllDayEvent": True,
        "ActivityDate": "2027-03-28",
        "StartDateTime": "2027-03-28T00:00:00Z",
        "EndDateTime": "2027-03-29T00:00:00Z",
        "DurationInMinutes": 2880,
    }
    assert classify(tracked(maps_back(decision.event_fields, BERLIN)), switched) is None


def test_an_all_day_meeting_switched_to_timed_writes_its_times() -> None:
    before = all_day(date(2027, 10, 31), 1)
    start = datetime(2027, 10, 31, 8, 30, tzinfo=UTC)
    switched = outlook(
        before,
        isAllDay=False,
        start=_utc(start),
        end=_utc(start + timedelta(minutes=45)),
    )
    change = classify(tracked(before), switched)
    assert change is not None

    decision = decide(change, policy="two_way", all_day=True)

    assert decision.event_fields == {
        "IsAllDayEvent": False,
        "StartDateTime": "2027-10-31T08:30:00Z",
        "EndDateTime": "2027-10-31T09:15:00Z",
        "DurationInMinutes": 45,
    }
    mapped = maps_back({**decision.event_fields, "ActivityDate": None}, None)
    assert classify(tracked(mapped), switched) is None


def test_an_occurrence_switched_to_all_day_is_recorded_only() -> None:
    switched = outlook_days(date(2027, 3, 28), 1, BERLIN)
    change = classify(tracked(timed(datetime(2027, 3, 28, 9, 0, tzinfo=UTC))), switched)
    assert change is not None

    decision = decide(change, policy="two_way", all_day=False, occurrence=True)

    assert decision.move is Move.RECORD and decision.event_fields == {}
    assert decision.status == "Outlook differs" and "occurrence" in (decision.error or "")


def test_an_all_day_meeting_longer_than_salesforce_allows_is_recorded_only() -> None:
    first = date(2027, 3, 1)
    change = classify(tracked(all_day(first, 3)), outlook_days(first, 15, BERLIN))
    assert change is not None

    decision = decide(change, policy="two_way", all_day=True)

    assert decision.move is Move.RECORD and decision.event_fields == {}
    assert "15 days" in (decision.error or "") and "14" in (decision.error or "")


def test_salesforce_wins_puts_an_all_day_move_back() -> None:
    first = date(2027, 3, 26)
    moved = outlook_days(first + timedelta(days=1), 2, BERLIN)
    change = classify(tracked(all_day(first, 2)), moved)
    assert change is not None

    decision = decide(change, policy="salesforce_wins", all_day=True)

    assert decision.move is Move.RESTORE and decision.event_fields == {}
    assert decision.status is None


def test_an_event_already_holding_the_days_is_written_once_only() -> None:
    # The Event took the days (syncd's own write, whose run ended before the ledger
    # followed): its values agree with Outlook's, so nothing is in conflict or written.
    first = date(2027, 3, 26)
    change = classify(tracked(all_day(first, 2)), outlook_days(date(2027, 3, 28), 2, BERLIN))
    assert change is not None
    side = SalesforceSide(
        True,
        datetime(2027, 1, 1, 10, 5, tzinfo=UTC),
        {"start": "2027-03-28T00:00:00Z", "end": "2027-03-30T00:00:00Z", "isAllDay": True},
    )

    decision = decide(change, policy="two_way", all_day=True, salesforce=side)

    assert decision.move is Move.FOLLOW and decision.winner is None
    assert decision.event_fields == {} and decision.base == "salesforce"
