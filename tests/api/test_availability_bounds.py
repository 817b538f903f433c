"""One availability request causes a bounded number of Graph requests, and addresses
Graph says have no mailbox are remembered for a while (counted by the sandbox).

Through the live API and the real Graph client against the sandbox over HTTPS.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from syncd.runtime import Runtime
from syncd.sandbox.server import RunningSandbox
from tests.support import users_of

from .live import AVAILABILITY, bearer_client

#: The widest request the contract allows: 100 addresses over 366 days.
YEAR = {"from": "2031-01-01T00:00:00Z", "to": "2032-01-02T00:00:00Z"}
DAY = {"from": "2031-06-02T00:00:00Z", "to": "2031-06-03T00:00:00Z"}
#: The documented bound (tenant policy `availability_max_graph_requests`, default).
BOUND = 60


@pytest.fixture
def demo(runtime: Runtime, api_url: str) -> Iterator[httpx.Client]:
    with bearer_client(runtime, api_url, "demo") as client:
        yield client


def graph_requests(sandbox: RunningSandbox) -> int:
    """Requests Graph answered: each request inside a $batch counts, the envelope not."""
    seen = sandbox.counters.snapshot()
    envelopes = seen["per_route"].get("POST /$batch", 0)
    return seen["graph_requests"] + seen["batch_inner_requests"] - envelopes


def ask(
    client: httpx.Client, sandbox: RunningSandbox, addresses: list[str], window: dict[str, str]
) -> tuple[list[dict[str, Any]], int]:
    """(the answers, how many Graph requests the call made)."""
    before = graph_requests(sandbox)
    body = json.dumps([{"email": a} for a in addresses]).encode()
    answer = client.post(AVAILABILITY, params=window, content=body)
    assert answer.status_code == 200, answer.text
    return answer.json(), graph_requests(sandbox) - before


def ghosts(count: int) -> list[str]:
    """In-org addresses without a user (a fresh run id each: nothing remembered yet)."""
    run = uuid.uuid4().hex[:8]
    return [f"ghost-{run}-{i}@contoso.example" for i in range(count)]


def test_a_hundred_unknown_addresses_over_a_year_are_bounded_then_remembered(
    demo: httpx.Client, fresh_sandbox: RunningSandbox
) -> None:
    addresses = ghosts(100)
    answers, made = ask(demo, fresh_sandbox, addresses, YEAR)
    assert 0 < made <= BOUND
    codes = {a["errorCode"] for a in answers}
    assert codes <= {"MailboxNotFound", "Throttled"}, codes
    # Addresses the bound left unasked say so, and what to do.
    unasked = [a for a in answers if a["errorCode"] == "Throttled"]
    assert all("ask again" in a["errorMessage"] for a in unasked), unasked[:1]
    # Asking again gets further each time (what Graph said is remembered), never
    # beyond the bound, until every address has its answer...
    calls = 1
    while unasked:
        answers, made = ask(demo, fresh_sandbox, addresses, YEAR)
        calls += 1
        assert made <= BOUND
        unasked = [a for a in answers if a["errorCode"] == "Throttled"]
        assert calls <= 100 // 2, "asking again does not get further"
    assert {a["errorCode"] for a in answers} == {"MailboxNotFound"}
    # ...after which the same request does not reach Graph at all.
    answers, made = ask(demo, fresh_sandbox, addresses, YEAR)
    assert made == 0
    assert [a["errorCode"] for a in answers] == ["MailboxNotFound"] * 100
    assert all(a["email"] == e for a, e in zip(answers, addresses, strict=True))


def test_a_group_whose_first_member_has_no_mailbox_is_answered_through_another(
    demo: httpx.Client, fresh_sandbox: RunningSandbox
) -> None:
    colleagues = users_of(fresh_sandbox, "demo")[:19]
    addresses = [*ghosts(1), *colleagues]
    answers, made = ask(demo, fresh_sandbox, addresses, DAY)
    assert [a["errorCode"] for a in answers] == ["MailboxNotFound"] + ["NoError"] * 19
    # Through the ghost (404), then through a colleague; or through a colleague that
    # answered before at once.
    assert made <= 2
    # The ghost is remembered: the same request asks through a colleague at once.
    answers, made = ask(demo, fresh_sandbox, addresses, DAY)
    assert [a["errorCode"] for a in answers] == ["MailboxNotFound"] + ["NoError"] * 19
    assert made == 1
