"""Availability within a bound of Graph requests, and the memory of missing mailboxes.

The scheduler core against the sandbox through the real Graph client (requests counted
by the sandbox); the memory's expiry with a clock of the test's own.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from syncd.core.mailbox_memory import MailboxMemory
from syncd.core.scheduler import Scheduler
from syncd.domain import Attendee, ErrorCode, Meeting, SyncdError
from syncd.runtime import Runtime
from syncd.sandbox.server import RunningSandbox
from tests.support import users_of

START = datetime(2031, 2, 3, tzinfo=UTC)


def graph_requests(sandbox: RunningSandbox) -> int:
    seen = sandbox.counters.snapshot()
    envelopes = seen["per_route"].get("POST /$batch", 0)
    return seen["graph_requests"] + seen["batch_inner_requests"] - envelopes


def fresh_scheduler(runtime: Runtime) -> Scheduler:
    """A scheduler of tenant demo with nothing remembered yet."""
    return Scheduler(runtime.config.tenant("demo"), runtime.engine, runtime.graphs["demo"])


def ghosts(count: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"nobody-{run}-{i}@contoso.example" for i in range(count)]


def test_a_request_beyond_the_bound_is_refused_before_graph_is_asked(
    runtime: Runtime, fresh_sandbox: RunningSandbox
) -> None:
    scheduler = fresh_scheduler(runtime)
    people = users_of(fresh_sandbox, "demo")[:10]
    with pytest.raises(SyncdError) as refused:
        # 21 addresses: 2 groups x 6 periods of under 62 days = 12 requests > 10
        scheduler.availability(
            [*people, *ghosts(11)], START, START + timedelta(days=366), max_graph_requests=10
        )
    assert refused.value.code == ErrorCode.INVALID_REQUEST
    assert "at most 10" in refused.value.message
    assert "fewer addresses or a shorter span" in refused.value.message
    assert graph_requests(fresh_sandbox) == 0
    # Within the bound: answered.
    answers = scheduler.availability(
        people, START, START + timedelta(days=366), max_graph_requests=10
    )
    assert {a.error_code for a in answers} == {ErrorCode.NO_ERROR}
    assert graph_requests(fresh_sandbox) == 6


def test_unknown_addresses_are_asked_through_a_recent_organizer(
    runtime: Runtime, fresh_sandbox: RunningSandbox
) -> None:
    users = users_of(fresh_sandbox, "demo")
    scheduler = fresh_scheduler(runtime)
    # A meeting made lately: its organizer is a mailbox Outlook has.
    scheduler.schedule(
        Meeting(
            external_id=f"bounds-{uuid.uuid4()}",
            organizer_email=users[7],
            subject="Anchor",
            body="",
            location="",
            start=START,
            end=START + timedelta(hours=1),
            attendees=(Attendee(users[8]),),
        )
    )
    fresh_sandbox.counters.reset()
    addresses = ghosts(100)
    answers = scheduler.availability(
        addresses, START, START + timedelta(days=366), max_graph_requests=60
    )
    # Each group of 20: through its first member (404), then through the organizer.
    assert graph_requests(fresh_sandbox) == 5 * 6 * 2
    assert [a.error_code for a in answers] == [ErrorCode.MAILBOX_NOT_FOUND] * 100
    assert "no free/busy information for" in (answers[0].error_message or "")
    fresh_sandbox.counters.reset()
    again = scheduler.availability(
        addresses, START, START + timedelta(days=366), max_graph_requests=60
    )
    assert graph_requests(fresh_sandbox) == 0
    assert again == answers


def test_missing_mailboxes_are_forgotten_after_the_ttl() -> None:
    now = [datetime(2031, 1, 1, tzinfo=UTC)]
    memory = MailboxMemory(timedelta(minutes=10), lambda: now[0], max_entries=3)
    memory.remember_missing("Gone@Contoso.example", "no such user")
    memory.remember_present("here@contoso.example")
    assert memory.missing("gone@contoso.example") == "no such user"
    assert memory.present("HERE@contoso.example")
    assert memory.a_present_one(set()) == "here@contoso.example"
    assert memory.a_present_one({"here@contoso.example"}) is None
    now[0] += timedelta(minutes=10)
    assert memory.missing("gone@contoso.example") is None
    assert not memory.present("here@contoso.example")
    assert memory.a_present_one(set()) is None
    # Bounded: a caller naming ever new addresses pushes the oldest out.
    for i in range(5):
        memory.remember_missing(f"x{i}@contoso.example", "no such user")
    assert [memory.missing(f"x{i}@contoso.example") for i in range(5)] == [None, None] + [
        "no such user"
    ] * 3
    # A ttl of 0 remembers nothing.
    off = MailboxMemory(timedelta(0), lambda: now[0])
    off.remember_missing("gone@contoso.example", "no such user")
    assert off.missing("gone@contoso.example") is None
