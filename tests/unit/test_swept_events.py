"""Which of the poll's copies of an Event are older than the Outlook sweep's write of it
(syncd.sync.swept_events): pure, on a clock of the test's own."""

from __future__ import annotations

from datetime import timedelta

from syncd.sync.swept_events import KEEP_FOR, Copy, SweptEvents
from tests.support import suite_now


def test_a_copy_read_before_the_sweeps_write_is_outdated_a_later_one_is_not() -> None:
    now = suite_now()
    swept = SweptEvents(lambda: now)
    read = now - timedelta(minutes=5)
    swept.add({"E1": Copy(read, "old")})

    assert swept.outdated({"E1": Copy(read - timedelta(seconds=1), "older")}) == {"E1"}
    assert swept.outdated({"E1": Copy(read, "old")}) == {"E1"}  # the very Event it read
    # The same second with other content: a write the stamp cannot tell apart.
    assert swept.outdated({"E1": Copy(read, "new")}) == set()
    assert swept.outdated({"E1": Copy(read + timedelta(seconds=1), "old")}) == set()
    assert swept.outdated({"E2": Copy(read, "old")}) == set()  # never swept
    assert swept.outdated({"E1": Copy(None, "old")}) == set()  # nothing to compare


def test_a_write_is_forgotten_after_keep_for() -> None:
    clock = [suite_now()]
    swept = SweptEvents(lambda: clock[0])
    read = clock[0]
    swept.add({"E1": Copy(read, "old")})
    clock[0] += KEEP_FOR + timedelta(seconds=1)
    swept.add({"E2": Copy(clock[0], "x")})

    assert swept.outdated({"E1": Copy(read, "old"), "E2": Copy(clock[0], "x")}) == {"E2"}
