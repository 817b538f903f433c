"""Creates claimed for later (Intent.QUEUED) against the sandbox, through the real Graph
client: a claim no Graph call has touched is sent without a lookup, and becomes a
CREATE in the ledger before it is sent, so that whatever a crash leaves after that is
looked up by resume and never made twice."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from syncd.core.batch_creates import BatchCreates
from syncd.core.deferred_writes import claiming
from syncd.core.scheduler import Scheduler
from syncd.domain import HistoryAction, Meeting, Source
from syncd.ledger.history import history_of
from syncd.ledger.models import MeetingRecord
from syncd.runtime import Runtime
from syncd.sandbox.server import RunningSandbox
from tests.core.test_batch_creates import (
    TENANT,
    assert_exactly_once,
    meetings,
    rows,
    stamped,
)
from tests.support import SpyGraph


@pytest.fixture
def spy(runtime: Runtime) -> SpyGraph:
    return SpyGraph(runtime.graphs[TENANT])


@pytest.fixture
def scheduler(runtime: Runtime, spy: SpyGraph) -> Scheduler:
    return Scheduler(runtime.config.tenant(TENANT), runtime.engine, spy)


class Crash(BaseException):
    """The process dying at this point: nothing after it runs, not even error handling
    (a SIGKILL cannot be aimed at a line inside this process; the ledger and Outlook are
    left exactly as a kill there would leave them)."""


def queue(scheduler: Scheduler, group: list[Meeting]) -> dict[str, MeetingRecord]:
    claims = claiming(scheduler)
    for meeting in group:
        claims.upsert(meeting, source=Source.SALESFORCE, correlation_id=f"sf-{meeting.external_id}")
    return scheduler.records_of([m.external_id for m in group], source=Source.SALESFORCE)


def send(scheduler: Scheduler, queued: dict[str, MeetingRecord]) -> list[object]:
    items = [(record, f"sf-{record.external_id}") for record in queued.values()]
    return scheduler.batch.send_queued(items, source=Source.SALESFORCE)  # type: ignore[return-value]


def test_a_claim_is_queued_without_any_graph_call(
    scheduler: Scheduler, spy: SpyGraph, fresh_sandbox: RunningSandbox
) -> None:
    group = meetings(fresh_sandbox, 3)
    queued = queue(scheduler, group)
    assert {r.intent for r in queued.values()} == {"queued"}
    assert spy.calls == []
    assert all(stamped(fresh_sandbox, m) == [] for m in group)


def test_a_group_is_queued_in_one_transaction_without_any_graph_call(
    scheduler: Scheduler, spy: SpyGraph, runtime: Runtime, fresh_sandbox: RunningSandbox
) -> None:
    group = meetings(fresh_sandbox, 7)
    commits: list[object] = []
    committed = commits.append  # one bound method: the same object to remove
    event.listen(runtime.engine, "commit", committed)
    try:
        claimed = scheduler.batch.create(
            [(m, f"sf-{m.external_id}") for m in group], source=Source.SALESFORCE, queue=True
        )
    finally:
        event.remove(runtime.engine, "commit", committed)
    assert len(commits) == 1
    assert all(isinstance(r, MeetingRecord) and r.intent == "queued" for r in claimed)
    assert {r.intent for r in rows(runtime, group).values()} == {"queued"}
    assert spy.calls == []
    assert all(stamped(fresh_sandbox, m) == [] for m in group)


def test_queued_creates_go_out_in_one_batch_without_a_lookup(
    scheduler: Scheduler, spy: SpyGraph, runtime: Runtime, fresh_sandbox: RunningSandbox
) -> None:
    group = meetings(fresh_sandbox, 6)
    queued = queue(scheduler, group)

    results = send(scheduler, queued)

    assert all(isinstance(r, MeetingRecord) for r in results)
    assert_exactly_once(runtime, fresh_sandbox, group)
    # No find by the syncd key: one $batch with the six POSTs, nothing else.
    assert spy.names() == ["create_events"]
    assert fresh_sandbox.counters.per_route["POST /$batch"] == 1
    assert fresh_sandbox.counters.batch_inner_requests == 6
    # Sent again (a second drain with the same page): nothing is queued any more.
    assert send(scheduler, queued) == [None] * 6
    assert spy.names() == ["create_events"]


def test_resume_sends_a_queued_create_without_a_lookup(
    scheduler: Scheduler, spy: SpyGraph, runtime: Runtime, fresh_sandbox: RunningSandbox
) -> None:
    group = meetings(fresh_sandbox, 1)
    queued = queue(scheduler, group)

    assert scheduler.resume(intents=queued.values()) == 1

    assert spy.names() == ["create_event"]
    assert_exactly_once(runtime, fresh_sandbox, group)


def test_a_crash_after_the_flip_before_the_completion_is_looked_up_by_resume(
    scheduler: Scheduler,
    spy: SpyGraph,
    runtime: Runtime,
    fresh_sandbox: RunningSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    group = meetings(fresh_sandbox, 5)
    queued = queue(scheduler, group)

    def die(*_args: object, **_kwargs: object) -> None:
        raise Crash

    monkeypatch.setattr(BatchCreates, "_complete", die)
    with pytest.raises(Crash):
        send(scheduler, queued)
    monkeypatch.undo()
    # The events were made; the ledger says each create may have been sent.
    left = rows(runtime, group)
    assert {(r.intent, r.graph_event_id) for r in left.values()} == {("create", None)}
    assert all(len(stamped(fresh_sandbox, m)) == 1 for m in group)
    spy.calls.clear()

    assert scheduler.resume(intents=left.values()) == len(group)

    # Each looked up by its key and taken over: none created twice.
    assert sorted(spy.names()) == ["find_event_by_property"] * len(group)
    assert_exactly_once(runtime, fresh_sandbox, group)
    for meeting in group:
        actions = [
            e.action
            for e in history_of(runtime.engine, TENANT, Source.SALESFORCE, meeting.external_id)
        ]
        assert actions == [HistoryAction.ADOPTED]


def test_a_crash_after_the_flip_before_the_post_is_created_by_resume(
    scheduler: Scheduler, spy: SpyGraph, runtime: Runtime, fresh_sandbox: RunningSandbox
) -> None:
    group = meetings(fresh_sandbox, 1)
    queued = queue(scheduler, group)
    spy.fail_before["create_event"] = Crash()
    with pytest.raises(Crash):
        scheduler.resume(intents=queued.values())
    [row] = rows(runtime, group).values()
    assert row.intent == "create"  # committed before the POST was attempted
    spy.calls.clear()

    assert scheduler.resume(intents=[row]) == 1

    assert spy.names() == ["find_event_by_property", "create_event"]
    assert_exactly_once(runtime, fresh_sandbox, group)


def test_a_create_that_may_have_been_sent_is_never_queued(
    scheduler: Scheduler, spy: SpyGraph, runtime: Runtime, fresh_sandbox: RunningSandbox
) -> None:
    crashed, recovered = meetings(fresh_sandbox, 2)
    # Claimed and sent, the answer lost with the process.
    spy.fail_after["create_event"] = Crash()
    with pytest.raises(Crash):
        scheduler.upsert(crashed, source=Source.SALESFORCE)
    # Claimed for later again (the next poll): it stays a CREATE, looked up when drained.
    claims = claiming(scheduler)
    claims.upsert(crashed, source=Source.SALESFORCE)
    # Salesforce says this one was made before (the ledger was lost): looked up too.
    claims.upsert(recovered, source=Source.SALESFORCE, recover=True)
    left = rows(runtime, [crashed, recovered])
    assert {r.intent for r in left.values()} == {"create"}
    spy.calls.clear()

    assert scheduler.resume(intents=left.values()) == 2

    assert spy.names().count("find_event_by_property") == 2
    assert_exactly_once(runtime, fresh_sandbox, [crashed, recovered])
