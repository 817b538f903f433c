"""The Salesforce port's contract: query, queryAll paging, getDeleted, sObject Collections.

The same functions run on MemorySalesforce, on SalesforceClient against the sandbox
org over HTTPS and (opt-in) on SalesforceClient against a real org. Each test looks
only at the records it made: the org outlives a test.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from simple_salesforce import format_soql

from syncd.domain import ErrorCode, SyncdError
from syncd.salesforce import WindowMissed
from tests.contract.backends import SalesforceBackend
from tests.support import suite_now

#: Salesforce's default page of query results (resources_query.htm).
PAGE = 2000


def start_in(days: int) -> datetime:
    return (suite_now() + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)


def by_ids(ids: list[str]) -> str:
    return format_soql("SELECT Id, Subject, IsDeleted FROM Event WHERE Id IN {}", ids)


def test_query_answers_the_selected_fields_of_live_events(salesforce: SalesforceBackend) -> None:
    first = salesforce.create_event("Contract first", start_in(3))
    second = salesforce.create_event("Contract second", start_in(4))

    rows = list(salesforce.port.query(by_ids([first, second])))

    assert sorted((r["Id"][:15], r["Subject"]) for r in rows) == sorted(
        [(first[:15], "Contract first"), (second[:15], "Contract second")]
    )
    assert all(r["attributes"]["type"] == "Event" for r in rows)


def test_query_all_also_answers_deleted_rows(salesforce: SalesforceBackend) -> None:
    kept = salesforce.create_event("Contract kept", start_in(5))
    gone = salesforce.create_event("Contract gone", start_in(6))
    salesforce.seed.delete_event(gone)

    live = {r["Id"][:15] for r in salesforce.port.query(by_ids([kept, gone]))}
    every = {r["Id"][:15]: r["IsDeleted"] for r in salesforce.port.query_all(by_ids([kept, gone]))}

    assert live == {kept[:15]}
    assert every == {kept[:15]: False, gone[:15]: True}


def test_a_malformed_query_is_refused_as_invalid(salesforce: SalesforceBackend) -> None:
    with pytest.raises(SyncdError) as caught:
        list(salesforce.port.query("SELECT Id FROM Event WHERE"))
    assert caught.value.code is ErrorCode.INVALID_REQUEST


def test_query_all_follows_the_pages_to_the_last_record(salesforce: SalesforceBackend) -> None:
    if salesforce.seed.create_many is None:
        pytest.skip(f"needs {PAGE + 5} Events made for the test; not done on a real org")
    start = start_in(7)
    ids = salesforce.seed.create_many(PAGE + 5, start)
    soql = format_soql(
        "SELECT Id FROM Event WHERE Subject LIKE 'Paged %' AND StartDateTime = {}", start
    )

    rows = list(salesforce.port.query_all(soql))

    assert len(rows) == PAGE + 5
    assert {r["Id"][:15] for r in rows} == {i[:15] for i in ids}


def test_deleted_lists_what_was_deleted_within_the_window(salesforce: SalesforceBackend) -> None:
    before = salesforce.seed.now() - timedelta(minutes=1)
    kept = salesforce.create_event("Contract stays", start_in(8))
    gone = salesforce.create_event("Contract deleted", start_in(9))
    salesforce.seed.delete_event(gone)
    # getDeleted covers whole minutes, up to the current one (latestDateCovered).
    salesforce.seed.advance(61)

    result = salesforce.port.deleted("Event", before, salesforce.seed.now())

    ids = {r.id[:15] for r in result.records}
    assert gone[:15] in ids and kept[:15] not in ids
    assert result.latest_date_covered is not None
    assert before < result.latest_date_covered <= salesforce.seed.now()
    assert not result.missed(before)
    with pytest.raises(WindowMissed):
        salesforce.port.deleted("Event", before - timedelta(days=16), salesforce.seed.now())


def test_update_records_answers_each_record_in_order(salesforce: SalesforceBackend) -> None:
    written = salesforce.create_event("Contract write", start_in(10))
    deleted = salesforce.create_event("Contract write deleted", start_in(11))
    salesforce.seed.delete_event(deleted)

    results = salesforce.port.update_records(
        "Event",
        [
            {"attributes": {"type": "Event"}, "id": deleted, "Subject": "Too late"},
            {"attributes": {"type": "Event"}, "id": written, "Subject": "Written back"},
        ],
    )

    assert [(r.id, r.success) for r in results] == [(deleted, False), (written, True)]
    assert results[0].errors and results[1].errors == []
    (row,) = salesforce.port.query(by_ids([written]))
    assert row["Subject"] == "Written back"
