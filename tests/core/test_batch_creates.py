"""Creates of many meetings at once (syncd.core.batch_creates) against the sandbox,
through the real Graph client: one claim, one $batch and one completion per group,
and exactly once whatever happens between them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from syncd.core import event_mapping as em
from syncd.core.scheduler import Scheduler
from syncd.domain import (
    Attendee,
    ErrorCode,
    HistoryAction,
    Meeting,
    MeetingStatus,
    Source,
    SyncdError,
)
from syncd.graph.correlation import client_request_id
from syncd.ledger.history import history_of
from syncd.ledger.models import MeetingRecord
from syncd.runtime import Runtime
from syncd.sandbox.server import RunningSandbox
from tests.support import SpyGraph, users_of

START = datetime(2031, 4, 7, 9, tzinfo=UTC)
TENANT = "demo"


@pytest.fixture
def spy(runtime: Runtime) -> SpyGraph:
    return SpyGraph(runtime.graphs[TENANT])


@pytest.fixture
def scheduler(runtime: Runtime, spy: SpyGraph) -> Scheduler:
    return Scheduler(runtime.config.tenant(TENANT), runtime.engine, spy)


@pytest.fixture
def commits(runtime: Runtime) -> Iterator[list[str]]:
    """Every transaction committed on the ledger's engine while the test runs."""
    seen: list[str] = []

    def committed(_connection: Any) -> None:
        seen.append("commit")

    event.listen(runtime.engine, "commit", committed)
    yield seen
    event.remove(runtime.engine, "commit", committed)


def meetings(sandbox: RunningSandbox, count: int, organizers: int = 3) -> list[Meeting]:
    users = users_of(sandbox, TENANT)
    run = uuid.uuid4().hex[:8]
    return [
        Meeting(
            external_id=f"batch-{run}-{n}",
            organizer_email=users[n % organizers],
            subject=f"Pipeline review {n}",
            body="Numbers",
            location="MS Teams" if n % 2 else "Room 4",
            start=START + timedelta(hours=n),
            end=START + timedelta(hours=n, minutes=30),
            attendees=(Attendee(users[organizers + n % 5], True),),
        )
        for n in range(count)
    ]


def items(group: list[Meeting]) -> list[tuple[Meeting, str | None]]:
    return [(m, f"sf-{m.external_id}") for m in group]


def stamped(sandbox: RunningSandbox, meeting: Meeting) -> list[Any]:
    owner = sandbox.directory.find_by_email(meeting.organizer_email)
    assert owner is not None
    key = em.external_key(TENANT, Source.SALESFORCE, meeting.external_id)
    return [
        e
        for e in sandbox.calendars.events(owner.id)
        if key in e.extended.values() and not e.is_cancelled
    ]


def rows(runtime: Runtime, group: list[Meeting]) -> dict[str, MeetingRecord]:
    wanted = {m.external_id for m in group}
    with Session(runtime.engine) as session:
        found = session.exec(select(MeetingRecord).where(MeetingRecord.tenant == TENANT)).all()
    return {r.external_id: r for r in found if r.external_id in wanted}


def assert_exactly_once(runtime: Runtime, sandbox: RunningSandbox, group: list[Meeting]) -> None:
    """One live stamped event per meeting, and a synced ledger row pointing at it."""
    stored = rows(runtime, group)
    for meeting in group:
        [outlook] = stamped(sandbox, meeting)
        row = stored[meeting.external_id]
        assert (row.intent, row.status) == (None, MeetingStatus.SYNCED.value)
        assert row.graph_event_id == outlook.id
        # What was sent is what the claim asked for, and its hash is the content's.
        assert row.sent and row.sent == row.target
        assert row.content_hash == em.content_hash(row.sent)
        assert outlook.subject == meeting.subject
        assert bool(outlook.join_url) == (meeting.location == "MS Teams")
        assert row.join_url == outlook.join_url


