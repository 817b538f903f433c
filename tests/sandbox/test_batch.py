"""JSON batching: mixed answers, inner throttling, dependsOn, and the 20-request limit."""

from __future__ import annotations

from typing import Any

from syncd.sandbox import RunningSandbox
from syncd.sandbox.microsoft.directory import DirectoryUser

from .helpers import Graph, event_body


def by_id(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in response["responses"]}


def test_batch_mixes_results(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    mailbox = people[0].email
    requests_ = [
        {
            "id": "1",
            "method": "POST",
            "url": f"/users/{mailbox}/events",
            "headers": {"Content-Type": "application/json"},
            "body": event_body("from batch"),
        },
        {"id": "2", "method": "GET", "url": f"/users/{mailbox}/events?$select=subject"},
        {"id": "3", "method": "GET", "url": "/users/ghost@contoso.example/events"},
        {
            "id": "4",
            "method": "GET",
            "url": f"users/{people[1].id}",
            "headers": {"client-request-id": "inner-4"},
        },
    ]
    response = graph.post("/$batch", json={"requests": requests_})
    assert response.status_code == 200
    items = by_id(response.json())
    assert items["1"]["status"] == 201
    assert items["1"]["body"]["subject"] == "from batch"
    assert items["2"]["status"] == 200
    assert items["3"]["status"] == 404
    assert items["3"]["body"]["error"]["code"] == "ErrorInvalidUser"
    assert items["4"]["headers"]["client-request-id"] == "inner-4"
    assert sandbox.counters.graph_requests == 1
    assert sandbox.counters.batch_inner_requests == 4


def test_inner_requests_are_throttled_on_their_own(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    sandbox.throttle.configure(requests_per_window=3, window_seconds=60)
    mailbox = people[0].email
    batch = [{"id": str(n), "method": "GET", "url": f"/users/{mailbox}/events"} for n in range(5)]
    response = graph.post("/$batch", json={"requests": batch})
    assert response.status_code == 200
    statuses = sorted(item["status"] for item in response.json()["responses"])
    assert statuses == [200, 200, 200, 429, 429]
    throttled = [i for i in response.json()["responses"] if i["status"] == 429]
    assert all(int(i["headers"]["Retry-After"]) >= 1 for i in throttled)
    assert throttled[0]["body"]["error"]["code"] == "ApplicationThrottled"


def test_depends_on_runs_in_order_and_fails_dependents(
    graph: Graph, people: list[DirectoryUser]
) -> None:
    mailbox = people[0].email
    batch = [
        {"id": "c", "method": "GET", "url": f"/users/{mailbox}/events", "dependsOn": ["b"]},
        {
            "id": "b",
            "method": "POST",
            "url": f"/users/{mailbox}/events",
            "dependsOn": ["a"],
            "headers": {"Content-Type": "application/json"},
            "body": event_body("second"),
        },
        {
            "id": "a",
            "method": "POST",
            "url": f"/users/{mailbox}/events",
            "headers": {"Content-Type": "application/json"},
            "body": event_body("first"),
        },
        {"id": "x", "method": "GET", "url": "/users/ghost@contoso.example/events"},
        {"id": "y", "method": "GET", "url": f"/users/{mailbox}/events", "dependsOn": ["x"]},
    ]
    items = by_id(graph.post("/$batch", json={"requests": batch}).json())
    assert [items[k]["status"] for k in "abcxy"] == [201, 201, 200, 404, 424]
    assert [e["subject"] for e in items["c"]["body"]["value"]] == ["first", "second"]


def test_envelope_errors_are_400(graph: Graph, people: list[DirectoryUser]) -> None:
    mailbox = people[0].email
    too_many = [{"id": str(n), "method": "GET", "url": f"/users/{mailbox}"} for n in range(21)]
    response = graph.post("/$batch", json={"requests": too_many})
    assert response.status_code == 400
    duplicate = [{"id": "1", "method": "GET", "url": "/users/a"}] * 2
    assert graph.post("/$batch", json={"requests": duplicate}).status_code == 400
    unknown_dependency = [{"id": "1", "method": "GET", "url": "/users/a", "dependsOn": ["9"]}]
    assert graph.post("/$batch", json={"requests": unknown_dependency}).status_code == 400
    assert graph.post("/$batch", json={"nope": []}).status_code == 400
