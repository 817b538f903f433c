"""Kills inside a batch of creates: `syncd reconcile` SIGKILLed after a group's intents
are committed, in the middle of its $batch (Graph has made some of its events), and
after Graph answered but before the completion is committed; each time restarted.

Whatever the point, the restart must end with every Event exactly one Outlook meeting,
written back, and a ledger with no intent left whose rows point at those meetings.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable

import pytest

from syncd.core.event_mapping import EXTERNAL_KEY_PROPERTY_ID
from syncd.domain import MeetingStatus
from syncd.ledger.models import MeetingRecord
from syncd.sandbox.microsoft.extended_props import lookup
from tests.reliability.checker import check
from tests.reliability.world import REPO, TENANT, World
from tests.support import wait_until

#: Enough Events for several groups of 20 in the first page of 200.
EVENTS = 300


def stamped_events(world: World) -> dict[str, str]:
    """Salesforce id -> Outlook event id of every live meeting syncd stamped."""
    prefix = f"{TENANT}:salesforce:"
    found: dict[str, str] = {}
    for user in world.sandbox.tenant(TENANT).users:
        if not user.has_mailbox:
            continue
        for event in world.sandbox.calendars.events(user.id, lambda e: not e.is_cancelled):
            key = lookup(event.extended, EXTERNAL_KEY_PROPERTY_ID)
            if key and key[1].startswith(prefix):
                found[key[1].removeprefix(prefix)] = event.id
    return found


def claimed(world: World) -> list[MeetingRecord]:
    return [r for r in world.ledger_rows() if r.intent == "create"]


def kill_at(world: World, point: str, nth: int) -> int:
    """Run `syncd reconcile` under tests.reliability.kill_point; its exit status."""
    log = world.root / f"kill-{point}.log"
    world.logs.append(log)
    with log.open("wb") as out:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.reliability.kill_point",
                point,
                str(nth),
                "--config",
                str(world.config_path),
                "reconcile",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=300,
            check=False,
        )
    return done.returncode


def restart_and_check(world: World) -> None:
    """Run syncd again to the end; Outlook, Salesforce and the ledger must agree."""
    again = world.syncd("reconcile")
    assert again.returncode in (0, 1), again.stderr[-3000:]  # 1: owners without a mailbox
    assert "Traceback" not in again.stderr, again.stderr[-3000:]
    report = check(world.sandbox, TENANT, responses=False)
    assert report.ok, report.summary()
    assert report.valid > EVENTS * 0.8
    rows = world.ledger_rows()
    assert [r.external_id for r in rows if r.intent is not None] == []
    outlook = stamped_events(world)
    synced = {r.external_id: r.graph_event_id for r in rows if r.status == MeetingStatus.SYNCED}
    assert synced == outlook  # each row points at its one meeting, and no meeting is unknown


def test_killed_after_the_claim_of_a_group(make_world: Callable[..., World]) -> None:
    world = make_world(EVENTS)
    status = kill_at(world, "after-claim", 3)
    assert status == -signal.SIGKILL, (world.root / "kill-after-claim.log").read_text()[-3000:]
    # The third group's intents are committed and were never sent (groups running
    # beside it may have been cut off anywhere, their meetings made or not).
    made = stamped_events(world)
    assert [r.external_id for r in claimed(world) if r.external_id not in made]

    restart_and_check(world)


def test_killed_after_the_batch_answer_before_the_completion(
    make_world: Callable[..., World],
) -> None:
    world = make_world(EVENTS)
    status = kill_at(world, "before-complete", 3)
    assert status == -signal.SIGKILL, (world.root / "kill-before-complete.log").read_text()[-3000:]
    left = claimed(world)
    # Graph made the group's meetings; the ledger knows only the intents.
    made = stamped_events(world)
    answered = [r for r in left if r.external_id in made]
    assert answered
    assert all(r.graph_event_id is None for r in answered)

    restart_and_check(world)


def test_killed_in_the_middle_of_a_batch(make_world: Callable[..., World]) -> None:
    # Graph slow enough that an envelope of 20 takes seconds (it runs 4 requests at a
    # time): the kill lands once the first meetings exist, with envelopes half done.
    world = make_world(EVENTS)
    world.sandbox.faults.configure(latency_seconds=0.4)
    process, log = world.start("reconcile", name="kill-mid-batch")
    try:
        wait_until(
            lambda: process.poll() is not None or stamped_events(world),
            "the first meetings of a $batch",
            120,
        )
        assert process.poll() is None, "the run ended before any $batch was half done"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    left = claimed(world)
    assert left, "the kill left no claimed create"
    world.sandbox.faults.configure(latency_seconds=0.0)

    restart_and_check(world)


@pytest.mark.parametrize("point", ["after-claim", "before-complete"])
def test_the_kill_points_exist(point: str) -> None:
    """The hooks above patch real steps of the batch path: renaming one must fail here,
    not turn the kill tests into runs that finish without a kill."""
    from syncd.core.batch_creates import BatchCreates
    from tests.reliability.kill_point import POINTS

    assert callable(getattr(BatchCreates, POINTS[point]))
