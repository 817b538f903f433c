"""The sandbox Graph as strict as the real one where syncd depends on it: Teams stays on,
a $batch can fail whole with 424, and a mailbox's 4 concurrent requests belong to the
app (every client, token and connection of it together)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from syncd.sandbox import RunningSandbox
from syncd.sandbox.faults import BatchFailure, ForcedFailure
from syncd.sandbox.microsoft.directory import DirectoryUser
from tests.support import wait_until

from .helpers import Graph, attendee, event_body, fetch_token, make_session


def test_teams_cannot_be_switched_off_once_on(graph: Graph, people: list[DirectoryUser]) -> None:
    """https://learn.microsoft.com/graph/api/resources/event#properties: "Subsequently
    Outlook ignores any further changes to isOnlineMeeting, and the meeting remains
    available online" (ignored: the PATCH succeeds)."""
    mailbox = people[0].email
    created = graph.post(
        f"/users/{mailbox}/events",
        json=event_body(
            attendees=[attendee(people[1])],
            isOnlineMeeting=True,
            onlineMeetingProvider="teamsForBusiness",
        ),
    ).json()
    join_url = created["onlineMeeting"]["joinUrl"]

    patched = graph.patch(
        f"/users/{mailbox}/events/{created['id']}",
        json={"isOnlineMeeting": False, "onlineMeetingProvider": "unknown", "subject": "Offline?"},
    )

    assert patched.status_code == 200
    for event in (patched.json(), graph.get(f"/users/{mailbox}/events/{created['id']}").json()):
        assert event["subject"] == "Offline?"  # the rest of the PATCH applies
        assert event["isOnlineMeeting"] is True
        assert event["onlineMeetingProvider"] == "teamsForBusiness"
        assert event["onlineMeeting"]["joinUrl"] == join_url


def test_a_meeting_not_online_can_still_go_online(
    graph: Graph, people: list[DirectoryUser]
) -> None:
    mailbox = people[0].email
    created = graph.post(f"/users/{mailbox}/events", json=event_body()).json()
    assert created["onlineMeeting"] is None

    patched = graph.patch(
        f"/users/{mailbox}/events/{created['id']}",
        json={"isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness"},
    ).json()

    assert patched["isOnlineMeeting"] is True and patched["onlineMeeting"]["joinUrl"]


def _batch_of_three(mailbox: str) -> dict[str, object]:
    return {
        "requests": [
            {"id": str(n), "method": "GET", "url": f"/users/{mailbox}/events"} for n in (1, 2, 3)
        ]
    }


def test_a_throttled_request_fails_its_batch_whole_when_told_to(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    """https://learn.microsoft.com/graph/throttling#throttling-and-batching: "The batch
    itself fails with a status code of 424"; json-batching's 200 stays the default."""
    mailbox = people[0].email
    sandbox.faults.fail_next(ForcedFailure(429, mailbox=mailbox))
    assert graph.post("/$batch", json=_batch_of_three(mailbox)).status_code == 200

    sandbox.faults.configure(throttled_batch_status=424)
    sandbox.faults.fail_next(ForcedFailure(429, mailbox=mailbox))
    response = graph.post("/$batch", json=_batch_of_three(mailbox))

    assert response.status_code == 424
    statuses = sorted(item["status"] for item in response.json()["responses"])
    assert statuses == [200, 200, 429]  # the answers come with the failed envelope
    # Nothing throttled, nothing failed: 200 again.
    assert graph.post("/$batch", json=_batch_of_three(mailbox)).status_code == 200


def test_a_batch_can_be_failed_whole_on_demand(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    mailbox = people[0].email
    sandbox.faults.configure(retry_after_seconds=4)
    sandbox.faults.fail_next_batch(BatchFailure(424, run_requests=False), BatchFailure(424))

    bare = graph.post("/$batch", json=_batch_of_three(mailbox))
    assert bare.status_code == 424
    assert "responses" not in bare.json() and bare.json()["error"]["code"]
    assert bare.headers["Retry-After"] == "4"
    assert sandbox.counters.batch_inner_requests == 0  # nothing was carried out

    answered = graph.post("/$batch", json=_batch_of_three(mailbox))
    assert answered.status_code == 424
    assert [item["status"] for item in answered.json()["responses"]] == [200, 200, 200]
    assert graph.post("/$batch", json=_batch_of_three(mailbox)).status_code == 200
    # The knobs show up in the admin snapshot, and reset clears them.
    sandbox.faults.fail_next_batch()
    assert sandbox.faults.snapshot()["fail_next_batch"] == [{"status": 424, "run_requests": True}]
    sandbox.faults.reset()
    assert sandbox.faults.snapshot()["fail_next_batch"] == []


def test_the_four_concurrent_requests_belong_to_the_app_not_to_a_client(
    sandbox: RunningSandbox, people: list[DirectoryUser]
) -> None:
    """Two clients of one app (separate connections, separate tokens, as a daemon and an
    API process) share a mailbox's 4: "Outlook service limits are evaluated for each
    app ID and mailbox combination"
    (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits)."""
    # Each admitted request is held long enough that the test sees all four in flight
    # before it sends two more: the overlap does not depend on how fast threads start
    # on a loaded machine.
    sandbox.faults.configure(latency_seconds=3.0)
    mailbox = people[0]
    sessions = [make_session(sandbox) for _ in range(2)]
    clients = [Graph(s, sandbox, fetch_token(s, sandbox)) for s in sessions]
    assert clients[0].token != clients[1].token

    def call(client: Graph) -> requests.Response:
        return client.get(f"/users/{mailbox.id}/events")

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            held = [pool.submit(call, clients[n % 2]) for n in range(4)]
            wait_until(lambda: sandbox.throttle.peak_in_flight(mailbox.id) == 4, "4 in flight")
            extra = [pool.submit(call, clients[n % 2]) for n in range(2)]
            results = [f.result() for f in held + extra]
    finally:
        for session in sessions:
            session.close()

    refused = [r for r in results if r.status_code == 429]
    # 4 admitted, then one more from each client: refused whichever client sent it.
    assert [r.status_code for r in results] == [200] * 4 + [429] * 2
    assert all(
        r.json()["error"]["message"] == "Application is over its MailboxConcurrency limit."
        for r in refused
    )
    assert sandbox.throttle.peak_in_flight(mailbox.id) == 4
    assert sandbox.throttle.concurrency_refusals == len(refused)
    sandbox.throttle.reset()
    assert sandbox.throttle.peak_in_flight() == 0 and sandbox.throttle.concurrency_refusals == 0
