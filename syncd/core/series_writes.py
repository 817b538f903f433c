"""The core's writes for a recurring series: its occurrence rows and exceptions.

An Outlook series master is made like any meeting (syncd.core.scheduler); what a series
adds is a ledger row per occurrence, tied to the Outlook occurrence
(https://learn.microsoft.com/en-us/graph/api/event-list-instances), and a PATCH on an
occurrence's id that makes it an exception of the series
(https://learn.microsoft.com/en-us/graph/api/resources/event, type "exception").
The sync decides which occurrence needs what (syncd.sync.recurrence); these write it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from syncd.config import TenantConfig
from syncd.core import event_mapping as em
from syncd.core import notes
from syncd.core.outlook_writes import OutlookWrites
from syncd.core.records import meeting_to_request
from syncd.domain import HistoryAction, HistorySide, Meeting, MeetingStatus, Source
from syncd.graph.port import GraphPort
from syncd.ledger.models import MeetingRecord
from syncd.ledger.repository import MeetingRepository, Note


class SeriesWrites:
    """Occurrence rows, occurrence exceptions and recreated series of one tenant."""

    def __init__(
        self,
        tenant: TenantConfig,
        graph: GraphPort,
        ledger: MeetingRepository,
        outlook: OutlookWrites,
        clock: Callable[[], datetime],
    ) -> None:
        self.tenant = tenant
        self.graph = graph
        self.ledger = ledger
        self.outlook = outlook
        self.clock = clock

    def track_occurrence(
        self,
        external_id: str,
        organizer_email: str,
        request: dict[str, Any],
        content: dict[str, Any],
        instance_id: str | None,
        join_url: str | None,
    ) -> MeetingRecord:
        """The ledger row of an occurrence as Outlook holds it now (the series' version,
        `content`): no Graph call, the series master made the occurrence."""
        now = self.clock()

        def change(record: MeetingRecord | None) -> MeetingRecord:
            if record is None:
                record = MeetingRecord(
                    tenant=self.tenant.name,
                    source=Source.SALESFORCE.value,
                    external_id=external_id,
                    organizer_email=organizer_email,
                    transaction_id="",
                    created_at=now,
                    updated_at=now,
                )
            else:
                record.generation += 1
            record.organizer_email = organizer_email
            record.transaction_id = ""
            record.graph_event_id = instance_id
            record.change_key = None
            record.sent = record.target = content
            record.content_hash = em.content_hash(content)
            record.request = request
            record.responses = {}
            record.join_url = join_url
            record.intent = None
            record.status = MeetingStatus.SYNCED.value
            record.last_error_code = record.last_error_message = None
            record.attempts, record.next_attempt_at = 0, None
            record.updated_at = now
            return record

        note = Note(
            HistoryAction.TRACKED,
            HistorySide.LEDGER,
            {"graph_event_id": [None, instance_id]},
            "an occurrence of its Outlook series",
        )
        self.ledger.modify(Source.SALESFORCE, external_id, change, note)
        found = self.ledger.find(Source.SALESFORCE, external_id)
        assert found is not None
        return found

    def follow(self, row: MeetingRecord, content: dict[str, Any], request: dict[str, Any]) -> None:
        """The occurrence looks like its series again: Outlook holds `content` already."""
        self.ledger.write(row, sent=content, target=content, request=request)

    def point_at(self, row: MeetingRecord, instance_id: str | None) -> None:
        """Tie the occurrence's row to the Outlook occurrence found now (None: none)."""
        self.ledger.write(row, graph_event_id=instance_id)

    def apply_exception(
        self,
        row: MeetingRecord,
        mailbox: str,
        instance_id: str,
        patch: dict[str, Any],
        content: dict[str, Any],
        request: dict[str, Any],
        *,
        correlation_id: str | None,
    ) -> None:
        """PATCH one occurrence (making it an exception of its series) and complete its row.
        A refused PATCH raises SyncdError with the row unchanged."""
        answer = self.graph.update_event(mailbox, instance_id, patch, correlation_id=correlation_id)
        note = notes.outlook(
            HistoryAction.UPDATED,
            "one occurrence changed: an exception of its Outlook series",
            correlation_id,
            notes.changes(row.sent, patch),
        )
        self.ledger.write(
            row,
            note,
            graph_event_id=instance_id,
            sent=content,
            target=content,
            content_hash=em.content_hash(content),
            change_key=answer.get("changeKey", row.change_key),
            request=request,
            status=MeetingStatus.SYNCED.value,
            last_error_code=None,
            last_error_message=None,
            next_attempt_at=None,
        )

    def move_series(
        self,
        old: MeetingRecord,
        new_id: str,
        meeting: Meeting,
        correlation_id: str | None,
    ) -> int:
        """Make `old`'s Outlook series the one of `new_id` (a series Salesforce recreated):
        one PATCH of the master to the new pattern and times, its external-key property
        moved to the new id; then the row is re-keyed and the old occurrences' rows are
        closed. Returns how many were closed; a refused PATCH raises SyncdError."""
        desired = em.event_content(meeting, teams_keyword=self.tenant.policy.teams_keyword)
        patch = em.content_changes(old.sent, desired, join_url=old.join_url)
        key = em.external_key(self.tenant.name, Source.SALESFORCE, new_id)
        patch["singleValueExtendedProperties"] = [{"id": em.EXTERNAL_KEY_PROPERTY_ID, "value": key}]
        assert old.graph_event_id is not None
        answer = self.graph.update_event(
            old.organizer_email, old.graph_event_id, patch, correlation_id=correlation_id
        )
        fields = {
            "sent": em.online_kept(old.sent, desired),
            "target": desired,
            "content_hash": em.content_hash(desired),
            "change_key": answer.get("changeKey") or old.change_key,
            "request": meeting_to_request(meeting),
            "status": MeetingStatus.SYNCED.value,
            "intent": None,
            "last_error_code": None,
            "last_error_message": None,
            "next_attempt_at": None,
        }
        moved = notes.outlook(
            HistoryAction.ADOPTED,
            f"the series was recreated in Salesforce: {old.external_id} became {new_id}",
            correlation_id,
            {"external_id": [old.external_id, new_id], **notes.changes(old.sent, patch)},
        )
        closed = Note(
            HistoryAction.CLOSED,
            HistorySide.LEDGER,
            {"status": [MeetingStatus.SYNCED.value, MeetingStatus.CANCELLED.value]},
            "its series was recreated in Salesforce; Outlook replaced the occurrence",
        )
        return self.ledger.rekey(old, new_id, fields, moved, closed)

    def masters_of(self, organizer: str) -> list[MeetingRecord]:
        """The synced series masters of one organizer (rows to adopt a recreated series)."""
        return self.ledger.live_series_masters(Source.SALESFORCE, organizer)