def test_a_group_is_one_claim_one_batch_and_one_completion(
    scheduler: Scheduler,
    spy: SpyGraph,
    runtime: Runtime,
    fresh_sandbox: RunningSandbox,
    commits: list[str],
) -> None:
    group = meetings(fresh_sandbox, 7)

    results = scheduler.batch.create(items(group))

    assert all(isinstance(r, MeetingRecord) for r in results)
    assert_exactly_once(runtime, fresh_sandbox, group)
    # Two ledger transactions for the seven meetings (the intents before the POSTs, the
    # completions with their history after), and one Graph round trip.
    assert len(commits) == 2
    assert spy.names() == ["create_events"]
    assert fresh_sandbox.counters.per_route["POST /$batch"] == 1
    assert fresh_sandbox.counters.batch_inner_requests == 7
    for meeting, result in zip(group, results, strict=True):
        assert isinstance(result, MeetingRecord)
        [outlook] = stamped(fresh_sandbox, meeting)
        assert result.graph_event_id == outlook.id
        assert outlook.transaction_id == em.transaction_id(
            TENANT, Source.SALESFORCE, meeting.external_id, 0
        )
        [entry] = history_of(runtime.engine, TENANT, Source.SALESFORCE, meeting.external_id)
        assert entry.action == HistoryAction.CREATED
        assert entry.fields == {"graph_event_id": [None, outlook.id]}
        assert entry.graph_request_id == client_request_id(f"sf-{meeting.external_id}")


def test_a_single_create_needs_no_envelope(
    scheduler: Scheduler, runtime: Runtime, fresh_sandbox: RunningSandbox
) -> None:
    group = meetings(fresh_sandbox, 1)
    [result] = scheduler.batch.create(items(group))
    assert isinstance(result, MeetingRecord)
    assert_exactly_once(runtime, fresh_sandbox, group)
    assert "POST /$batch" not in fresh_sandbox.counters.per_route


def test_a_batch_whose_answer_is_lost_is_finished_by_resume(
    scheduler: Scheduler, spy: SpyGraph, runtime: Runtime, fresh_sandbox: RunningSandbox
) -> None:
    # The $batch reached Graph and every create landed; the answer never came back
    # (a process killed right then leaves the same ledger).
    group = meetings(fresh_sandbox, 5)
    spy.fail_after["create_events"] = SyncdError(ErrorCode.UPSTREAM_UNAVAILABLE, "reset")
    results = scheduler.batch.create(items(group))
    assert all(isinstance(r, SyncdError) and r.retryable for r in results)
    left = rows(runtime, group)
    # Each a failure to retry with back-off, its claim kept: the retry looks first.
    assert {(r.intent, r.last_error_code) for r in left.values()} == {
        ("create", ErrorCode.UPSTREAM_UNAVAILABLE.value)
    }
    assert all(len(stamped(fresh_sandbox, m)) == 1 for m in group)

    assert scheduler.resume() >= len(group)

    assert_exactly_once(runtime, fresh_sandbox, group)
    for meeting in group:
        actions = [
            e.action
            for e in history_of(runtime.engine, TENANT, Source.SALESFORCE, meeting.external_id)
        ]
        # The failure it was, then found by its key and taken over, not created again.
        assert actions == [HistoryAction.FAILED, HistoryAction.ADOPTED]


def test_claims_before_the_batch_are_created_by_resume(
    scheduler: Scheduler, spy: SpyGraph, runtime: Runtime, fresh_sandbox: RunningSandbox
) -> None:
    # Claimed, then nothing reached Graph (the process died before sending).
    group = meetings(fresh_sandbox, 4)
    spy.fail_before["create_events"] = SyncdError(ErrorCode.UPSTREAM_UNAVAILABLE, "down")
    assert all(isinstance(r, SyncdError) for r in scheduler.batch.create(items(group)))
    assert {r.intent for r in rows(runtime, group).values()} == {"create"}
    assert all(stamped(fresh_sandbox, m) == [] for m in group)

    assert scheduler.resume() >= len(group)

    assert_exactly_once(runtime, fresh_sandbox, group)


def test_each_refusal_stays_with_its_meeting(
    scheduler: Scheduler, runtime: Runtime, fresh_sandbox: RunningSandbox
) -> None:
    group = meetings(fresh_sandbox, 4)
    no_mailbox = next(u.email for u in fresh_sandbox.tenant(TENANT).users if not u.has_mailbox)
    unlicensed = replace(group[0], organizer_email=no_mailbox)
    outsider = replace(group[1], organizer_email="x@fabrikam.example")
    backwards = replace(group[2], end=group[2].start)
    batch = [unlicensed, outsider, backwards, group[3]]

    results = scheduler.batch.create(items(batch))

    assert isinstance(results[0], SyncdError) and results[0].code == ErrorCode.ORGANIZER_NOT_FOUND
    assert "has no mailbox" in results[0].message
    assert isinstance(results[1], SyncdError) and results[1].code == ErrorCode.ORGANIZER_NOT_FOUND
    assert isinstance(results[2], SyncdError) and results[2].code == ErrorCode.INVALID_REQUEST
    assert isinstance(results[3], MeetingRecord)
    assert_exactly_once(runtime, fresh_sandbox, [group[3]])
    # Nothing was created for the organizer without a mailbox: the claim is dropped.
    assert set(rows(runtime, batch)) == {group[3].external_id}


