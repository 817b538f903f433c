"""A throttled mailbox still completes: Retry-After is honoured, nothing is lost."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from syncd.core import event_mapping as em
from syncd.core.scheduler import Scheduler
from syncd.domain import Attendee, Meeting
from syncd.runtime import Runtime
from syncd.sandbox.server import RunningSandbox
from tests.support import users_of

START = datetime(2032, 6, 1, 8, tzinfo=UTC)


def meetings(organizer: str, colleague: str, count: int) -> list[Meeting]:
    run = uuid.uuid4().hex[:8]
    return [
        Meeting(
            external_id=f"throttle-{run}-{i}",
            organizer_email=organizer,
            subject=f"Slot {i}",
            body="",
            location="Room 2",
            start=START + timedelta(hours=i),
            end=START + timedelta(hours=i, minutes=30),
            attendees=(Attendee(colleague),),
        )
        for i in range(count)
    ]


def stamped(sandbox: RunningSandbox, organizer: str, batch: list[Meeting]) -> int:
    owner = sandbox.directory.find_by_email(organizer)
    keys = {em.external_key("demo", "api", m.external_id) for m in batch}
    return sum(1 for e in sandbox.calendars.events(owner.id) if keys & set(e.extended.values()))


def test_rate_throttled_mailbox_completes_every_create(
    runtime: Runtime, fresh_sandbox: RunningSandbox
) -> None:
    organizer, colleague = users_of(fresh_sandbox, "demo")[10:12]
    graph = runtime.graphs["demo"]
    scheduler = Scheduler(runtime.config.tenant("demo"), runtime.engine, graph)
    # Microsoft's limit is 10,000 per 10 minutes; 3 per 2 seconds shows the same 429s quickly.
    fresh_sandbox.throttle.configure(requests_per_window=3, window_seconds=2)
    before = graph.counter.snapshot()
    batch = meetings(organizer, colleague, 8)
    for meeting in batch:
        scheduler.schedule(meeting)
    after = graph.counter.snapshot()
    assert fresh_sandbox.counters.snapshot()["throttled"] > 0
    assert after["retries"] > before["retries"]
    assert after["seconds_waited"] > before["seconds_waited"]
    assert stamped(fresh_sandbox, organizer, batch) == len(batch)


def test_concurrency_throttled_mailbox_completes_parallel_creates(
    runtime: Runtime, fresh_sandbox: RunningSandbox
) -> None:
    organizer, colleague = users_of(fresh_sandbox, "demo")[12:14]
    scheduler = Scheduler(runtime.config.tenant("demo"), runtime.engine, runtime.graphs["demo"])
    # One request at a time per mailbox, each slow: parallel creates collide.
    fresh_sandbox.throttle.configure(concurrent_requests=1)
    fresh_sandbox.faults.configure(latency_seconds=0.2)
    batch = meetings(organizer, colleague, 6)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(scheduler.schedule, batch))
    assert fresh_sandbox.counters.snapshot()["throttled"] > 0
    assert stamped(fresh_sandbox, organizer, batch) == len(batch)
