"""Pure parts that adapt syncd to the org in front of it: the JWT audience, the org's
shape from describe, the queries built from it, Lightning series roles, and dateTime
values written with milliseconds."""

from __future__ import annotations

from typing import Any

import jwt
import pydantic
import pytest

from syncd.config import SalesforceLogin, SecretRef
from syncd.salesforce import (
    FULL_SHAPE,
    JwtBearerLogin,
    build_session,
    jwt_audience,
    login_from_config,
    read_shape,
    sf_datetime,
)
from syncd.sync import queries as q
from syncd.sync.recurrence import role
from syncd.sync.salesforce_event import Invitee, parse_event
from syncd.sync.writeback import relation_updates

# ---------------------------------------------------------------------- JWT audience


@pytest.mark.parametrize(
    ("login_url", "audience"),
    [
        ("https://login.salesforce.com", "https://login.salesforce.com"),
        ("https://acme.my.salesforce.com", "https://login.salesforce.com"),
        ("https://test.salesforce.com", "https://test.salesforce.com"),
        ("https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"),
        ("https://acme--uat.cs42.my.salesforce.com", "https://test.salesforce.com"),
        ("https://acme--uat.usa2s.sfdc-abc.salesforce.com", "https://test.salesforce.com"),
    ],
)
def test_jwt_audience_is_never_the_my_domain_url(login_url: str, audience: str) -> None:
    assert jwt_audience(login_url) == audience


def _aud(login: JwtBearerLogin) -> Any:
    return jwt.decode(login.assertion(), options={"verify_signature": False})["aud"]


def test_jwt_assertion_names_the_configured_or_derived_audience(
    monkeypatch: pytest.MonkeyPatch, rsa_pem: str
) -> None:
    monkeypatch.setenv("SF_TEST_KEY", rsa_pem)
    base = {
        "login_url": "https://acme.my.salesforce.com",
        "client_id": "3MVGclient",
        "username": "sync@acme.example",
        "private_key": SecretRef(env="SF_TEST_KEY"),
    }
    derived = login_from_config(SalesforceLogin(**base), build_session())
    assert isinstance(derived, JwtBearerLogin)
    assert _aud(derived) == "https://login.salesforce.com"
    site = "https://acme.my.site.com/customers"
    chosen = login_from_config(SalesforceLogin(**base, audience=site), build_session())
    assert isinstance(chosen, JwtBearerLogin)
    assert _aud(chosen) == site
    with pytest.raises(pydantic.ValidationError, match="https URL"):
        SalesforceLogin(**base, audience="login.salesforce.com")


# ------------------------------------------------------------------------ org shape


def _describe(fields: dict[str, list[str]]) -> Any:
    return lambda sobject: {"fields": [{"name": n} for n in fields[sobject]]}


def test_shape_from_describe() -> None:
    without = read_shape(
        _describe({"Event": ["Id", "GroupEventType"], "EventRelation": ["Id", "Status"]})
    )
    assert not without.shared_activities and not without.series_link
    assert without.optional_event_fields() == ("GroupEventType",)
    full = read_shape(
        _describe(
            {
                "Event": ["Id", "GroupEventType", "ActivityRecurrence2Id"],
                "EventRelation": ["Id", "IsInvitee", "IsParent", "IsWhat"],
            }
        )
    )
    assert full.shared_activities and full.series_link
    assert (FULL_SHAPE.shared_activities, FULL_SHAPE.series_link) == (True, True)
    assert full.optional_event_fields() == ("GroupEventType", "ActivityRecurrence2Id")


def test_relations_query_names_is_invitee_only_with_shared_activities() -> None:
    with_it = q.relations_of(["00U000000000001AAA"])
    assert "IsInvitee" in with_it and "IsInvitee = true" in with_it
    without = q.relations_of(["00U000000000001AAA"], shared_activities=False)
    assert "IsInvitee" not in without and "TYPEOF Relation" in without
    # Every row is an invitee there.
    invitees = parse_event(
        {"Id": "00U000000000001AAA"},
        [{"Id": "0RE000000000001AAA", "RelationId": "003000000000001AAA"}],
    ).invitees
    assert [i.relation_id for i in invitees] == ["003000000000001AAA"]


# ------------------------------------------------------------------ Lightning roles


def _event(**series: Any) -> Any:
    return parse_event({"Id": "00U000000000009AAA", **series})


def test_lightning_records_are_told_apart_by_group_event_type() -> None:
    link = "828000000000001AAA"
    record = _event(GroupEventType="3", ActivityRecurrence2Id=link, IsRecurrence2=True)
    occurrence = _event(GroupEventType="1", ActivityRecurrence2Id=link, IsRecurrence2=True)
    assert (role(record), role(occurrence)) == ("master", "occurrence")
    # An org whose API version lacks ActivityRecurrence2Id: the series record cannot find
    # its occurrences (they sync one by one).
    assert role(_event(GroupEventType="3", IsRecurrence2=True)) == "unlinked"
    assert role(_event(GroupEventType="0", IsRecurrence2=True)) == "single"
    # Classic: the main record carries its own id in RecurrenceActivityId.
    main = _event(IsRecurrence=True, RecurrenceActivityId="00U000000000009AAA")
    assert role(main) == "master"
    assert role(_event(RecurrenceActivityId="00U000000000001AAA")) == "occurrence"


# ---------------------------------------------------------------------- dateTimes


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("2026-01-05T09:00:00.1234567Z", "2026-01-05T09:00:00.123Z"),  # Graph: 7 digits
        ("2026-01-05T09:00:00.9999999", "2026-01-05T09:00:00.999Z"),  # no zone: UTC
        ("2026-01-05T10:00:00+01:00", "2026-01-05T09:00:00.000Z"),
        ("2026-01-05T09:00:00Z", "2026-01-05T09:00:00.000Z"),
    ],
)
def test_datetimes_are_written_with_milliseconds(value: str, written: str) -> None:
    assert sf_datetime(value) == written


def test_responded_date_is_written_with_milliseconds() -> None:
    invitee = Invitee("0RE000000000001AAA", "005000000000001AAA", "User", "ann@northwind.example")
    answer = {"response": "Accepted", "time": "2026-01-05T09:00:00.1234567Z"}
    [update] = relation_updates([invitee], {"ann@northwind.example": answer})
    assert update["Status"] == "Accepted"
    assert update["RespondedDate"] == "2026-01-05T09:00:00.123Z"
    bad = {"response": "Declined", "time": "not a time"}
    [update] = relation_updates([invitee], {"ann@northwind.example": bad})
    assert "RespondedDate" not in update
