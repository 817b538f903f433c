"""What syncd builds for Graph, held to the published schema without a sandbox (pure):
create and update bodies of single, online, all-day and recurring meetings, and
getSchedule's body. (The cancel body is checked where the client sends it, by the
session-wide check: tests/graph_schema/plugin.py.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from syncd.core import event_mapping as em
from syncd.domain import Attendee, Meeting
from syncd.graph import schedule
from syncd.sync.recurrence_patterns import rrule_pattern
from tests.graph_schema.validator import Mode, validate, validate_action

START = datetime(2031, 3, 4, 9, tzinfo=UTC)
END = datetime(2031, 3, 4, 10, tzinfo=UTC)
RULES = (
    "FREQ=DAILY;INTERVAL=2;COUNT=5",
    "FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20310601T000000Z",
    "FREQ=MONTHLY;BYMONTHDAY=4",
    "FREQ=MONTHLY;BYDAY=1TU;COUNT=6",
    "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=4",
)


def _meeting(**overrides: Any) -> Meeting:
    fields: dict[str, Any] = {
        "external_id": "00U1",
        "organizer_email": "org@contoso.example",
        "subject": "Plan",
        "body": "Agenda",
        "location": "Room 1",
        "start": START,
        "end": END,
        "attendees": (Attendee("a@contoso.example", True), Attendee("x@fabrikam.example", False)),
    }
    fields.update(overrides)
    return Meeting(**fields)


def _series(rule: str) -> Meeting:
    series = rrule_pattern(rule, "Europe/Berlin", START)
    return _meeting(time_zone=series.time_zone, recurrence=series.recurrence)


MEETINGS = {
    "single": _meeting(),
    "teams": _meeting(location="MS Teams"),
    "private all-day oof": _meeting(
        is_all_day=True,
        show_as="oof",
        is_private=True,
        time_zone="Pacific Standard Time",
        start=datetime(2031, 3, 4, tzinfo=UTC),
        end=datetime(2031, 3, 5, tzinfo=UTC),
    ),
    **{rule: _series(rule) for rule in RULES},
}


@pytest.mark.parametrize("name", sorted(MEETINGS))
def test_create_bodies_validate(name: str) -> None:
    content = em.event_content(MEETINGS[name], teams_keyword="MS Teams")
    payload = em.create_payload(content, transaction="tx-1", key="demo:salesforce:00U1")
    assert validate(payload, "event", mode=Mode.REQUEST) == []


@pytest.mark.parametrize("name", sorted(MEETINGS))
def test_update_bodies_validate(name: str) -> None:
    before = em.event_content(_meeting(subject="Old"), teams_keyword="MS Teams")
    after = em.event_content(MEETINGS[name], teams_keyword="MS Teams")
    changes = em.content_changes(before, after, join_url="https://teams.example/join")
    assert changes and validate(changes, "event", mode=Mode.REQUEST) == []
    back = em.content_changes(after, before)
    assert validate(back, "event", mode=Mode.REQUEST) == []


def test_schedule_bodies_validate() -> None:
    period = (START, END)
    body = schedule.request_body(["a@contoso.example"], period, 30)
    assert validate_action(body, "getSchedule", "calendar") == []
