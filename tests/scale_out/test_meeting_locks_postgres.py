"""Per-meeting advisory locks on PostgreSQL: two instances stand for two processes (each
holds its locks on a session of its own), as two API processes or a replica and an API
process over one store."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from syncd.domain import ErrorCode, SyncdError
from syncd.ledger.db import make_engine
from syncd.ledger.meeting_locks import AdvisoryMeetingLocks, meeting_locks_for

pytestmark = pytest.mark.postgres

KEY = ("demo", "api", "meeting-1")
LOCK_SESSIONS = (
    "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'syncd-meeting-locks %'"
)


@pytest.fixture
def engine(pg_schema: str) -> Iterator[Engine]:
    made = make_engine(pg_schema)
    yield made
    made.dispose()


def test_one_session_at_a_time_and_a_dead_session_frees_its_meetings(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="syncd.ledger.meeting_locks")
    # Lock sessions of other runtimes of this test run may be open on the same server:
    # only the two made below are ended.
    with engine.connect() as admin:
        others = list(admin.execute(text(LOCK_SESSIONS)).scalars())
    first = meeting_locks_for(engine)
    second = AdvisoryMeetingLocks(engine, wait_seconds=0.3)
    assert isinstance(first, AdvisoryMeetingLocks)
    try:
        with first.hold(*KEY):
            with pytest.raises(SyncdError) as busy, second.hold(*KEY):
                pass
            assert busy.value.code == ErrorCode.UPSTREAM_UNAVAILABLE
            with second.hold("demo", "api", "meeting-2"):
                pass  # other meetings are not held up
            with second.hold("other-tenant", "api", "meeting-1"):
                pass  # nor the same id of another tenant
            # The lock sessions end (their process died, their host vanished): the
            # server releases their locks; the next use connects afresh.
            with engine.connect() as admin:
                ended = admin.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name LIKE 'syncd-meeting-locks %' "
                        "AND pid <> ALL(:others)"
                    ),
                    {"others": others},
                ).scalar_one()
            assert ended == 2
            with second.hold(*KEY):
                pass
        # ...and the holder says so when it lets go.
        assert "was lost while held" in caplog.text
        with first.hold(*KEY):
            pass
    finally:
        first.close()
        second.close()
