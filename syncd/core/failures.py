"""Failures the core keeps for the sync: records that could not be synced (retried with
back-off) and write-backs Salesforce refused for meetings that are right in Outlook.
Each is appended to the meeting history."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from syncd.config import TenantConfig
from syncd.core import event_mapping as em
from syncd.core import notes
from syncd.core.outlook_writes import failure_delay, retry_delay
from syncd.domain import HistorySide, Meeting, MeetingStatus, Source, SyncdError
from syncd.ledger.models import MeetingRecord
from syncd.ledger.repository import MeetingRepository, Note

#: `last_error_code` of a meeting that is right in Outlook but whose write-back the
#: source refused: it stays synced, and is retried with back-off like a failure.
WRITEBACK_REFUSED = "WritebackRefused"


class Failures:
    """One tenant's recorded failures."""

    def __init__(
        self, tenant: TenantConfig, ledger: MeetingRepository, clock: Callable[[], datetime]
    ) -> None:
        self.tenant = tenant
        self.ledger = ledger
        self.clock = clock

    def record(
        self,
        external_id: str,
        error: SyncdError,
        source: Source,
        *,
        attempted: Meeting | None,
        earlier_attempts: int,
        side: HistorySide,
    ) -> None:
        """Remember that syncing a source record failed, so it is retried with back-off.

        A meeting already in Outlook stays as it was (its status is kept); a
        record that never reached Outlook is marked failed. `attempted` is the
        meeting that could not be made: its content hash is kept on a record that
        never reached Outlook, so the planner can tell "unchanged since the failed
        attempt" (wait for the back-off) from "changed" (try now). Without it such
        a record looked changed on every poll and Graph was asked again each time.
        `earlier_attempts` is how many times the caller saw the record fail before
        this attempt: re-claiming a create restarts the row's count and a create that
        Graph refused for good drops the row, so without it every retry would wait
        the first back-off (1 minute) again instead of a growing one.
        """
        now = self.clock()
        old_code: list[str | None] = [None]

        def change(record: MeetingRecord | None) -> MeetingRecord:
            if record is None:
                record = MeetingRecord(
                    tenant=self.tenant.name,
                    source=str(source),
                    external_id=external_id,
                    organizer_email="",
                    transaction_id="",
                    status=MeetingStatus.FAILED.value,
                    created_at=now,
                    updated_at=now,
                )
            old_code[0] = record.last_error_code
            if record.graph_event_id is None and attempted is not None:
                content = em.event_content(
                    attempted, teams_keyword=self.tenant.policy.teams_keyword
                )
                record.content_hash = em.content_hash(content)
                record.organizer_email = attempted.organizer_email
            if record.status == MeetingStatus.CANCELLED or record.graph_event_id is None:
                record.status = MeetingStatus.FAILED.value
            record.last_error_code = error.code.value
            record.last_error_message = error.message[:2000]
            record.attempts = max(record.attempts, earlier_attempts) + 1
            record.next_attempt_at = now + failure_delay(record.attempts, error)
            record.updated_at = now
            return record

        def note(_record: MeetingRecord) -> Note:
            return notes.failed(error, old_code[0], side=side)

        self.ledger.modify(source, external_id, change, note)

    def writeback_refused(self, refused: dict[str, str], source: Source) -> None:
        """Meetings (external id -> why) whose write-back the source refused."""
        now = self.clock()
        for external_id, message in refused.items():
            old_code: list[str | None] = [None]

            def change(
                record: MeetingRecord | None, why: str = message, codes: list[str | None] = old_code
            ) -> MeetingRecord | None:
                if record is None or record.last_error_code not in (None, WRITEBACK_REFUSED):
                    return None  # a real failure is retried (and written back) anyway
                codes[0] = record.last_error_code
                again = record.last_error_code == WRITEBACK_REFUSED
                record.last_error_code = WRITEBACK_REFUSED
                record.last_error_message = f"the write-back was refused: {why}"[:2000]
                record.attempts = record.attempts + 1 if again else 1
                record.next_attempt_at = now + retry_delay(record.attempts)
                record.updated_at = now
                return record

            def note(record: MeetingRecord, codes: list[str | None] = old_code) -> Note:
                return notes.writeback_refused(record.last_error_message or "", codes[0])

            self.ledger.modify(source, external_id, change, note)

    def writeback_settled(self, external_ids: Sequence[str], source: Source) -> None:
        """The source now holds these meetings' write-back."""

        def change(record: MeetingRecord) -> bool:
            if record.last_error_code != WRITEBACK_REFUSED:
                return False
            record.last_error_code = record.last_error_message = None
            record.attempts, record.next_attempt_at = 0, None
            record.updated_at = self.clock()
            return True

        self.ledger.modify_each(source, external_ids, change)
