"""Fault injection: latency, forced statuses, seeded random errors, dropped connections."""

from __future__ import annotations

import time

import pytest
import requests

from syncd.sandbox import ForcedFailure, RunningSandbox
from syncd.sandbox.microsoft.directory import DirectoryUser

from .helpers import Graph


def test_latency_slows_graph_requests(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    sandbox.faults.configure(latency_seconds=0.3)
    started = time.monotonic()
    assert graph.get(f"/users/{people[0].id}/events").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_fail_next_forces_statuses_in_order(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    sandbox.faults.fail_next(429, 503, 504)
    path = f"/users/{people[0].id}/events"
    answers = [graph.get(path) for _ in range(4)]
    assert [r.status_code for r in answers] == [429, 503, 504, 200]
    assert answers[0].headers["Retry-After"] == "1"
    assert answers[1].json()["error"]["code"] == "ServiceUnavailable"
    assert "Retry-After" not in answers[2].headers
    assert sandbox.counters.faults_injected == 3


def test_fail_next_can_target_one_mailbox(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    target, other = people[0], people[1]
    sandbox.faults.fail_next(ForcedFailure(503, mailbox=target.email, retry_after=7))
    assert graph.get(f"/users/{other.id}/events").status_code == 200
    failed = graph.get(f"/users/{target.id}/events")
    assert failed.status_code == 503
    assert failed.headers["Retry-After"] == "7"
    assert graph.get(f"/users/{target.id}/events").status_code == 200


def test_error_rate_is_seeded(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    path = f"/users/{people[0].id}/events"

    def run() -> list[int]:
        sandbox.faults.reset()
        sandbox.faults.configure(error_rate=0.5, seed=1234)
        return [graph.get(path).status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert set(first) <= {200, 503, 504}
    assert 200 in first and len(set(first)) > 1


def test_dropped_connection(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    sandbox.faults.configure(reset_connection_rate=1.0)
    with pytest.raises(requests.exceptions.RequestException):
        graph.get(f"/users/{people[0].id}/events")
    sandbox.faults.configure(reset_connection_rate=0.0)
    assert graph.get(f"/users/{people[0].id}/events").status_code == 200


def test_counters_tally_routes_and_mailboxes(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    for _ in range(3):
        graph.get(f"/users/{people[0].email}/events")
    graph.get(f"/users/{people[1].id}")
    snapshot = sandbox.counters.snapshot()
    assert snapshot["graph_requests"] == 4
    assert snapshot["per_route"] == {"GET /users/{user}/events": 3, "GET /users/{user}": 1}
    assert snapshot["per_mailbox"] == {people[0].email: 3, people[1].email: 1}
    assert snapshot["per_status"] == {"200": 4}
    sandbox.counters.reset()
    assert sandbox.counters.snapshot()["graph_requests"] == 0
