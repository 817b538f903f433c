"""getUpdated / getDeleted windows through simple-salesforce's .updated() and .deleted()."""

from __future__ import annotations

from datetime import timedelta

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from syncd.sandbox.salesforce import SalesforceState

from .helpers import T0


def test_updated_window_by_system_modstamp(
    sf: Salesforce, state: SalesforceState, users: list[str]
) -> None:
    org = state.org
    before = org.create_event(users[0], "Before", T0, duration_minutes=30)
    state.clock.advance(90)  # 09:01:30
    during = org.create_event(users[0], "During", T0, duration_minutes=30)
    state.clock.advance(45)  # 09:02:15, the current minute is not covered yet
    current = org.create_event(users[0], "Current minute", T0, duration_minutes=30)
    result = sf.Event.updated(T0 + timedelta(minutes=1, seconds=50), T0 + timedelta(hours=1))
    # Seconds are dropped from start; latestDateCovered stops at the current minute.
    assert result == {"ids": [during], "latestDateCovered": "2026-01-05T09:02:00.000+0000"}
    state.clock.advance(60)
    later = sf.Event.updated(T0 + timedelta(minutes=1), T0 + timedelta(hours=1))
    assert later == {"ids": [during, current], "latestDateCovered": "2026-01-05T09:03:00.000+0000"}
    assert before not in later["ids"]


def test_updated_sees_api_writes_and_child_events(
    sf: Salesforce, state: SalesforceState, users: list[str]
) -> None:
    org = state.org
    event = org.create_event(users[0], "Meeting", T0, duration_minutes=30, invitees=[users[1]])
    [child] = org.child_events(event)
    state.clock.advance(300)
    sf.Event.update(event, {"Sync_Status__c": "Synced"})
    state.clock.advance(60)
    window = sf.Event.updated(T0 + timedelta(minutes=1), T0 + timedelta(hours=2))
    assert window["ids"] == [event]  # the write-back touched the parent only
    org.update_event(event, Subject="Renamed")
    state.clock.advance(60)
    window = sf.Event.updated(T0 + timedelta(minutes=6), T0 + timedelta(hours=2))
    assert set(window["ids"]) == {event, child}  # a person's edit reaches the child too


def test_updated_refuses_windows_older_than_30_days(sf: Salesforce, state: SalesforceState) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Event.updated(T0 - timedelta(days=31), T0)
    assert caught.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_deleted_window_and_earliest_date_available(
    sf: Salesforce, state: SalesforceState, users: list[str]
) -> None:
    org = state.org
    event = org.create_event(users[0], "Doomed", T0, duration_minutes=30, invitees=[users[1]])
    [child] = org.child_events(event)
    [relation] = [r["Id"] for r in org.invitees(event)]
    state.clock.advance(90)
    org.delete_event(event)
    state.clock.advance(120)
    result = sf.Event.deleted(T0, T0 + timedelta(days=1))
    assert sorted(result["deletedRecords"], key=lambda r: r["id"]) == sorted(
        [
            {"id": event, "deletedDate": "2026-01-05T09:01:30.000+0000"},
            {"id": child, "deletedDate": "2026-01-05T09:01:30.000+0000"},
        ],
        key=lambda r: r["id"],
    )
    assert result["latestDateCovered"] == "2026-01-05T09:03:00.000+0000"
    assert result["earliestDateAvailable"] == "2020-01-01T00:00:00.000+0000"
    relations = sf.EventRelation.deleted(T0, T0 + timedelta(days=1))
    assert [r["id"] for r in relations["deletedRecords"]] == [relation]
    # The recycle bin keeps 15 days; after that the rows are purged and
    # earliestDateAvailable moves past any watermark older than the deletion.
    state.auth.session_timeout_seconds = timedelta(days=30).total_seconds()
    state.clock.advance(timedelta(days=16).total_seconds())
    purged = sf.Event.deleted(T0 + timedelta(days=15), T0 + timedelta(days=17))
    assert purged["deletedRecords"] == []
    assert purged["earliestDateAvailable"] == "2026-01-05T09:02:00.000+0000"
    assert sf.query_all("SELECT Id FROM Event", include_deleted=True)["totalSize"] == 0


def test_recycle_bin_retention_is_a_knob(
    sf: Salesforce, state: SalesforceState, users: list[str]
) -> None:
    org = state.org
    event = org.create_event(users[0], "Short-lived", T0, duration_minutes=30)
    org.delete_event(event)
    org.settings.recycle_bin_days = 1
    state.auth.session_timeout_seconds = timedelta(days=30).total_seconds()
    state.clock.advance(timedelta(days=1, minutes=1).total_seconds())
    result = sf.Event.deleted(T0, T0 + timedelta(days=2))
    assert result["deletedRecords"] == []
    assert result["earliestDateAvailable"] == "2026-01-05T09:00:00.000+0000"
