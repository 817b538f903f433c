"""POST, PATCH, DELETE and GET of one meeting, overlapping, in every order, in one API process.

The 24 orders run side by side (one meeting and one organizer each) at three Graph
latencies; each request is sent while the one before it is still in flight. Outlook's
final state and the ledger must fit the answers (tests/api/interleavings.py): above all,
a DELETE that was answered is never undone by a request that overlapped it, and no
attendee is invited twice. The same check across two API processes on PostgreSQL is
tests/scale_out/test_interleavings_replicas.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from syncd.runtime import Runtime
from syncd.sandbox.server import RunningSandbox
from tests.support import users_of

from .interleavings import ORDERS, check, http_sender, run_all, scenarios_for
from .live import bearer_client


@pytest.fixture
def demo(runtime: Runtime, api_url: str) -> Iterator[httpx.Client]:
    with bearer_client(runtime, api_url, "demo") as client:
        yield client


@pytest.mark.parametrize("latency", [0.0, 0.1, 0.3])
def test_overlapping_requests_leave_outlook_as_the_answers_say(
    latency: float,
    demo: httpx.Client,
    runtime: Runtime,
    fresh_sandbox: RunningSandbox,
) -> None:
    fresh_sandbox.faults.configure(latency_seconds=latency)
    scenarios = scenarios_for(users_of(fresh_sandbox, "demo"), ORDERS)
    # Each request starts while the one before is still talking to Graph.
    run_all(scenarios, http_sender([demo]), stagger=max(latency / 2, 0.02))
    fresh_sandbox.faults.configure(latency_seconds=0)
    for scenario in scenarios:
        check(scenario, fresh_sandbox, runtime.engine)
