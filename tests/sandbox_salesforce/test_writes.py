"""Writes over REST: sObject Collections, single-record PATCH/POST/DELETE, Salesforce's rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound
from simple_salesforce.format import format_soql

from syncd.sandbox.salesforce import SalesforceOrg, SalesforceState

from .helpers import T0


def _events(org: SalesforceOrg, owner: str, count: int) -> list[str]:
    return [
        org.create_event(owner, f"E{i}", T0 + timedelta(days=1), duration_minutes=30)
        for i in range(count)
    ]


def _collection(records: list[dict[str, Any]], all_or_none: bool = False) -> dict[str, Any]:
    return {"allOrNone": all_or_none, "records": records}


def _status(event_id: str, value: str) -> dict[str, Any]:
    return {"attributes": {"type": "Event"}, "id": event_id, "Sync_Status__c": value}


def test_collection_partial_failure_is_http_200(
    sf: Salesforce, state: SalesforceState, users: list[str]
) -> None:
    org = state.org
    first, locked, third = _events(org, users[0], 3)
    state.faults.fail_records(locked, "UNABLE_TO_LOCK_ROW")
    records = [
        _status(first, "Synced"),
        _status(locked, "Synced"),
        {"attributes": {"type": "Event"}, "id": third, "EndDateTime": "2026-01-01T00:00:00Z"},
        {"attributes": {"type": "Event"}, "id": "00Unot-an-id", "Sync_Status__c": "x"},
        {"attributes": {"type": "Event"}, "id": third, "Bogus__c": 1},
    ]
    results = sf.restful("composite/sobjects", method="PATCH", json=_collection(records))
    assert [r["success"] for r in results] == [True, False, False, False, False]
    assert results[0] == {"id": first, "success": True, "errors": []}
    assert results[1]["id"] == locked
    assert results[1]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert results[2]["errors"] == [
        {
            "statusCode": "FIELD_INTEGRITY_EXCEPTION",
            "message": "EndDateTime: The end of an event can't be before its start.",
            "fields": ["EndDateTime"],
        }
    ]
    assert "id" not in results[3] and results[3]["errors"][0]["statusCode"] == "MALFORMED_ID"
    assert results[4]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert org.record(first)["Sync_Status__c"] == "Synced"
    assert org.record(locked)["Sync_Status__c"] is None
    # The planned failure was for one attempt: a retry goes through.
    retry = sf.restful(
        "composite/sobjects", method="PATCH", json=_collection([_status(locked, "Synced")])
    )
    assert retry == [{"id": locked, "success": True, "errors": []}]


def test_collection_all_or_none_rolls_back(
    sf: Salesforce, state: SalesforceState, users: list[str]
) -> None:
    org = state.org
    good, bad = _events(org, users[0], 2)
    records = [
        _status(good, "Synced"),
        {"attributes": {"type": "Event"}, "id": bad, "DurationInMinutes": 15 * 1440},
    ]
    results = sf.restful("composite/sobjects", method="PATCH", json=_collection(records, True))
    assert results[0] == {
        "id": good,
        "success": False,
        "errors": [
            {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the "
                "request was using AllOrNone header",
                "fields": [],
            }
        ],
    }
    assert results[1]["errors"][0]["statusCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert org.record(good)["Sync_Status__c"] is None


def test_collection_over_200_records_is_refused(
    sf: Salesforce, org: SalesforceOrg, users: list[str]
) -> None:
    [event] = _events(org, users[0], 1)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful(
            "composite/sobjects", method="PATCH", json=_collection([_status(event, "x")] * 201)
        )
    assert caught.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert (
        len(
            sf.restful(
                "composite/sobjects", method="PATCH", json=_collection([_status(event, "x")] * 200)
            )
        )
        == 200
    )


def test_api_write_bumps_system_modstamp_not_last_modified(
    sf: Salesforce, state: SalesforceState, users: list[str]
) -> None:
    org = state.org
    [event] = _events(org, users[0], 1)
    state.clock.advance(60)
    assert sf.Event.update(event, {"Outlook_Event_Id__c": "AAMkAD=="}) == 204
    record = sf.Event.get(event)
    assert record["SystemModstamp"] == "2026-01-05T09:01:00.000+0000"
    assert record["LastModifiedDate"] == "2026-01-05T09:00:00.000+0000"
    state.clock.advance(60)
    org.update_event(event, Subject="Edited by a person")
    record = sf.Event.get(event)
    assert record["LastModifiedDate"] == record["SystemModstamp"] == "2026-01-05T09:02:00.000+0000"
    org.settings.api_writes_touch_last_modified = True
    state.clock.advance(60)
    sf.Event.update(event, {"Sync_Status__c": "Synced"})
    assert sf.Event.get(event)["LastModifiedDate"] == "2026-01-05T09:03:00.000+0000"


def test_invited_users_get_child_events(
    sf: Salesforce, org: SalesforceOrg, users: list[str]
) -> None:
    contact = org.ids_of("Contact")[0]
    event = org.create_event(
        users[0], "Team sync", T0, duration_minutes=60, invitees=[users[1], users[2], contact]
    )
    children = sf.query(
        "SELECT Id, OwnerId, Subject, IsChild, IsGroupEvent FROM Event WHERE IsChild = true"
    )["records"]
    assert sorted(c["OwnerId"] for c in children) == sorted([users[1], users[2]])
    assert all(c["Subject"] == "Team sync" and c["IsGroupEvent"] for c in children)
    parent = sf.query(format_soql("SELECT IsGroupEvent FROM Event WHERE Id = {}", event))[
        "records"
    ][0]
    assert parent["IsGroupEvent"] is True
    relation = sf.EventRelation.create({"EventId": event, "RelationId": users[3]})
    assert relation["success"] is True
    assert len(org.child_events(event)) == 3
    sf.EventRelation.delete(relation["id"])
    org.uninvite(event, users[1])
    owners = [
        c["OwnerId"] for c in sf.query("SELECT OwnerId FROM Event WHERE IsChild = true")["records"]
    ]
    assert owners == [users[2]]


@pytest.mark.parametrize(
    ("fields", "code", "bad_field"),
    [
        (
            {"EndDateTime": "2026-01-04T09:00:00.000+0000"},
            "FIELD_INTEGRITY_EXCEPTION",
            "EndDateTime",
        ),
        ({"DurationInMinutes": 14 * 1440 + 1}, "FIELD_INTEGRITY_EXCEPTION", "DurationInMinutes"),
        (
            {"IsAllDayEvent": True, "ActivityDate": "2026-02-01", "DurationInMinutes": 15 * 1440},
            "FIELD_INTEGRITY_EXCEPTION",
            "DurationInMinutes",
        ),
        (
            {
                "IsAllDayEvent": True,
                "ActivityDate": "2026-02-01",
                "StartDateTime": "2026-02-02T00:00:00Z",
            },
            "FIELD_INTEGRITY_EXCEPTION",
            "ActivityDate",
        ),
        (
            {
                "IsAllDayEvent": True,
                "ActivityDate": "2026-02-01",
                "EndDateTime": "2026-02-03T00:00:00Z",
                "DurationInMinutes": 1440,
            },
            "FIELD_INTEGRITY_EXCEPTION",
            "DurationInMinutes",
        ),
        (
            {
                "StartDateTime": "2026-01-05T09:00:00Z",
                "EndDateTime": "2026-01-05T10:00:00Z",
                "DurationInMinutes": 30,
            },
            "FIELD_INTEGRITY_EXCEPTION",
            "DurationInMinutes",
        ),
        ({"EndDate": "2026-02-01"}, "INVALID_FIELD_FOR_INSERT_UPDATE", "EndDate"),
        ({"ShowAs": "Tentative"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "ShowAs"),
        ({"IsGroupEvent": False}, "INVALID_FIELD_FOR_INSERT_UPDATE", "IsGroupEvent"),
        ({"Subject": "x" * 256}, "STRING_TOO_LONG", "Subject"),
        ({"NoSuchField__c": 1}, "INVALID_FIELD", "NoSuchField__c"),
        ({"StartDateTime": "tomorrow"}, "JSON_PARSER_ERROR", "StartDateTime"),
    ],
)
def test_refused_event_writes(
    sf: Salesforce,
    org: SalesforceOrg,
    users: list[str],
    fields: dict[str, Any],
    code: str,
    bad_field: str,
) -> None:
    [event] = _events(org, users[0], 1)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Event.update(event, fields)
    [error] = caught.value.content
    assert error["errorCode"] == code
    assert error["fields"] == [bad_field]


def test_all_day_and_multi_day_events(sf: Salesforce, org: SalesforceOrg, users: list[str]) -> None:
    created = sf.Event.create(
        {
            "OwnerId": users[0],
            "Subject": "Offsite",
            "IsAllDayEvent": True,
            "ActivityDate": "2026-01-12",
            "DurationInMinutes": 2880,
        }
    )
    record = sf.Event.get(created["id"])
    assert (record["StartDateTime"], record["EndDateTime"], record["ActivityDateTime"]) == (
        "2026-01-12T00:00:00.000+0000",
        "2026-01-13T00:00:00.000+0000",
        None,
    )
    trip = sf.Event.create(
        {
            "Subject": "Roadshow",
            "StartDateTime": "2026-01-12T08:00:00Z",
            "EndDateTime": "2026-01-26T08:00:00Z",
        }
    )
    assert sf.Event.get(trip["id"])["DurationInMinutes"] == 14 * 1440


def test_an_all_day_event_takes_its_fields_together(
    sf: Salesforce, org: SalesforceOrg, users: list[str]
) -> None:
    """The set syncd writes when an all-day meeting moves in Outlook: each field agrees
    with the others; EndDate follows (derived, read-only)."""
    [event] = _events(org, users[0], 1)
    sf.Event.update(
        event,
        {
            "IsAllDayEvent": True,
            "ActivityDate": "2026-02-02",
            "StartDateTime": "2026-02-02T00:00:00Z",
            "EndDateTime": "2026-02-04T00:00:00Z",
            "DurationInMinutes": 3 * 1440,
        },
    )
    record = sf.Event.get(event)
    assert (record["ActivityDate"], record["EndDate"], record["DurationInMinutes"]) == (
        "2026-02-02",
        "2026-02-04",
        3 * 1440,
    )
    assert record["EndDateTime"] == "2026-02-04T00:00:00.000+0000"
    sf.Event.update(
        event,
        {
            "IsAllDayEvent": False,
            "StartDateTime": "2026-02-03T09:00:00Z",
            "EndDateTime": "2026-02-03T10:30:00Z",
            "DurationInMinutes": 90,
        },
    )
    record = sf.Event.get(event)
    assert (record["IsAllDayEvent"], record["ActivityDateTime"], record["EndDate"]) == (
        False,
        "2026-02-03T09:00:00.000+0000",
        "2026-02-03",
    )


def test_event_relation_status_is_restricted(
    sf: Salesforce, org: SalesforceOrg, users: list[str]
) -> None:
    event = org.create_event(users[0], "Invite", T0, duration_minutes=30, invitees=[users[1]])
    [relation] = org.invitees(event)
    sf.EventRelation.update(
        relation["Id"], {"Status": "Accepted", "RespondedDate": "2026-01-05T09:00:00Z"}
    )
    assert org.invitees(event)[0]["Status"] == "Accepted"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.EventRelation.update(relation["Id"], {"Status": "Maybe"})
    assert caught.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_user_write_back_field(sf: Salesforce, org: SalesforceOrg, users: list[str]) -> None:
    sf.User.update(users[0], {"Availability_Snapshot__c": '{"busy": []}'})
    assert org.record(users[0])["Availability_Snapshot__c"] == '{"busy": []}'


def test_deleted_event_answers_entity_is_deleted(
    sf: Salesforce, org: SalesforceOrg, users: list[str]
) -> None:
    [event] = _events(org, users[0], 1)
    assert sf.Event.delete(event) == 204
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Event.get(event)
    assert caught.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
