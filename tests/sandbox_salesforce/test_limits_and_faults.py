"""The daily API budget, Sforce-Limit-Info, the limits resource, fault injection and counters."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceRefusedRequest

from syncd.sandbox.salesforce import ForcedError, SalesforceState

from .conftest import API_VERSION
from .helpers import TlsServer


def test_budget_exhausted_is_request_limit_exceeded(sf: Salesforce, state: SalesforceState) -> None:
    state.budget.configure(daily_limit=3)
    sf.query("SELECT Id FROM User LIMIT 1")
    usage = sf.api_usage["api-usage"]
    assert (usage.used, usage.total) == (1, 3)
    sf.query("SELECT Id FROM User LIMIT 1")
    sf.query("SELECT Id FROM User LIMIT 1")
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM User LIMIT 1")
    assert caught.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert state.counters.snapshot()["limit_refusals"] == 1


def test_budget_is_a_rolling_24_hours(sf: Salesforce, state: SalesforceState) -> None:
    state.auth.session_timeout_seconds = timedelta(days=2).total_seconds()
    state.budget.configure(daily_limit=2, used=2)
    with pytest.raises(SalesforceRefusedRequest):
        sf.limits()
    state.clock.advance(timedelta(hours=24, seconds=1).total_seconds())
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 2, "Remaining": 1}


def test_limit_info_header_on_every_api_answer(
    sf_server: TlsServer, http: requests.Session, token: str, state: SalesforceState
) -> None:
    base = f"{sf_server.base_url}/services/data/v{API_VERSION}"
    headers = {"Authorization": f"Bearer {token}"}
    ok = http.get(f"{base}/limits/", headers=headers)
    assert ok.headers["Sforce-Limit-Info"] == "api-usage=1/100000"
    bad = http.get(f"{base}/query/", params={"q": "SELECT Nope FROM Event"}, headers=headers)
    assert bad.status_code == 400
    assert bad.headers["Sforce-Limit-Info"] == "api-usage=2/100000"
    assert http.get(f"{sf_server.base_url}/services/data/").status_code == 200  # does not count
    assert state.budget.usage() == (2, 100000)


def test_forced_errors_and_counters(sf: Salesforce, state: SalesforceState) -> None:
    state.faults.fail_next(503, resource="composite")
    state.faults.fail_next(ForcedError(500, "UNKNOWN_EXCEPTION", "boom"))
    with pytest.raises(SalesforceGeneralError) as caught:
        sf.query("SELECT Id FROM User")
    assert caught.value.status == 500
    assert caught.value.content == [{"message": "boom", "errorCode": "UNKNOWN_EXCEPTION"}]
    sf.query("SELECT Id FROM User")  # the 503 waits for a composite call
    with pytest.raises(SalesforceGeneralError) as caught:
        sf.restful("composite/sobjects", method="PATCH", json={"records": []})
    assert caught.value.status == 503
    snapshot = state.counters.snapshot()
    assert snapshot["per_resource"] == {"query": 2, "composite": 1}
    assert snapshot["faults_injected"] == 2
    assert snapshot["per_status"] == {"500": 1, "200": 1, "503": 1}
    assert snapshot["per_route"]["GET /services/data/vXX.X/query"] == 2


def test_admin_api(
    sf_server: TlsServer, http: requests.Session, state: SalesforceState, users: list[str]
) -> None:
    admin = f"{sf_server.base_url}/_sandbox/salesforce"
    faults = http.put(
        f"{admin}/faults", json={"latency_seconds": 0.01, "fail_next": [{"status": 503}]}
    )
    assert faults.json()["fail_next"][0]["status"] == 503
    assert http.put(f"{admin}/limits", json={"daily_limit": 50}).json() == {
        "daily_limit": 50,
        "used": 0,
    }
    created = http.post(
        f"{admin}/events",
        json={
            "owner": users[0],
            "subject": "From curl",
            "start": "2026-01-06T10:00:00Z",
            "duration_minutes": 30,
            "invitees": [users[1]],
        },
    )
    assert created.status_code == 200, created.text
    event = created.json()["id"]
    assert state.org.record(event)["Subject"] == "From curl"
    answer = http.post(
        f"{admin}/events/{event}/responses", json={"who": users[1], "status": "Declined"}
    )
    assert answer.status_code == 200
    assert state.org.invitees(event)[0]["Status"] == "Declined"
    bad = http.patch(f"{admin}/events/{event}", json={"DurationInMinutes": -5})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert http.post(f"{admin}/clock/advance", json={"seconds": 60}).json()["frozen"] is True
    assert (
        http.put(f"{admin}/settings", json={"recycle_bin_days": 2}).json()["recycle_bin_days"] == 2
    )
    assert http.get(f"{admin}/org").json()["counts"]["Event"]["live"] == 2
    assert http.post(f"{admin}/sessions/revoke").status_code == 200
    assert "api_calls" in http.get(f"{admin}/stats").json()
