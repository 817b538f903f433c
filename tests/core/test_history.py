"""The meeting history: one entry for each change the core makes in Outlook and for each
failure it records, written with the ledger row, read back with history_of."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect

from syncd.core.scheduler import Scheduler
from syncd.domain import (
    Attendee,
    ErrorCode,
    HistoryAction,
    HistorySide,
    Meeting,
    MeetingChanges,
    Source,
    SyncdError,
)
from syncd.graph.correlation import client_request_id
from syncd.ledger.db import make_engine, upgrade
from syncd.ledger.history import history_of
from syncd.runtime import Runtime
from syncd.sandbox.server import RunningSandbox
from tests.support import SpyGraph, users_of

START = datetime(2031, 4, 7, 9, tzinfo=UTC)


@pytest.fixture
def spy(runtime: Runtime) -> SpyGraph:
    return SpyGraph(runtime.graphs["demo"])


@pytest.fixture
def scheduler(runtime: Runtime, spy: SpyGraph) -> Scheduler:
    return Scheduler(runtime.config.tenant("demo"), runtime.engine, spy)


def new_meeting(sandbox: RunningSandbox, **overrides: Any) -> Meeting:
    users = users_of(sandbox, "demo")
    fields: dict[str, Any] = {
        "external_id": f"history-{uuid.uuid4()}",
        "organizer_email": users[0],
        "subject": "Quarterly review",
        "body": "Agenda: numbers",
        "location": "Room 4",
        "start": START,
        "end": START + timedelta(hours=1),
        "attendees": (Attendee(users[1], True),),
    }
    fields.update(overrides)
    return Meeting(**fields)


def actions(scheduler: Scheduler, meeting: Meeting, source: Source = Source.API) -> list[str]:
    entries = history_of(scheduler.engine, "demo", source, meeting.external_id)
    return [entry.action.value for entry in entries]


def test_create_update_and_cancel_each_leave_one_entry(
    scheduler: Scheduler, sandbox: RunningSandbox
) -> None:
    meeting = new_meeting(sandbox)
    scheduler.schedule(meeting, correlation_id="corr-create")
    scheduler.update(
        meeting.external_id,
        meeting.organizer_email,
        MeetingChanges(subject="Quarterly review (moved)"),
        correlation_id="corr-update",
    )
    # The same content again changes nothing in Outlook, so it adds no entry.
    scheduler.update(
        meeting.external_id,
        meeting.organizer_email,
        MeetingChanges(subject="Quarterly review (moved)"),
    )
    scheduler.cancel(meeting.external_id, meeting.organizer_email, correlation_id="corr-cancel")

    created, updated, cancelled = history_of(
        scheduler.engine, "demo", Source.API, meeting.external_id
    )
    record = scheduler.record_of(meeting.external_id)
    assert record is not None
    assert created.action == HistoryAction.CREATED and created.side == HistorySide.OUTLOOK
    assert created.fields == {"graph_event_id": [None, record.graph_event_id]}
    assert created.graph_request_id == client_request_id("corr-create")
    assert updated.action == HistoryAction.UPDATED
    assert updated.fields == {"subject": ["Quarterly review", "Quarterly review (moved)"]}
    assert updated.graph_request_id == client_request_id("corr-update")
    assert cancelled.action == HistoryAction.CANCELLED
    assert cancelled.fields == {"status": ["synced", "cancelled"]}
    assert created.at <= updated.at <= cancelled.at


def test_a_meeting_without_attendees_is_deleted_in_the_history(
    scheduler: Scheduler, sandbox: RunningSandbox
) -> None:
    meeting = new_meeting(sandbox, attendees=())
    scheduler.schedule(meeting)
    scheduler.cancel(meeting.external_id, meeting.organizer_email)
    assert actions(scheduler, meeting) == ["created", "deleted"]


def test_a_refused_patch_is_a_failure_entry_with_the_reason(
    scheduler: Scheduler, spy: SpyGraph, sandbox: RunningSandbox
) -> None:
    meeting = new_meeting(sandbox)
    scheduler.schedule(meeting)
    spy.fail_before["update_event"] = SyncdError(ErrorCode.UPSTREAM_UNAVAILABLE, "Graph is down")
    with pytest.raises(SyncdError):
        scheduler.update(meeting.external_id, meeting.organizer_email, MeetingChanges(subject="x"))
    entries = history_of(scheduler.engine, "demo", Source.API, meeting.external_id)
    assert [e.action for e in entries] == [HistoryAction.CREATED, HistoryAction.FAILED]
    failed = entries[-1]
    assert failed.side == HistorySide.OUTLOOK
    assert failed.reason == "Graph is down"
    assert failed.fields == {"last_error_code": [None, ErrorCode.UPSTREAM_UNAVAILABLE.value]}


def test_a_lost_create_answer_is_a_failure_then_an_adoption(
    scheduler: Scheduler, spy: SpyGraph, sandbox: RunningSandbox
) -> None:
    meeting = new_meeting(sandbox)
    spy.fail_after["create_event"] = SyncdError(ErrorCode.UPSTREAM_UNAVAILABLE, "reset")
    with pytest.raises(SyncdError):
        scheduler.schedule(meeting)
    scheduler.schedule(meeting)
    assert actions(scheduler, meeting) == ["failed", "adopted"]


def test_failures_recorded_for_the_sync_are_in_the_history(scheduler: Scheduler) -> None:
    external_id = f"00U{uuid.uuid4().hex[:15]}"
    scheduler.record_invalid(external_id, "the Event has no owner e-mail")
    scheduler.record_failure(external_id, SyncdError(ErrorCode.THROTTLED, "slow down"))
    first, second = history_of(scheduler.engine, "demo", Source.SALESFORCE, external_id)
    assert (first.action, first.side) == (HistoryAction.FAILED, HistorySide.SALESFORCE)
    assert first.reason == "the Event has no owner e-mail"
    assert (second.action, second.side) == (HistoryAction.FAILED, HistorySide.LEDGER)
    assert second.fields == {
        "last_error_code": [ErrorCode.INVALID_REQUEST.value, ErrorCode.THROTTLED.value]
    }


def test_a_refused_write_back_is_a_salesforce_failure_entry(
    scheduler: Scheduler, sandbox: RunningSandbox
) -> None:
    meeting = new_meeting(sandbox)
    scheduler.upsert(meeting, source=Source.SALESFORCE)
    scheduler.record_writeback_refused({meeting.external_id: "FIELD_CUSTOM_VALIDATION"})
    entries = history_of(scheduler.engine, "demo", Source.SALESFORCE, meeting.external_id)
    assert [e.action for e in entries] == [HistoryAction.CREATED, HistoryAction.FAILED]
    refused = entries[-1]
    assert refused.side == HistorySide.SALESFORCE
    assert "FIELD_CUSTOM_VALIDATION" in refused.reason
    assert refused.salesforce_call is not None


def test_the_migration_makes_the_history_table(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("meeting_history")}
    finally:
        engine.dispose()
    assert columns == {
        "id",
        "tenant",
        "source",
        "external_id",
        "at",
        "side",
        "action",
        "fields",
        "reason",
        "graph_request_id",
        "salesforce_call",
    }
