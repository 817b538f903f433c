"""Orgs as they really come: Shared Activities off, fields by API version, Lightning series
records, critical changes and dateTime precision -- over real TLS with simple-salesforce."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from syncd.config import load_config
from syncd.runtime import sandbox_specs
from syncd.sandbox.salesforce import SalesforceOrg, SalesforceState
from syncd.sandbox.salesforce.recurrence import (
    SeriesIds,
    create_lightning_series,
    critical_change,
)
from syncd.sandbox.server import SandboxTenantSpec, start_sandbox

from .helpers import T0, TlsServer

SERIES_FIELDS = (
    "Id, GroupEventType, ActivityRecurrence2Id, RecurrenceActivityId, IsRecurrence, "
    "IsRecurrence2, Recurrence2PatternText"
)


def _api(sf_server: TlsServer, http: requests.Session, token: str, version: str) -> Salesforce:
    return Salesforce(
        instance_url=sf_server.base_url, session_id=token, session=http, version=version
    )


def _fields(sf: Salesforce, sobject: str) -> set[str]:
    return {f["name"] for f in getattr(sf, sobject).describe()["fields"]}


def _weekly(org: SalesforceOrg, owner: str, invitees: Sequence[str] = ()) -> SeriesIds:
    return create_lightning_series(
        org,
        owner,
        T0 + timedelta(days=7),
        timedelta(minutes=30),
        rrule="RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3",
        time_zone="Europe/Berlin",
        subject="Pipeline",
        invitees=invitees,
    )


# -- Shared Activities -------------------------------------------------------------------


def test_without_shared_activities_event_relation_has_no_is_invitee(
    sf_server: TlsServer,
    http: requests.Session,
    sf: Salesforce,
    org: SalesforceOrg,
    users: list[str],
) -> None:
    contact = org.add_contact("jo.buyer@fabrikam.example", "Jo", "Buyer")
    admin = f"{sf_server.base_url}/_sandbox/salesforce/settings"
    assert http.put(admin, json={"shared_activities": False}).json()["shared_activities"] is False
    event = org.create_event(
        users[0], "Demo", T0, duration_minutes=30, invitees=[users[1]], who=contact
    )

    assert {"IsInvitee", "IsParent", "IsWhat"}.isdisjoint(_fields(sf, "EventRelation"))
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(format_soql("SELECT Id, IsInvitee FROM EventRelation WHERE EventId = {}", event))
    [error] = caught.value.content
    assert error["errorCode"] == "INVALID_FIELD"
    assert "No such column 'IsInvitee' on entity 'EventRelation'" in error["message"]
    # Every EventRelation is an invitee: the Who is no row of its own.
    rows = sf.query(format_soql("SELECT RelationId FROM EventRelation WHERE EventId = {}", event))
    assert [r["RelationId"] for r in rows["records"]] == [users[1]]

    http.put(admin, json={"shared_activities": True})
    assert {"IsInvitee", "IsParent", "IsWhat"} <= _fields(sf, "EventRelation")


def test_shared_activities_is_set_from_the_tenant_config(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    (tenants / "crm.toml").write_text(
        'provider = "sandbox"\nmail_domains = ["northwind.example"]\n\n'
        "[sandbox]\nsalesforce_events = 0\nusers = 3\nshared_activities = false\n"
    )
    (tmp_path / "syncd.toml").write_text('tenants_dir = "tenants"\nstate_dir = "state"\n')
    [spec] = sandbox_specs(load_config(tmp_path / "syncd.toml"))
    assert spec == SandboxTenantSpec(
        "crm", "northwind.example", users=3, salesforce_events=0, shared_activities=False
    )
    with start_sandbox(state_dir=tmp_path / "sandbox", tenants=[spec]) as running:
        assert running.org("crm").org.settings.shared_activities is False


# -- Lightning series ----------------------------------------------------------------------


def test_lightning_series_records_share_activity_recurrence2_id(
    sf_server: TlsServer, http: requests.Session, token: str, org: SalesforceOrg, users: list[str]
) -> None:
    series = _weekly(org, users[0])
    sf = _api(sf_server, http, token, "65.0")
    ids = [series.master, *series.occurrences]
    rows = {
        r["Id"]: r
        for r in sf.query(
            format_soql("SELECT {:literal} FROM Event WHERE Id IN {}", SERIES_FIELDS, ids)
        )["records"]
    }
    master = rows[series.master]
    assert master["GroupEventType"] == "3"  # the series record
    link = master["ActivityRecurrence2Id"]
    assert link.startswith("828")
    for occurrence in series.occurrences:
        row = rows[occurrence]
        assert row["GroupEventType"] == "0"
        assert row["ActivityRecurrence2Id"] == link
    for row in rows.values():
        assert row["RecurrenceActivityId"] is None and row["IsRecurrence"] is False
        assert row["IsRecurrence2"] is True
        assert row["Recurrence2PatternText"] == "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3"
    found = sf.query(format_soql("SELECT Id FROM Event WHERE ActivityRecurrence2Id = {}", link))
    assert {r["Id"] for r in found["records"]} == set(ids)


def test_activity_recurrence2_id_exists_from_api_65(
    sf_server: TlsServer, http: requests.Session, token: str, org: SalesforceOrg, users: list[str]
) -> None:
    old = _api(sf_server, http, token, "64.0")
    assert "ActivityRecurrence2Id" not in _fields(old, "Event")
    assert "GroupEventType" in _fields(old, "Event")
    with pytest.raises(SalesforceMalformedRequest) as caught:
        old.query("SELECT Id, ActivityRecurrence2Id FROM Event")
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert "ActivityRecurrence2Id" in _fields(_api(sf_server, http, token, "65.0"), "Event")


def test_a_critical_change_deletes_and_recreates_the_series(
    sf_server: TlsServer, http: requests.Session, token: str, org: SalesforceOrg, users: list[str]
) -> None:
    old = _weekly(org, users[0], [users[1]])
    link = org.record(old.master)["ActivityRecurrence2Id"]
    org.clock.advance(120)

    new = critical_change(org, old.master, rrule="RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=3")

    assert {new.master, *new.occurrences}.isdisjoint({old.master, *old.occurrences})
    master = org.record(new.master)
    assert master["ActivityRecurrence2Id"] not in (None, link)
    assert master["Subject"] == "Pipeline"
    assert master["Recurrence2PatternText"] == "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=3"
    assert [r["RelationId"] for r in org.invitees(new.master) if r["IsInvitee"]] == [users[1]]
    assert len(new.occurrences) == 3
    org.clock.advance(120)
    sf = _api(sf_server, http, token, "65.0")
    deleted = sf.Event.deleted(T0, org.now())
    assert {r["id"] for r in deleted["deletedRecords"]} >= {old.master, *old.occurrences}


# -- dateTime precision --------------------------------------------------------------------


def test_datetime_takes_milliseconds_not_more(
    sf: Salesforce, state: SalesforceState, org: SalesforceOrg, users: list[str]
) -> None:
    event = org.create_event(users[0], "Invite", T0, duration_minutes=30, invitees=[users[1]])
    [relation] = org.invitees(event)
    graph_time = "2026-01-05T09:00:00.1234567Z"  # Graph's DateTimeOffset: 7 digits
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.EventRelation.update(relation["Id"], {"Status": "Accepted", "RespondedDate": graph_time})
    [error] = caught.value.content
    assert error["errorCode"] == "JSON_PARSER_ERROR"
    assert error["message"].startswith(
        f"Cannot deserialize instance of datetime from VALUE_STRING value {graph_time}"
    )
    assert org.invitees(event)[0]["Status"] == "New"
    # In a collection the body cannot be read at all: the whole request fails, none lands.
    records = [
        {"attributes": {"type": "EventRelation"}, "id": relation["Id"], "Status": "Accepted"},
        {"attributes": {"type": "Event"}, "id": event, "Synced_At__c": graph_time},
    ]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful(
            "composite/sobjects",
            method="PATCH",
            json={"allOrNone": False, "records": records},
        )
    assert caught.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert org.invitees(event)[0]["Status"] == "New"

    sf.EventRelation.update(
        relation["Id"], {"Status": "Accepted", "RespondedDate": "2026-01-05T09:00:00.123Z"}
    )
    answered = org.invitees(event)[0]
    assert answered["Status"] == "Accepted"
    assert answered["RespondedDate"] == T0 + timedelta(milliseconds=123)
