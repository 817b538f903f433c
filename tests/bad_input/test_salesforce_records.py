"""Malformed Salesforce Events and EventRelations: each fails alone, with a reason, and says so.

One incremental poll reads every catalogue record (catalogue.py) in one page,
each bad record followed by a plain good one. Then, per bad record: the ledger
says failed with the reason, Salesforce says Sync_Status__c = "Failed" with the
reason in Sync_Error__c, and Outlook has nothing. Every good record of the same
page synced. Odd-but-valid records sync, and correctly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from syncd.domain import MeetingStatus, Source
from syncd.ledger import queries as lq
from syncd.ledger.models import MeetingRecord
from syncd.sync.plan import Action
from syncd.sync.service import PAGE, PassReport, SyncService
from syncd.sync.writeback import MAX_ERROR_CHARS

from .catalogue import BAD, GOOD, LEAD_TIME, Kind, Maker
from .conftest import TENANT, Crm


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Run:
    crm: Crm
    maker: Maker
    service: SyncService
    report: PassReport
    bad: dict[str, str] = field(default_factory=dict)  # kind -> event id
    good: dict[str, str] = field(default_factory=dict)
    plain: list[str] = field(default_factory=list)  # the good page-mates
    logs: list[logging.LogRecord] = field(default_factory=list)
    baseline: str = ""

    def ledger(self, event_id: str) -> MeetingRecord | None:
        with Session(self.crm.runtime.engine) as session:
            return session.exec(
                select(MeetingRecord).where(
                    MeetingRecord.tenant == TENANT,
                    MeetingRecord.source == Source.SALESFORCE.value,
                    MeetingRecord.external_id == event_id,
                )
            ).first()

    def salesforce(self, event_id: str) -> dict[str, Any]:
        return self.crm.org.record(event_id)

    def outlook(self, event_id: str) -> Any:
        """The organizer's Outlook event of a synced record."""
        record = self.ledger(event_id)
        assert record is not None and record.graph_event_id, f"{event_id} was not synced"
        owner = self.crm.directory_id(record.organizer_email.strip().lower())
        return self.crm.sandbox.calendars.get(owner, record.graph_event_id)

    def outlook_keys(self) -> list[str]:
        """The external key of every organizer's event in the tenant's calendars."""
        keys = []
        for user in self.crm.sandbox.tenant(TENANT).users:
            for event in self.crm.sandbox.calendars.events(user.id, lambda e: e.is_organizer):
                keys.extend(event.extended.values())
        return keys


