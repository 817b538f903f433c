"""The pure planner and Salesforce record mapping."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.core import event_mapping as em
from syncd.domain import Meeting
from syncd.sync.plan import Action, LedgerView, PlanContext, plan_changes, plan_full_resync
from syncd.sync.salesforce_event import (
    Invalid,
    Invitee,
    SalesforceEvent,
    parse_datetime,
    parse_event,
    to_meeting,
)

NOW = datetime(2031, 1, 1, tzinfo=UTC)
CTX = PlanContext(
    in_org=lambda e: e.lower().endswith("@contoso.example"),
    teams_keyword="MS Teams",
    window_start=NOW - timedelta(days=7),
    window_end=NOW + timedelta(days=180),
    now=NOW,
)


def event(**overrides: object) -> SalesforceEvent:
    fields: dict[str, object] = {
        "id": "00U000000000001AAA",
        "owner_id": "005000000000001AAA",
        "owner_email": "ada@contoso.example",
        "owner_active": True,
        "subject": "Demo",
        "description": "Agenda",
        "location": "Room 1",
        "start": NOW + timedelta(days=1),
        "end": NOW + timedelta(days=1, hours=1),
        "is_all_day": False,
        "activity_date": None,
        "duration_minutes": 60,
        "show_as": "Busy",
        "is_private": False,
        "system_modstamp": NOW,
        "invitees": (Invitee("0RE1", "0031", "Contact", "client@fabrikam.example"),),
    }
    fields.update(overrides)
    return SalesforceEvent(**fields)  # type: ignore[arg-type]


def synced_row(ev: SalesforceEvent) -> LedgerView:
    meeting = to_meeting(ev, in_org=CTX.in_org, teams_keyword="MS Teams")
    assert isinstance(meeting, Meeting)
    content = em.event_content(meeting, teams_keyword="MS Teams")
    return LedgerView(
        ev.id, "synced", em.content_hash(content), meeting.organizer_email, meeting.start
    )


def test_parse_event_reads_the_wire_format() -> None:
    row = {
        "Id": "00U1",
        "OwnerId": "0051",
        "Owner": {"Email": "ada@contoso.example"},
        "Subject": "S",
        "StartDateTime": "2031-01-02T10:00:00.000+0000",
        "EndDateTime": "2031-01-02T11:00:00.000+0000",
        "IsAllDayEvent": False,
        "ShowAs": "OutOfOffice",
        "IsPrivate": True,
    }
    relations = [
        {
            "Id": "0RE1",
            "RelationId": "0031",
            "IsInvitee": True,
            "Relation": {"attributes": {"type": "Contact"}, "Email": "c@x.example"},
        }
    ]
    parsed = parse_event(row, relations)
    assert parsed.start == datetime(2031, 1, 2, 10, tzinfo=UTC)
    meeting = to_meeting(parsed, in_org=CTX.in_org, teams_keyword="MS Teams")
    assert isinstance(meeting, Meeting)
    assert meeting.show_as == "oof" and meeting.is_private
    assert [a.email for a in meeting.attendees] == ["c@x.example"]


def test_parse_datetime_forms() -> None:
    expected = datetime(2013, 5, 20, 20, 49, 32, tzinfo=UTC)
    assert parse_datetime("2013-05-20T20:49:32.000+0000") == expected
    assert parse_datetime("2013-05-20T20:49:32Z") == expected
    assert parse_datetime(None) is None


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"owner_email": None}, "no e-mail"),
        ({"owner_email": "ada@gmail.example"}, "not in the organization"),
        ({"owner_active": False}, "inactive"),
        ({"end": NOW + timedelta(days=1)}, "not after"),
        ({"end": NOW + timedelta(days=16)}, "14 days"),
        ({"subject": "bad\x07bell"}, "control characters"),
        ({"description": "x" * 40_000}, "characters long"),
        ({"invitees": (Invitee("0RE1", "0031", "Contact", "not-an-address"),)}, "invalid e-mail"),
        ({"invitees": (Invitee("0RE1", "0031", "Contact", None),)}, "no e-mail address"),
        ({"is_all_day": True, "activity_date": None}, "ActivityDate"),
    ],
)
def test_invalid_records_get_a_reason(overrides: dict[str, object], reason: str) -> None:
    result = to_meeting(event(**overrides), in_org=CTX.in_org, teams_keyword="MS Teams")
    assert isinstance(result, Invalid)
    assert reason in result.reason


def test_organizer_and_duplicates_are_not_attendees() -> None:
    invitees = (
        Invitee("0RE1", "0051", "User", "ada@contoso.example"),
        Invitee("0RE2", "0031", "Contact", "c@x.example"),
        Invitee("0RE3", "00Q1", "Lead", "C@X.example"),
    )
    meeting = to_meeting(event(invitees=invitees), in_org=CTX.in_org, teams_keyword="MS Teams")
    assert isinstance(meeting, Meeting)
    assert [a.email for a in meeting.attendees] == ["c@x.example"]


def test_plan_create_skip_update_cancel() -> None:
    new, same, changed = event(id="A"), event(id="B"), event(id="C")
    ledger = {
        "B": synced_row(same),
        "C": synced_row(changed),
        "D": LedgerView("D", "synced", "h", "ada@contoso.example", NOW),
    }
    plan = plan_changes([new, same, replace(changed, subject="New")], ["D", "E"], ledger, CTX)
    assert [(s.salesforce_id, s.action) for s in plan.steps] == [
        ("A", Action.CREATE),
        ("B", Action.SKIP),
        ("C", Action.UPDATE),
        ("D", Action.CANCEL),
    ]
    assert plan.counts()["cancel"] == 1


def test_failed_row_waits_for_its_retry_time_unless_changed() -> None:
    ev = event(id="F")
    row = replace(synced_row(ev), status="failed", next_attempt_at=NOW + timedelta(minutes=5))
    assert plan_changes([ev], [], {"F": row}, CTX).steps[0].action == Action.SKIP
    moved = replace(ev, subject="Changed")
    assert plan_changes([moved], [], {"F": row}, CTX).steps[0].action == Action.UPDATE
    due = replace(row, next_attempt_at=NOW - timedelta(seconds=1))
    assert plan_changes([ev], [], {"F": due}, CTX).steps[0].action == Action.UPDATE


def test_full_resync_cancels_meetings_missing_from_salesforce() -> None:
    kept = event(id="K")
    ledger = {
        "K": synced_row(kept),
        "GONE": LedgerView("GONE", "synced", "h", "ada@contoso.example", NOW + timedelta(days=2)),
        "OLD": LedgerView("OLD", "synced", "h", "ada@contoso.example", NOW - timedelta(days=90)),
    }
    plan = plan_full_resync([kept], ledger, CTX)
    assert {(s.salesforce_id, s.action) for s in plan.steps} == {
        ("K", Action.SKIP),
        ("GONE", Action.CANCEL),
    }


@given(st.text(max_size=40), st.text(max_size=40))
def test_write_back_of_same_content_is_always_a_skip(subject: str, location: str) -> None:
    ev = event(subject=subject, location=location)
    mapped = to_meeting(ev, in_org=CTX.in_org, teams_keyword="MS Teams")
    if isinstance(mapped, Invalid):
        return
    bumped = replace(ev, system_modstamp=NOW + timedelta(seconds=5))
    [step] = plan_changes([bumped], [], {ev.id: synced_row(ev)}, CTX).steps
    assert step.action == Action.SKIP
