"""query / queryAll through simple-salesforce: shapes, paging, deleted rows, hostile strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from syncd.sandbox.salesforce import SalesforceOrg, SalesforceState

from .conftest import API_VERSION
from .helpers import T0, TlsServer

INVITEES_SOQL = (
    "SELECT Id, Subject, StartDateTime, IsAllDayEvent, Owner.Email, Owner.Name, Who.Name, "
    "(SELECT Id, Status, IsInvitee, TYPEOF Relation WHEN User THEN Email, Name "
    "WHEN Contact THEN Email WHEN Lead THEN Email ELSE Email END "
    "FROM EventRelations WHERE IsInvitee = true) "
    "FROM Event WHERE IsChild = false ORDER BY StartDateTime"
)


def test_relationships_typeof_and_child_subquery(
    sf: Salesforce, org: SalesforceOrg, users: list[str]
) -> None:
    contact = org.ids_of("Contact")[0]
    lead = org.ids_of("Lead")[0]
    start = T0 + timedelta(days=1, hours=1)
    group = org.create_event(
        users[0], "Group", start, start + timedelta(hours=1), invitees=[users[1], contact, lead]
    )
    org.create_event(users[0], "Alone", start + timedelta(days=1), duration_minutes=30)
    result = sf.query(INVITEES_SOQL)
    assert result["totalSize"] == 2 and result["done"] is True
    first, second = result["records"]
    assert first["attributes"] == {
        "type": "Event",
        "url": f"/services/data/v{API_VERSION}/sobjects/Event/{group}",
    }
    assert first["StartDateTime"] == "2026-01-06T10:00:00.000+0000"
    assert first["Owner"]["Email"] == org.record(users[0])["Email"]
    assert first["Who"] is None  # empty lookup renders as null
    relations = first["EventRelations"]
    assert relations["totalSize"] == 3 and relations["done"] is True
    by_type = {r["Relation"]["attributes"]["type"]: r["Relation"] for r in relations["records"]}
    assert set(by_type) == {"User", "Contact", "Lead"}
    assert by_type["User"]["Name"] == org.record(users[1])["Name"]
    assert by_type["Contact"]["Email"] == org.record(contact)["Email"]
    assert set(by_type["Lead"]) == {"attributes", "Email"}
    assert second["EventRelations"] is None  # no rows: null, not an empty list


def test_polymorphic_relation_without_typeof_reads_the_name_object(
    sf: Salesforce, org: SalesforceOrg, users: list[str]
) -> None:
    contact = org.ids_of("Contact")[0]
    event = org.create_event(
        users[0], "Mixed", T0, duration_minutes=30, invitees=[users[1], contact]
    )
    rows = sf.query(
        format_soql(
            "SELECT Relation.Email, Relation.Type FROM EventRelation WHERE EventId = {} "
            "ORDER BY Relation.Type DESC",
            event,
        )
    )["records"]
    assert [r["Relation"]["Type"] for r in rows] == ["User", "Contact"]
    assert rows[0]["Relation"]["attributes"]["type"] == "Name"
    assert rows[0]["Relation"]["Email"] == org.record(users[1])["Email"]
    assert rows[1]["Relation"]["Email"] is None  # users only, see NOTES-salesforce.md


def test_query_all_pages_with_next_records_url(
    sf: Salesforce, state: SalesforceState, users: list[str]
) -> None:
    for index in range(2500):
        state.org.create_event(users[index % len(users)], f"E{index}", T0, duration_minutes=30)
    first = sf.query("SELECT Id, Subject FROM Event")
    assert first["done"] is False and first["totalSize"] == 2500
    assert len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith(f"/services/data/v{API_VERSION}/query/01g")
    assert first["nextRecordsUrl"].endswith("-2000")
    everything = sf.query_all("SELECT Id, Subject FROM Event")
    assert everything["totalSize"] == 2500
    assert len({r["Id"] for r in everything["records"]}) == 2500
    per_resource = state.counters.snapshot()["per_resource"]
    assert per_resource["query"] == 2 and per_resource["query_more"] == 1


def test_batch_size_header(sf: Salesforce, org: SalesforceOrg, users: list[str]) -> None:
    for index in range(450):
        org.create_event(users[0], f"E{index}", T0, duration_minutes=30)
    page = sf.query("SELECT Id FROM Event", headers={"Sforce-Query-Options": "batchSize=200"})
    assert len(page["records"]) == 200 and page["nextRecordsUrl"].endswith("-200")
    rest = sf.query_more(page["nextRecordsUrl"], identifier_is_url=True)
    assert len(rest["records"]) == 200 and rest["nextRecordsUrl"].endswith("-400")
    last = sf.query_more(rest["nextRecordsUrl"], identifier_is_url=True)
    assert last["done"] is True and "nextRecordsUrl" not in last and len(last["records"]) == 50
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more(rest["nextRecordsUrl"], identifier_is_url=True)  # cursor is closed
    assert caught.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_query_all_shows_deleted_rows(sf: Salesforce, org: SalesforceOrg, users: list[str]) -> None:
    keep = org.create_event(users[0], "Keep", T0, duration_minutes=30)
    gone = org.create_event(users[0], "Gone", T0, duration_minutes=30, invitees=[users[1]])
    org.delete_event(gone)
    live = sf.query("SELECT Id FROM Event WHERE IsChild = false")
    assert [r["Id"] for r in live["records"]] == [keep]
    everything = sf.query_all(
        "SELECT Id, IsDeleted FROM Event WHERE IsChild = false", include_deleted=True
    )
    assert {r["Id"]: r["IsDeleted"] for r in everything["records"]} == {keep: False, gone: True}
    relations = sf.query_all("SELECT Id, IsDeleted FROM EventRelation", include_deleted=True)
    assert [r["IsDeleted"] for r in relations["records"]] == [True]


@pytest.mark.parametrize(
    "hostile",
    ["' OR Id != null", "O'Brien", "back\\slash", "quote\" and 'single'", "new\nline", "50% _off_"],
)
def test_format_soql_values_stay_inert(
    sf: Salesforce, org: SalesforceOrg, users: list[str], hostile: str
) -> None:
    org.create_event(users[0], "Decoy", T0, duration_minutes=30)
    wanted = org.create_event(users[0], hostile, T0, duration_minutes=30)
    rows = sf.query(format_soql("SELECT Id, Subject FROM Event WHERE Subject = {}", hostile))[
        "records"
    ]
    assert [(r["Id"], r["Subject"]) for r in rows] == [(wanted, hostile)]
    like = format_soql("SELECT Id FROM Event WHERE Subject LIKE '{:like}%'", hostile[:4])
    assert [r["Id"] for r in sf.query(like)["records"]] == [wanted]


def test_datetime_literals_and_date_ranges(
    sf: Salesforce, org: SalesforceOrg, users: list[str]
) -> None:
    early = org.create_event(users[0], "Early", T0 + timedelta(hours=1), duration_minutes=30)
    late = org.create_event(users[0], "Late", T0 + timedelta(days=3), duration_minutes=30)
    queries = {
        "SELECT Id FROM Event WHERE StartDateTime > 2026-01-06T00:00:00Z": [late],
        "SELECT Id FROM Event WHERE StartDateTime > 2026-01-06T00:00:00.000Z": [late],
        "SELECT Id FROM Event WHERE StartDateTime < 2026-01-05T11:30:00+01:00": [early],
        "SELECT Id FROM Event WHERE StartDateTime = TODAY": [early],
        "SELECT Id FROM Event WHERE StartDateTime = NEXT_N_DAYS:3": [late],
        "SELECT Id FROM Event WHERE ActivityDate >= 2026-01-06": [late],
        "SELECT Id FROM Event WHERE CreatedDate = LAST_N_DAYS:1 ORDER BY StartDateTime DESC": [
            late,
            early,
        ],
    }
    for soql, expected in queries.items():
        assert [r["Id"] for r in sf.query(soql)["records"]] == expected, soql
    since = datetime(2026, 1, 6, tzinfo=UTC)
    via_format = format_soql("SELECT Id FROM Event WHERE StartDateTime >= {}", since)
    assert [r["Id"] for r in sf.query(via_format)["records"]] == [late]
    assert sf.query("SELECT COUNT() FROM Event")["totalSize"] == 2


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROMM Event", "MALFORMED_QUERY"),
        ("SELECT Nope FROM Event", "INVALID_FIELD"),
        ("SELECT Id FROM Meeting", "INVALID_TYPE"),
        ("SELECT Id FROM Event WHERE StartDateTime > '2026-01-01'", "INVALID_FIELD"),
        ("SELECT Id FROM Event WHERE IsPrivate = 'true'", "INVALID_FIELD"),
        (
            "SELECT Id FROM Event WHERE Subject = 'a' AND IsPrivate = true OR IsChild = true",
            "MALFORMED_QUERY",
        ),
        ("SELECT Id FROM Event WHERE Subject = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT Id FROM Event WHERE Id = 'not-an-id'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id, (SELECT Id FROM Invitees) FROM Event", "INVALID_TYPE"),
        ("SELECT Owner.Nope FROM Event", "INVALID_FIELD"),
    ],
)
def test_errors_are_salesforce_shaped(sf: Salesforce, soql: str, code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(soql)
    [error] = caught.value.content
    assert error["errorCode"] == code
    assert "ERROR at Row:1:Column:" in error["message"]


def test_record_get_and_unknown_version(
    sf: Salesforce,
    sf_server: TlsServer,
    http: requests.Session,
    token: str,
    org: SalesforceOrg,
    users: list[str],
) -> None:
    event = org.create_event(users[0], "Get me", T0, duration_minutes=45)
    record = sf.Event.get(event[:15])  # 15-character ids work too
    assert record["Id"] == event and record["DurationInMinutes"] == 45
    assert record["EndDateTime"] == "2026-01-05T09:45:00.000+0000"
    response = http.get(
        f"{sf_server.base_url}/services/data/v39.0/limits/",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 404
    versions = http.get(f"{sf_server.base_url}/services/data/").json()
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in versions
