"""One record that hits a bug in syncd fails alone: the rest of its page syncs.

The fault is injected by replacing one of syncd's own functions for one Event id. That
is deliberate: no input the sandboxes accept can produce a bug nobody knows of yet, so
the test stands in for it the only way it can, at the three places a record passes
through (reading the row, mapping it to a meeting, writing the meeting). Everything
else is the real sync against both sandboxes over HTTPS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from syncd.core import event_mapping as em
from syncd.domain import ErrorCode, MeetingStatus, Source
from syncd.ledger import queries as lq
from syncd.sandbox.salesforce.recurrence import create_classic_series
from syncd.sync import plan as plan_module
from syncd.sync import reader as reader_module
from syncd.sync import recurrence as recurrence_module
from syncd.sync.service import FEED_EVENT

from .conftest import COLLEAGUE, EVENT_ROUTE, ORGANIZER, TENANT, World

#: Where the fault strikes, and the (unexpected, non-syncd) error it raises there.
FAULTS = {
    "read": ValueError,  # parsing the Salesforce row
    "map": KeyError,  # planning: Salesforce Event -> meeting
    "write": AssertionError,  # the core, between claiming the create and the POST
}


def inject(monkeypatch: pytest.MonkeyPatch, where: str, broken: set[str]) -> None:
    """Make syncd's own code raise FAULTS[where] for the Event ids in `broken`."""
    error = FAULTS[where]

    def failing(original: Callable[..., Any], event_id_of: Callable[..., str]) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            event_id = event_id_of(*args, **kwargs)
            if event_id in broken:
                raise error(f"injected for {event_id}")
            return original(*args, **kwargs)

        return call

    if where == "read":
        parse = reader_module.parse_event
        monkeypatch.setattr(
            reader_module, "parse_event", failing(parse, lambda row, *a, **k: str(row["Id"]))
        )
    elif where == "map":
        to_meeting = plan_module.to_meeting
        monkeypatch.setattr(
            plan_module, "to_meeting", failing(to_meeting, lambda event, **k: event.id)
        )
    else:
        create_payload = em.create_payload
        monkeypatch.setattr(
            em,
            "create_payload",
            failing(create_payload, lambda content, **k: k["key"].rsplit(":", 1)[-1]),
        )


def three_events(world: World) -> list[str]:
    return [
        world.create_event(
            subject=f"Account review {n}",
            start=world.meeting_start(hour=9 + n),
            invitees=[COLLEAGUE],
        )
        for n in range(3)
    ]


@pytest.mark.parametrize("where", list(FAULTS))
def test_an_unexpected_error_fails_one_record_and_the_rest_of_the_page_syncs(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    service = world.service()
    assert service.poll().full_resync  # an empty org: the watermarks start here
    first, bad, last = three_events(world)
    broken = {bad}
    inject(monkeypatch, where, broken)
    error_name = FAULTS[where].__name__

    with caplog.at_level(logging.ERROR):
        report = service.poll()

    # The page went on: the two good records are in Outlook and written back.
    assert not report.full_resync
    assert report.counts["create"] == 2 and report.writeback_errors == []
    for event_id in (first, last):
        written = world.org.record(event_id)
        assert written["Sync_Status__c"] == "Synced", event_id
        assert world.outlook_event(ORGANIZER, written["Outlook_Event_Id__c"]).subject
    assert len(world.calendar(ORGANIZER)) == 2
    # The bad one failed alone, with its reason in the ledger and in Salesforce.
    reasons = dict(report.failures)
    assert set(reasons) == {bad}
    assert reasons[bad].startswith(f"{ErrorCode.INTERNAL_ERROR}: ")
    assert error_name in reasons[bad] and f"injected for {bad}" in reasons[bad]
    record = world.record(bad)
    assert record.status == MeetingStatus.FAILED and record.graph_event_id is None
    assert record.last_error_code == ErrorCode.INTERNAL_ERROR
    assert record.last_error_message is not None and error_name in record.last_error_message
    written = world.org.record(bad)
    assert written["Sync_Status__c"] == "Failed"
    assert written["Sync_Error__c"] == reasons[bad]
    assert written["Outlook_Event_Id__c"] is None
    # Its traceback is in the log.
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is FAULTS[where]]
    assert logged and bad in logged[0].getMessage()
    # The watermark moved past the page, yet the bad record is not lost: the ledger
    # holds it due for a retry once its back-off (1 minute) has passed.
    engine = world.runtime.engine
    watermark = lq.get_watermark(engine, TENANT, FEED_EVENT)
    assert watermark is not None and watermark >= world.org.record(first)["CreatedDate"]
    assert record.next_attempt_at is not None and record.next_attempt_at > world.now()

    # Within the back-off nothing is tried or written again, though its own write-back
    # made Salesforce return it to the next poll.
    calls, writes = world.graph_calls(), world.sf_state.counters.records_written
    again = service.poll()
    assert again.failures == [] and again.counts["fail"] == 0
    assert world.graph_calls() == calls
    assert world.sf_state.counters.records_written == writes

    # The bug is gone (a fixed syncd): the next poll after the back-off syncs it.
    broken.clear()
    world.advance(61)
    assert bad in lq.due_failures(engine, TENANT, Source.SALESFORCE, world.now())
    retried = service.poll()

    assert retried.failures == [] and retried.writeback_errors == []
    written = world.org.record(bad)
    assert written["Sync_Status__c"] == "Synced" and written["Sync_Error__c"] is None
    assert world.outlook_event(ORGANIZER, written["Outlook_Event_Id__c"]).subject == (
        "Account review 1"
    )
    assert len(world.calendar(ORGANIZER)) == 3  # one meeting each, none twice
    record = world.record(bad)
    assert record.status == MeetingStatus.SYNCED and record.last_error_code is None
    assert lq.due_failures(engine, TENANT, Source.SALESFORCE, world.now()) == []
    later = lq.get_watermark(engine, TENANT, FEED_EVENT)
    assert later is not None and later >= watermark