def test_a_meeting_made_since_the_plan_is_left_to_the_one_by_one_path(
    scheduler: Scheduler, spy: SpyGraph, runtime: Runtime, fresh_sandbox: RunningSandbox
) -> None:
    group = meetings(fresh_sandbox, 3)
    scheduler.batch.create(items(group))
    made = len(spy.calls)

    assert scheduler.batch.create(items(group)) == [None, None, None]
    assert len(spy.calls) == made  # nothing sent
    assert_exactly_once(runtime, fresh_sandbox, group)


def test_a_cancelled_meeting_is_created_afresh_with_a_new_generation(
    scheduler: Scheduler, runtime: Runtime, fresh_sandbox: RunningSandbox
) -> None:
    [meeting] = meetings(fresh_sandbox, 1)
    scheduler.batch.create(items([meeting]))
    scheduler.cancel(meeting.external_id, meeting.organizer_email, source=Source.SALESFORCE)
    assert stamped(fresh_sandbox, meeting) == []

    [again] = scheduler.batch.create(items([meeting]))

    assert isinstance(again, MeetingRecord) and again.generation == 1
    [outlook] = stamped(fresh_sandbox, meeting)
    assert outlook.transaction_id == em.transaction_id(
        TENANT, Source.SALESFORCE, meeting.external_id, 1
    )
    assert_exactly_once(runtime, fresh_sandbox, [meeting])


def test_groups_side_by_side_keep_each_mailbox_within_its_share(
    scheduler: Scheduler, runtime: Runtime, fresh_sandbox: RunningSandbox
) -> None:
    # 60 creates of 3 organizers, every group sent at once as the executor sends them,
    # with Graph slow enough for requests to overlap: no mailbox ever over the share.
    fresh_sandbox.faults.configure(latency_seconds=0.05)
    group = meetings(fresh_sandbox, 60, organizers=3)
    share = runtime.graphs[TENANT].in_flight_per_mailbox()
    groups = scheduler.batch.groups(group)
    assert all(len(g) <= 20 for g in groups)

    def create(positions: list[int]) -> list[Any]:
        return scheduler.batch.create(items([group[i] for i in positions]))

    with ThreadPoolExecutor(len(groups)) as pool:
        done = list(pool.map(create, groups))

    assert all(isinstance(r, MeetingRecord) for results in done for r in results)
    assert_exactly_once(runtime, fresh_sandbox, group)
    assert 1 <= fresh_sandbox.throttle.peak_in_flight() <= share
    assert fresh_sandbox.throttle.concurrency_refusals == 0
    assert fresh_sandbox.counters.throttled == 0
    # 20 creates per organizer, `share` of each per wave: ceil(20 / share) waves of one batch.
    assert fresh_sandbox.counters.per_route["POST /$batch"] == len(groups) == -(-20 // share)


def test_a_group_hashes_each_meetings_content_once_and_returns_completed_rows(
    scheduler: Scheduler,
    runtime: Runtime,
    fresh_sandbox: RunningSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Counting calls needs a spy: the ledger stores the same hash either way.
    hashed: list[str] = []
    original = em.content_hash

    def counting(content: Any) -> str:
        hashed.append(original(content))
        return hashed[-1]

    monkeypatch.setattr(em, "content_hash", counting)
    group = meetings(fresh_sandbox, 5)

    results = scheduler.batch.create(items(group))

    # Once at the claim; the completion stores the hash the claim made.
    assert len(hashed) == len(group)
    assert_exactly_once(runtime, fresh_sandbox, group)
    stored = rows(runtime, group)
    for meeting, result in zip(group, results, strict=True):
        assert isinstance(result, MeetingRecord)
        row = stored[meeting.external_id]
        # The row handed back is the row stored, completion included.
        for name in ("graph_event_id", "change_key", "status", "intent", "content_hash"):
            assert getattr(result, name) == getattr(row, name), name
        assert result.sent == row.sent == result.target
        assert result.updated_at is not None and row.updated_at is not None
        assert result.updated_at.replace(tzinfo=None) == row.updated_at.replace(tzinfo=None)
