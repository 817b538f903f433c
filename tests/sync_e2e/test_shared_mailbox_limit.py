"""The daemon and the Scheduler API share each mailbox's 4 concurrent requests.

Outlook counts "for each app ID and mailbox combination"
(https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits), not per
process. The sandbox counts the same way; here a sync pass and API calls hit one
organizer's mailbox at the same time, through two runtimes built as the two processes
are (`syncd run` and `syncd serve`: role "daemon" and role "api", separate Graph
clients, separate limiters), and together they must stay within the 4.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from syncd.domain import Attendee, Meeting, Source
from syncd.runtime import build_runtime, connection_of

from .conftest import COLLEAGUE, ORGANIZER, TENANT, World

#: Enough work on one mailbox for either side alone to fill all 4 slots.
SYNCED_EVENTS = 12
API_THREADS = 4
#: API bookings per thread at most; they go on while the sync pass runs.
API_BOOKINGS = 25
#: Each Graph request takes this long in the sandbox, so requests overlap.
LATENCY_SECONDS = 0.05


def test_a_sync_pass_and_api_calls_together_stay_within_the_mailbox_limit(
    world: World,
) -> None:
    tuning = world.config().settings.graph
    assert tuning.daemon_in_flight_per_mailbox + tuning.api_in_flight_per_mailbox <= 4
    api = build_runtime(
        world.config(),
        clock=world.sandbox.clock.now,
        sandbox=connection_of(world.sandbox, [TENANT]),
        role="api",
    )
    world.closers.append(api.close)
    for n in range(SYNCED_EVENTS):
        world.create_event(subject=f"Synced {n}", start=world.meeting_start(hour=8, days=1 + n))
    service = world.service()
    scheduler = api.scheduler(TENANT)
    start = world.meeting_start(days=20)
    world.sandbox.faults.configure(latency_seconds=LATENCY_SECONDS)
    world.sandbox.throttle.reset()
    creating = threading.Event()
    polled = threading.Event()
    posts = world.sandbox.counters

    def sync_pass() -> object:
        try:
            return service.poll()
        finally:
            polled.set()

    def book(thread: int) -> list[Meeting]:
        # The API books meetings in the organizer's mailbox for as long as the sync
        # pass runs, from the moment the pass starts writing to it.
        creating.wait()
        booked = []
        for n in range(API_BOOKINGS):
            if polled.is_set():
                break
            at = start + timedelta(days=thread, hours=n)
            meeting = Meeting(
                external_id=f"api-{thread}-{n}",
                organizer_email=ORGANIZER,
                subject=f"Booked {thread}-{n}",
                body="",
                location="Room 1",
                start=at,
                end=at + timedelta(minutes=30),
                attendees=(Attendee(COLLEAGUE),),
            )
            booked.append(scheduler.schedule(meeting, source=Source.API))
        return booked

    with ThreadPoolExecutor(1 + API_THREADS) as pool:
        bookings = [pool.submit(book, thread) for thread in range(API_THREADS)]
        report = pool.submit(sync_pass)
        while not (report.done() or posts.per_route["POST /users/{user}/events"]):
            polled.wait(0.005)  # until the pass's first create reaches the sandbox
        creating.set()
        result = report.result()
        booked = [meeting for b in bookings for meeting in b.result()]

    organizer = world.user(ORGANIZER).id
    assert world.sandbox.throttle.concurrency_refusals == 0  # no MailboxConcurrency 429
    assert world.sandbox.counters.throttled == 0
    assert 1 <= world.sandbox.throttle.peak_in_flight(organizer) <= 4
    # And all the work got done, both sides at once.
    assert result.counts["create"] == SYNCED_EVENTS and result.failures == []
    assert booked
    assert len(world.calendar(ORGANIZER)) == SYNCED_EVENTS + len(booked)
