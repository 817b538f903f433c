"""The core's side of changes made in Outlook: the ledger follows Outlook, or Outlook is
put back, or the meeting is closed as gone; each with its history in the same transaction.

The Outlook sweep (syncd.sync.outlook_watch) decides; these write. Every method holds
the meeting's lock and works on the row as stored now: when the row's `sent` is no longer
the one the sweep compared against (a poll wrote the meeting meanwhile), or the row no
longer points at the event the change was seen on, it does nothing and returns None.
That write gave the event a new changeKey, so the next delta round reports the event
again and it is judged against the new `sent`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from syncd.config import TenantConfig
from syncd.core import event_mapping as em
from syncd.core.outlook_writes import OutlookWrites
from syncd.core.records import meeting_to_request
from syncd.domain import Intent, Meeting, MeetingStatus, Source
from syncd.ledger.meeting_locks import MeetingLocks
from syncd.ledger.models import MeetingRecord
from syncd.ledger.repository import MeetingRepository, Note

__all__ = ["GONE_IN_OUTLOOK", "Note", "OutlookChanges"]

#: The error code a meeting's closed row keeps when it was deleted or cancelled in
#: Outlook: the planner does not create it again until its Event changes in Salesforce.
GONE_IN_OUTLOOK = "GoneInOutlook"


class OutlookChanges:
    """Writes for changes seen in Outlook, for one tenant."""

    def __init__(
        self,
        tenant: TenantConfig,
        ledger: MeetingRepository,
        outlook: OutlookWrites,
        locks: MeetingLocks,
        clock: Callable[[], datetime],
    ) -> None:
        self.tenant = tenant
        self.ledger = ledger
        self.outlook = outlook
        self.locks = locks
        self.clock = clock

    @contextmanager
    def _current(
        self,
        external_id: str,
        expected_sent: Mapping[str, Any] | None,
        event: tuple[str, str] | None = None,
    ) -> Iterator[MeetingRecord | None]:
        """The meeting's row under its lock, or None when it changed since it was judged
        (`event`: the (organizer mailbox, event id) the change was seen on, which the row
        must still point at)."""
        with self.locks.hold(self.tenant.name, Source.SALESFORCE.value, external_id):
            record = self.ledger.find(Source.SALESFORCE, external_id)
            live = record is not None and record.status != MeetingStatus.CANCELLED
            stale = (
                expected_sent is not None and record is not None and record.sent != expected_sent
            )
            if event is not None and record is not None:
                # An event syncd itself cancelled or replaced (an owner change, a create
                # again) is no longer the meeting's: its removal is no change in Outlook.
                mailbox, event_id = event
                stale = stale or (
                    record.graph_event_id != event_id
                    or record.organizer_email.casefold() != mailbox.casefold()
                )
            if not live or record is None or record.intent is not None or stale:
                yield None
            else:
                yield record

    def note(self, external_id: str, notes: Sequence[Note]) -> None:
        """Append history entries (e.g. a Salesforce write the sweep made) to a meeting."""
        if not notes:
            return
        self.ledger.modify(Source.SALESFORCE, external_id, lambda record: record, list(notes))

    def observe(
        self,
        external_id: str,
        expected_sent: Mapping[str, Any],
        observed: Mapping[str, Any],
        change_key: str | None,
        notes: Sequence[Note],
        *,
        event: tuple[str, str] | None = None,
    ) -> MeetingRecord | None:
        """Outlook's change is only recorded: the ledger's `sent` becomes what Outlook
        holds (so the change is reported once), its target stays Salesforce's."""
        with self._current(external_id, expected_sent, event) as record:
            if record is None:
                return None
            return self.ledger.write(
                record, list(notes), sent=dict(observed), change_key=change_key
            )

    def follow(
        self,
        external_id: str,
        expected_sent: Mapping[str, Any],
        observed: Mapping[str, Any],
        desired: Meeting,
        change_key: str | None,
        notes: Sequence[Note],
        *,
        correlation_id: str | None = None,
        event: tuple[str, str] | None = None,
    ) -> MeetingRecord | None:
        """The meeting becomes `desired` (Outlook's change taken into what syncd wants, or
        the side that changed last): the ledger records what Outlook holds, then only the
        fields Outlook lacks are PATCHed (none when Outlook's change is all there is)."""
        with self._current(external_id, expected_sent, event) as record:
            if record is None:
                return None
            content = em.event_content(desired, teams_keyword=self.tenant.policy.teams_keyword)
            # What Outlook holds, in the form of `content` where the two mean the same.
            sent = em.observed_content(observed, content)
            patch = em.content_changes(sent, content, join_url=record.join_url)
            return self._record_then_patch(
                record,
                notes,
                patch,
                correlation_id,
                sent=sent,
                target=content,
                request=_request(desired, record),
                content_hash=em.content_hash(content),
                change_key=change_key,
            )

    def restore(
        self,
        external_id: str,
        expected_sent: Mapping[str, Any],
        observed: Mapping[str, Any],
        change_key: str | None,
        notes: Sequence[Note],
        *,
        stamp: bool = False,
        correlation_id: str | None = None,
        event: tuple[str, str] | None = None,
    ) -> MeetingRecord | None:
        """Outlook is put back to the ledger's target (attendees too); `stamp`: the
        syncd key is written to the event again."""
        with self._current(external_id, expected_sent, event) as record:
            if record is None:
                return None
            patch = em.content_changes(observed, record.target, join_url=record.join_url)
            if stamp:
                key = em.external_key(self.tenant.name, record.source, record.external_id)
                patch["singleValueExtendedProperties"] = [
                    {"id": em.EXTERNAL_KEY_PROPERTY_ID, "value": key}
                ]
            return self._record_then_patch(
                record, notes, patch, correlation_id, sent=dict(observed), change_key=change_key
            )

    def _record_then_patch(
        self,
        record: MeetingRecord,
        notes: Sequence[Note],
        patch: dict[str, Any],
        correlation_id: str | None,
        **fields: Any,
    ) -> MeetingRecord:
        """Write what Outlook holds (with the update's intent when `patch` has anything,
        so a crash before the PATCH is finished by resume), then PATCH the rest."""
        record = self.ledger.write(
            record, list(notes), **fields, intent=Intent.UPDATE.value if patch else None
        )
        if not patch:
            return record
        return self.outlook.update(record, patch, correlation_id)

    def gone(
        self,
        external_id: str,
        expected_sent: Mapping[str, Any] | None,
        notes: Sequence[Note],
        *,
        event: tuple[str, str] | None = None,
    ) -> bool:
        """The meeting is no longer in Outlook: its row is closed and keeps
        GONE_IN_OUTLOOK, so it is not created again while its Event stays as it is.
        `event`: (organizer mailbox, event id) that went; the row must still hold it."""
        with self._current(external_id, expected_sent, event) as record:
            if record is None:
                return False
            self.ledger.close(
                record,
                list(notes),
                last_error_code=GONE_IN_OUTLOOK,
                last_error_message="deleted or cancelled in Outlook",
                next_attempt_at=None,
            )
            return True


def _request(desired: Meeting, record: MeetingRecord) -> dict[str, Any]:
    """The ledger request of `desired`, keeping what marks an occurrence row."""
    request = meeting_to_request(desired)
    for key in ("series",):
        if key in record.request:
            request[key] = record.request[key]
    return request
