"""Per-meeting locks (syncd.ledger.meeting_locks) and what the scheduler does under them.

The file locks are shown across two real processes (a holder killed with SIGKILL frees
its meeting); the PostgreSQL ones across two sessions in tests/scale_out. The scheduler
tests use the real Graph client against the sandbox; a spy fails one call on purpose,
standing in for an answer lost on the way back (no sandbox can lose one on demand).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from syncd.core import event_mapping as em
from syncd.core.scheduler import Scheduler
from syncd.domain import Attendee, ErrorCode, Meeting, SyncdError
from syncd.ledger.meeting_locks import FileMeetingLocks, LocalMeetingLocks
from syncd.runtime import Runtime
from syncd.sandbox.server import RunningSandbox
from tests.support import SpyGraph, users_of

START = datetime(2031, 11, 4, 9, tzinfo=UTC)
KEY = ("demo", "api", "meeting-1")

_HOLDER = """
import sys, time
from pathlib import Path
from syncd.ledger.meeting_locks import FileMeetingLocks
with FileMeetingLocks(Path(sys.argv[1])).hold("demo", "api", "meeting-1"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_meeting_held_by_another_process_waits_until_that_process_is_gone(
    tmp_path: Path,
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        impatient = FileMeetingLocks(tmp_path, wait_seconds=0.3)
        with pytest.raises(SyncdError) as busy, impatient.hold(*KEY):
            pass
        assert busy.value.code == ErrorCode.UPSTREAM_UNAVAILABLE and busy.value.retry_after
        assert "meeting-1" in busy.value.message
        with impatient.hold("demo", "api", "another meeting"):
            pass  # other meetings are not held up
        holder.send_signal(signal.SIGKILL)  # the kernel releases a dead process's flock
        holder.wait(10)
        with FileMeetingLocks(tmp_path, wait_seconds=10).hold(*KEY):
            pass
    finally:
        holder.kill()
        holder.wait(10)
    assert list(tmp_path.iterdir()) == [], "a released lock leaves no file behind"


@pytest.mark.parametrize("kind", ["file", "threads"])
def test_one_holder_at_a_time_among_threads_and_instances(kind: str, tmp_path: Path) -> None:
    # Two instances stand for two processes (flock() conflicts between separate opens).
    if kind == "file":
        instances: list[Any] = [FileMeetingLocks(tmp_path), FileMeetingLocks(tmp_path)]
    else:
        one = LocalMeetingLocks()
        instances = [one, one]
    inside, most, rounds = [0], [0], 20
    guard = threading.Lock()

    def worker(locks: Any) -> None:
        for _ in range(rounds):
            with locks.hold(*KEY):
                with guard:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.002)  # long enough for another holder to come in, if it could
                with guard:
                    inside[0] -= 1

    threads = [threading.Thread(target=worker, args=(instances[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert most[0] == 1


# ------------------------------------------------------------- the scheduler


@pytest.fixture
def graph(runtime: Runtime) -> SpyGraph:
    return SpyGraph(runtime.graphs["demo"])


@pytest.fixture
def scheduler(runtime: Runtime, graph: SpyGraph) -> Scheduler:
    return Scheduler(runtime.config.tenant("demo"), runtime.engine, graph)


def a_meeting(sandbox: RunningSandbox) -> Meeting:
    users = users_of(sandbox, "demo")
    return Meeting(
        external_id=f"locks-{uuid.uuid4()}",
        organizer_email=users[3],
        subject="Locks",
        body="",
        location="Room 3",
        start=START,
        end=START + timedelta(hours=1),
        attendees=(Attendee(users[4], True),),
    )


def outlook(sandbox: RunningSandbox, meeting: Meeting) -> tuple[int, list[bool]]:
    """(live organizer events of the meeting, cancelled flag of each attendee copy)."""
    organizer = sandbox.directory.find_by_email(meeting.organizer_email)
    attendee = sandbox.directory.find_by_email(meeting.attendees[0].email)
    key = em.external_key("demo", "api", meeting.external_id)
    live = sandbox.calendars.events(organizer.id, lambda e: key in e.extended.values())
    creates = {em.transaction_id("demo", "api", meeting.external_id, g) for g in range(3)}
    copies = sandbox.calendars.events(attendee.id, lambda e: e.meeting_key in creates)
    return len(live), [c.is_cancelled for c in copies]


def test_a_read_never_finishes_a_create(
    scheduler: Scheduler, graph: SpyGraph, sandbox: RunningSandbox
) -> None:
    meeting = a_meeting(sandbox)
    graph.fail_before["create_event"] = SyncdError(ErrorCode.UPSTREAM_UNAVAILABLE, "down")
    with pytest.raises(SyncdError):
        scheduler.schedule(meeting)
    graph.calls.clear()
    with pytest.raises(SyncdError) as unfinished:
        scheduler.get(meeting.external_id, meeting.organizer_email)
    assert unfinished.value.code == ErrorCode.MEETING_NOT_FOUND
    assert "send that request again" in unfinished.value.message
    assert graph.calls == [], "a GET must not write to (or even ask) Graph for an unmade meeting"
    assert outlook(sandbox, meeting) == (0, [])
    scheduler.schedule(meeting)  # the create's own retry finishes it
    assert outlook(sandbox, meeting) == (1, [False])
    assert scheduler.get(meeting.external_id, meeting.organizer_email).subject == "Locks"


def test_a_delete_after_a_lost_create_answer_cancels_the_meeting_that_landed(
    scheduler: Scheduler, graph: SpyGraph, sandbox: RunningSandbox
) -> None:
    meeting = a_meeting(sandbox)
    # The POST reached Outlook (the attendee is invited) but its answer was lost.
    graph.fail_after["create_event"] = SyncdError(ErrorCode.UPSTREAM_UNAVAILABLE, "reset")
    with pytest.raises(SyncdError):
        scheduler.schedule(meeting)
    assert outlook(sandbox, meeting) == (1, [False])
    scheduler.cancel(meeting.external_id, meeting.organizer_email)
    assert outlook(sandbox, meeting) == (0, [True]), "the DELETE left the meeting in Outlook"
    record = scheduler.record_of(meeting.external_id)
    assert record is not None and record.status == "cancelled"