def test_a_synced_meeting_hit_by_a_bug_is_synced_again_once_it_is_fixed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug while mapping a meeting that is already right in Outlook fails it (Salesforce
    says so); once fixed, the retry finds Outlook right, clears the failure and writes
    Synced back, without a PATCH that would e-mail every attendee."""
    service = world.service()
    event_id = world.create_event(subject="Renewal", invitees=[COLLEAGUE])
    service.poll()
    graph_id = world.org.record(event_id)["Outlook_Event_Id__c"]
    broken = {event_id}
    inject(monkeypatch, "map", broken)

    world.org.update_event(event_id, Subject="Renewal")  # saved unchanged: a new stamp
    report = service.poll()

    assert [failed for failed, _ in report.failures] == [event_id]
    assert world.org.record(event_id)["Sync_Status__c"] == "Failed"
    record = world.record(event_id)
    assert record.status == MeetingStatus.SYNCED  # Outlook still holds the meeting
    assert record.last_error_code == ErrorCode.INTERNAL_ERROR

    broken.clear()
    world.advance(61)
    patches = len(world.graph_log("PATCH", EVENT_ROUTE))
    retried = service.poll()

    assert retried.failures == [] and retried.counts["update"] == 1
    assert len(world.graph_log("PATCH", EVENT_ROUTE)) == patches
    written = world.org.record(event_id)
    assert written["Sync_Status__c"] == "Synced" and written["Sync_Error__c"] is None
    assert written["Outlook_Event_Id__c"] == graph_id
    record = world.record(event_id)
    assert record.last_error_code is None and record.next_attempt_at is None
    # Nothing left to retry: the next pass leaves it alone.
    assert service.retry_failed().records_read == 0


def test_a_series_hit_by_a_bug_fails_alone_and_syncs_once_fixed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Series take their own path through the sync (one Outlook series per Salesforce
    series); a bug there fails that series and leaves the page's single Events alone."""
    service = world.service()
    single = world.create_event(subject="One-off", invitees=[COLLEAGUE])
    first = world.meeting_start(days=2, hour=9)
    series = create_classic_series(
        world.org,
        ORGANIZER,
        first,
        timedelta(minutes=30),
        recurrence_type="RecursDaily",
        interval=1,
        end_date=(first + timedelta(days=3)).date(),
        time_zone="UTC",
        subject="Stand-up",
        invitees=[COLLEAGUE],
    )
    master_meeting = recurrence_module.master_meeting
    broken = {series.master}

    def failing(master: Any, *args: Any, **kwargs: Any) -> Any:
        if master.id in broken:
            raise AssertionError(f"injected for {master.id}")
        return master_meeting(master, *args, **kwargs)

    monkeypatch.setattr(recurrence_module, "master_meeting", failing)

    report = service.poll()

    assert [failed for failed, _ in report.failures] == [series.master]
    assert world.org.record(single)["Sync_Status__c"] == "Synced"
    written = world.org.record(series.master)
    assert written["Sync_Status__c"] == "Failed"
    assert "AssertionError" in written["Sync_Error__c"]
    assert world.record(series.master).last_error_code == ErrorCode.INTERNAL_ERROR

    broken.clear()
    world.advance(61)
    retried = service.poll()

    assert retried.failures == []
    written = world.org.record(series.master)
    assert written["Sync_Status__c"] == "Synced" and written["Sync_Error__c"] is None
    master = world.outlook_event(ORGANIZER, written["Outlook_Event_Id__c"])
    assert master.recurrence is not None and master.subject == "Stand-up"
