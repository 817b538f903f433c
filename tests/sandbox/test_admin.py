"""The /_sandbox/ admin API steers the same state the Python objects do."""

from __future__ import annotations

import requests

from syncd.sandbox import RunningSandbox
from syncd.sandbox.microsoft.directory import DirectoryUser

from .helpers import Graph


def test_faults_over_http(
    sandbox: RunningSandbox, http: requests.Session, graph: Graph, people: list[DirectoryUser]
) -> None:
    admin = f"{sandbox.base_url}/_sandbox"
    put = http.put(
        f"{admin}/faults",
        json={"fail_next": [{"status": 503, "mailbox": people[0].email}], "latency_seconds": 0},
    )
    assert put.status_code == 200
    assert put.json()["fail_next"] == [
        {"status": 503, "mailbox": people[0].email, "retry_after": None}
    ]
    assert graph.get(f"/users/{people[0].id}/events").status_code == 503
    assert http.put(f"{admin}/faults", json={"bogus": 1}).status_code == 400
    assert http.delete(f"{admin}/faults").json()["fail_next"] == []


def test_clock_stats_and_tokens_over_http(
    sandbox: RunningSandbox, http: requests.Session, graph: Graph, people: list[DirectoryUser]
) -> None:
    admin = f"{sandbox.base_url}/_sandbox"
    before = sandbox.clock.time()
    advanced = http.post(f"{admin}/clock/advance", json={"seconds": 3600})
    assert advanced.status_code == 200
    assert sandbox.clock.time() - before >= 3600
    assert http.post(f"{admin}/clock/freeze").json()["frozen"] is True
    assert http.post(f"{admin}/clock/resume").json()["frozen"] is False
    graph.get(f"/users/{people[0].id}/events")
    stats = http.get(f"{admin}/stats").json()
    assert stats["graph_requests"] == 1
    assert stats["tokens_issued"] == 1
    assert http.delete(f"{admin}/stats").json()["graph_requests"] == 0
    assert http.post(f"{admin}/tokens/revoke").json()["revoked"] >= 1
    assert graph.get(f"/users/{people[0].id}/events").status_code == 401


def test_limits_answers_policy_and_tenants_over_http(
    sandbox: RunningSandbox, http: requests.Session, graph: Graph, people: list[DirectoryUser]
) -> None:
    admin = f"{sandbox.base_url}/_sandbox"
    throttle = http.put(f"{admin}/throttle", json={"requests_per_window": 1})
    assert throttle.json()["requests_per_window"] == 1
    assert sandbox.throttle.limits.requests_per_window == 1
    answers = http.put(f"{admin}/answers", json={"delay_seconds": 30})
    assert answers.json()["delay_seconds"] == 30
    denied = http.post(f"{admin}/access-policy/deny", json={"mailbox": people[2].email})
    assert denied.json()["denied"] == [{"client_id": "*", "mailbox": people[2].email}]
    assert graph.get(f"/users/{people[2].id}/events").status_code == 403
    tenants = http.get(f"{admin}/tenants").json()
    assert [t["name"] for t in tenants] == ["Contoso", "Fabrikam"]
    assert "client_secret" not in tenants[0]