def _start() -> datetime:
    return (datetime.now(UTC) + LEAD_TIME).replace(minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def run(crm: Crm) -> Iterator[Run]:
    mailboxes = crm.mailboxes()
    maker = Maker(
        crm.org,
        owner=mailboxes[0],
        colleague=mailboxes[1],
        no_mailbox=crm.without_mailbox()[0],
        third=mailboxes[2],
        fourth=mailboxes[3],
        start=_start(),
    )
    service = crm.runtime.sync_service(TENANT)
    # A first pass (a full resync: no watermark yet) so the catalogue is read the
    # everyday way, by an incremental poll.
    baseline = maker.event("before the catalogue")
    first = service.poll()
    assert first.full_resync and first.counts["create"] == 1
    bad: dict[str, str] = {}
    plain: list[str] = []
    for kind in BAD:
        bad[kind.name] = kind.make(maker)
        plain.append(maker.event(f"page-mate of {kind.name}"))
    good = {kind.name: kind.make(maker) for kind in GOOD}
    assert len(bad) + len(plain) + len(good) <= PAGE, "the catalogue must fit one page"
    collect = Collect()
    root = logging.getLogger()
    level = root.level
    root.addHandler(collect)
    root.setLevel(logging.DEBUG)
    try:
        report = service.poll()
    finally:
        root.removeHandler(collect)
        root.setLevel(level)
    yield Run(crm, maker, service, report, bad, good, plain, collect.records, baseline)


def _expected(run: Run, kind: Kind) -> str:
    return kind.reason(run.maker, run.bad[kind.name])


def test_the_catalogue_has_at_least_thirty_kinds() -> None:
    assert len(BAD) >= 30
    assert len({kind.name for kind in BAD}) == len(BAD)


def test_one_incremental_poll_read_everything(run: Run) -> None:
    assert not run.report.full_resync
    catalogue = {*run.bad.values(), *run.good.values(), *run.plain}
    planned = {step.salesforce_id for step in run.report.steps}
    # The first pass's event is read again too: its write-back moved its SystemModstamp.
    assert planned - catalogue == {run.baseline}
    assert catalogue <= planned
    assert run.report.counts["fail"] == len(BAD)
    assert run.report.counts["create"] == len(run.good) + len(run.plain)
    assert run.report.writeback_errors == []


@pytest.mark.parametrize("kind", BAD, ids=[kind.name for kind in BAD])
def test_a_bad_record_fails_with_its_reason_in_ledger_and_salesforce(run: Run, kind: Kind) -> None:
    event_id = run.bad[kind.name]
    expected = _expected(run, kind)
    record = run.ledger(event_id)
    assert record is not None
    assert record.status == MeetingStatus.FAILED
    assert record.graph_event_id is None
    message = record.last_error_message or ""
    salesforce = run.salesforce(event_id)
    assert salesforce["Sync_Status__c"] == "Failed"
    assert salesforce["Outlook_Event_Id__c"] is None
    failures = dict(run.report.failures)
    if kind.exact:
        assert message == expected
        assert failures[event_id] == expected
        assert salesforce["Sync_Error__c"] == expected
    else:
        assert message.startswith(expected.partition(": ")[2]), message
        assert failures[event_id].startswith(expected)
        assert salesforce["Sync_Error__c"] == failures[event_id][:MAX_ERROR_CHARS]


# The others carry Microsoft 365's own message, cut to the field by the write-back.
EXACT = [kind for kind in BAD if kind.exact]


@pytest.mark.parametrize("kind", EXACT, ids=[kind.name for kind in EXACT])
def test_a_reason_is_one_line_that_fits_sync_error(run: Run, kind: Kind) -> None:
    reason = _expected(run, kind)
    assert len(reason) <= MAX_ERROR_CHARS
    assert reason.isprintable()


def test_every_good_page_mate_synced_and_was_written_back(run: Run) -> None:
    for event_id in run.plain:
        record = run.ledger(event_id)
        assert record is not None and record.status == MeetingStatus.SYNCED, event_id
        salesforce = run.salesforce(event_id)
        assert salesforce["Sync_Status__c"] == "Synced"
        assert salesforce["Sync_Error__c"] is None
        assert salesforce["Outlook_Event_Id__c"] == record.graph_event_id
        assert run.outlook(event_id).subject == salesforce["Subject"]


def test_outlook_holds_nothing_of_a_bad_record(run: Run) -> None:
    keys = "\n".join(run.outlook_keys())
    assert all(event_id not in keys for event_id in run.bad.values())
    assert all(event_id in keys for event_id in [*run.plain, *run.good.values()])


@pytest.mark.parametrize("good", GOOD, ids=[good.name for good in GOOD])
def test_an_odd_but_valid_record_syncs_correctly(run: Run, good: Any) -> None:
    event_id = run.good[good.name]
    record = run.ledger(event_id)
    assert record is not None and record.status == MeetingStatus.SYNCED, record
    assert run.salesforce(event_id)["Sync_Status__c"] == "Synced"
    good.check(run.maker, event_id, run.outlook(event_id))


def test_no_log_line_carries_a_forged_line_or_terminal_escape(run: Run) -> None:
    texts = [r.getMessage() for r in run.logs]
    assert any("invalid" in t for t in texts), "the failures are logged"
    for text in texts:
        assert "\n2030-01-01 ERROR" not in text
        assert "\x1b" not in text and "\r" not in text and "\x00" not in text


def test_polling_again_and_a_full_resync_disturb_nothing(run: Run) -> None:
    ids = [*run.bad.values(), *run.good.values(), *run.plain]
    stamps = {i: run.salesforce(i)["SystemModstamp"] for i in ids}
    keys = sorted(run.outlook_keys())
    statuses = lq.count_by_status(run.crm.runtime.engine, TENANT)
    graph_calls = run.crm.sandbox.counters.snapshot()["graph_requests"]
    again = run.service.poll()
    assert {step.action for step in again.steps} == {Action.SKIP}
    reasons = {step.salesforce_id: step.reason for step in again.steps}
    for kind in BAD:
        reason = reasons[run.bad[kind.name]]
        if kind.exact:  # invalid: nothing to try until the record changes
            assert reason == f"still invalid: {_expected(run, kind)}"
        else:  # refused by Microsoft 365: tried again after the back-off only
            assert reason.startswith("failed before; next attempt at"), reason
    resync = run.service.full_resync()
    assert resync.counts["create"] == resync.counts["update"] == resync.counts["cancel"] == 0
    assert resync.counts["fail"] == 0
    # Nothing was written back again; nothing changed in Outlook or in the ledger.
    assert run.crm.sandbox.counters.snapshot()["graph_requests"] == graph_calls
    assert {i: run.salesforce(i)["SystemModstamp"] for i in ids} == stamps
    assert sorted(run.outlook_keys()) == keys
    assert lq.count_by_status(run.crm.runtime.engine, TENANT) == statuses


def test_fixing_a_record_in_salesforce_syncs_it_and_clears_the_error(run: Run) -> None:
    crossed = run.bad["end_before_start"]
    start = run.salesforce(crossed)["StartDateTime"]
    run.crm.org.update_event(crossed, EndDateTime=start + timedelta(minutes=30))
    lead = run.bad["lead_invitee_without_email"]
    lead_id = run.maker.facts["lead without e-mail"]
    run.crm.org.update("Lead", lead_id, {"Email": "found.later@example.org"})
    run.crm.org.update_event(lead, Description="the lead's address was added")
    report = run.service.poll()
    assert report.failures == []
    for event_id in (crossed, lead):
        record = run.ledger(event_id)
        assert record is not None and record.status == MeetingStatus.SYNCED
        salesforce = run.salesforce(event_id)
        assert (salesforce["Sync_Status__c"], salesforce["Sync_Error__c"]) == ("Synced", None)
    assert "found.later@example.org" in [a.address for a in run.outlook(lead).attendees]
