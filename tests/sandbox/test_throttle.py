"""Throttling per app and mailbox: concurrency and a sliding request window, with Retry-After."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from syncd.sandbox import RunningSandbox
from syncd.sandbox.microsoft.directory import DirectoryUser
from tests.support import wait_until

from .helpers import Graph, make_session


def test_fifth_concurrent_request_to_a_mailbox_is_429(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    # Four requests are held in flight until the test has seen them all admitted; only
    # then come three more: the overlap does not depend on a loaded machine's timing.
    sandbox.faults.configure(latency_seconds=3.0)
    busy, quiet = people[0], people[1]

    def call(user: DirectoryUser) -> requests.Response:
        session = make_session(sandbox)
        try:
            return Graph(session, sandbox, graph.token).get(f"/users/{user.id}/events")
        finally:
            session.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        held = [pool.submit(call, busy) for _ in range(4)]
        wait_until(lambda: sandbox.throttle.peak_in_flight(busy.id) == 4, "4 in flight")
        crowd = [pool.submit(call, busy) for _ in range(3)]
        other = pool.submit(call, quiet)
        results = [f.result() for f in held + crowd]
        assert other.result().status_code == 200  # another mailbox has its own 4
    statuses = [r.status_code for r in results]
    assert statuses == [200] * 4 + [429] * 3
    rejected = next(r for r in results if r.status_code == 429)
    assert int(rejected.headers["Retry-After"]) >= 1
    assert rejected.json()["error"]["message"] == (
        "Application is over its MailboxConcurrency limit."
    )
    assert sandbox.counters.throttled == statuses.count(429)


def test_request_window_limits_and_recovers(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    sandbox.clock.freeze()
    sandbox.throttle.configure(requests_per_window=5, window_seconds=10)
    path = f"/users/{people[0].id}/events"
    assert [graph.get(path).status_code for _ in range(5)] == [200] * 5
    over = graph.get(path)
    assert over.status_code == 429
    assert over.headers["Retry-After"] == "10"
    assert graph.get(f"/users/{people[1].id}/events").status_code == 200  # other mailbox
    sandbox.clock.advance(int(over.headers["Retry-After"]))
    assert graph.get(path).status_code == 200


def test_throttling_can_be_switched_off(
    sandbox: RunningSandbox, graph: Graph, people: list[DirectoryUser]
) -> None:
    sandbox.throttle.configure(enabled=False, requests_per_window=1)
    path = f"/users/{people[0].id}/events"
    assert {graph.get(path).status_code for _ in range(3)} == {200}
