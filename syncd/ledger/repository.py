"""The ledger's meetings behind one interface: the only code that reads and writes
meeting rows for the scheduler core, and appends their history in the same transaction.

The core decides what a row becomes; this module decides how it is stored. Each
method is one transaction. A change the core made in Outlook (or a failure it met)
comes with a `Note`, appended to the meeting history (syncd.ledger.history) in the
transaction of the ledger write, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from syncd.domain import HistoryAction, HistorySide, MeetingStatus, Source
from syncd.ledger.db import session_scope
from syncd.ledger.models import MeetingHistory, MeetingRecord, Tombstone

#: SQLite and PostgreSQL both take a few hundred bound values in IN (...).
_IN_CHUNK = 500
#: The request key that marks an occurrence row of a series (syncd.sync.series_shape).
SERIES_KEY = "series"


@dataclass(frozen=True)
class Note:
    """A meeting history entry to append with a ledger write."""

    action: HistoryAction
    side: HistorySide = HistorySide.OUTLOOK
    #: {field: [old, new]} where known
    fields: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    graph_request_id: str | None = None
    salesforce_call: str | None = None


class ClaimLost(Exception):
    """Another writer claimed the same meeting at the same moment, twice."""


class MeetingRepository:
    """One tenant's meeting rows, tombstones and history."""

    def __init__(self, engine: Engine, tenant: str, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.tenant = tenant
        self.clock = clock
        # One statement built once: building and caching it anew for every lookup
        # cost more CPU than running it.
        self._find_statement = (
            select(MeetingRecord)
            .where(
                MeetingRecord.tenant == bindparam("tenant"),
                MeetingRecord.source == bindparam("source"),
                MeetingRecord.external_id == bindparam("external_id"),
            )
            .limit(1)
        )

    # ------------------------------------------------------------------ reads

    def _find(
        self, session: Session, source: Source | str, external_id: str
    ) -> MeetingRecord | None:
        params = {"tenant": self.tenant, "source": str(source), "external_id": external_id}
        return session.exec(self._find_statement, params=params).first()

    def find(self, source: Source | str, external_id: str) -> MeetingRecord | None:
        """The row of one meeting, detached (read-only use)."""
        with Session(self.engine, expire_on_commit=False) as session:
            return self._find(session, source, external_id)

    def get(self, record_id: int | None) -> MeetingRecord | None:
        """The row with this primary key as stored now."""
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(MeetingRecord, record_id)

    def rows(self, source: Source | str, external_ids: Iterable[str]) -> dict[str, MeetingRecord]:
        """The rows of the given meetings (missing ids are simply absent)."""
        wanted = list(dict.fromkeys(external_ids))
        found: dict[str, MeetingRecord] = {}
        with Session(self.engine, expire_on_commit=False) as session:
            for offset in range(0, len(wanted), _IN_CHUNK):
                rows = session.exec(
                    select(MeetingRecord).where(
                        MeetingRecord.tenant == self.tenant,
                        MeetingRecord.source == str(source),
                        col(MeetingRecord.external_id).in_(wanted[offset : offset + _IN_CHUNK]),
                    )
                )
                found.update((r.external_id, r) for r in rows)
        return found

    def pending_intents(self) -> list[MeetingRecord]:
        """Rows whose Graph operation a crash may have left unfinished."""
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(MeetingRecord).where(
                        MeetingRecord.tenant == self.tenant,
                        col(MeetingRecord.intent).is_not(None),
                    )
                ).all()
            )

    def recent_organizer(self) -> str | None:
        """The organizer of the meeting synced last."""
        with Session(self.engine) as session:
            return session.exec(
                select(MeetingRecord.organizer_email)
                .where(
                    MeetingRecord.tenant == self.tenant,
                    MeetingRecord.status == MeetingStatus.SYNCED.value,
                )
                .order_by(col(MeetingRecord.updated_at).desc())
                .limit(1)
            ).first()

    def live_series_masters(self, source: Source | str, organizer: str) -> list[MeetingRecord]:
        """Synced series masters (not occurrences) of one organizer."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(MeetingRecord).where(
                    MeetingRecord.tenant == self.tenant,
                    MeetingRecord.source == str(source),
                    MeetingRecord.status == MeetingStatus.SYNCED.value,
                    col(MeetingRecord.graph_event_id).is_not(None),
                    func.lower(MeetingRecord.organizer_email) == organizer.lower(),
                )
            ).all()
        return [r for r in rows if r.request.get("recurrence") and not r.request.get(SERIES_KEY)]

    # ----------------------------------------------------------------- writes

    def _append(
        self, session: Session, source: str, external_id: str, note: Note | Sequence[Note] | None
    ) -> None:
        if note is None:
            return
        for one in [note] if isinstance(note, Note) else note:
            session.add(
                MeetingHistory(
                    tenant=self.tenant,
                    source=source,
                    external_id=external_id,
                    at=self.clock(),
                    side=one.side.value,
                    action=one.action.value,
                    fields=one.fields,
                    reason=one.reason[:2000],
                    graph_request_id=one.graph_request_id,
                    salesforce_call=one.salesforce_call,
                )
            )

    def write(
        self, record: MeetingRecord, note: Note | Sequence[Note] | None = None, **fields: Any
    ) -> MeetingRecord:
        """Set `fields` on the stored row (and its updated_at); append `note` (or notes)."""
        with session_scope(self.engine) as session:
            fresh = session.get(MeetingRecord, record.id)
            assert fresh is not None
            for name, value in fields.items():
                setattr(fresh, name, value)
            fresh.updated_at = self.clock()
            session.add(fresh)
            self._append(session, fresh.source, fresh.external_id, note)
        return fresh

    def modify(
        self,
        source: Source | str,
        external_id: str,
        change: Callable[[MeetingRecord | None], MeetingRecord | None],
        note: Note | Sequence[Note] | Callable[[MeetingRecord], Note | None] | None = None,
    ) -> MeetingRecord | None:
        """Read one row, let `change` make it (or a new one; None: leave it), store it.

        `note` may be a function of the row as changed (None: no entry)."""
        with session_scope(self.engine) as session:
            record = change(self._find(session, source, external_id))
            if record is None:
                return None
            session.add(record)
            entry = note(record) if callable(note) else note
            self._append(session, str(source), external_id, entry)
        return record

    def claim(
        self,
        source: Source | str,
        external_id: str,
        decide: Callable[[MeetingRecord | None], tuple[MeetingRecord, bool]],
    ) -> tuple[MeetingRecord, bool]:
        """Record an intent to create: `decide` returns the row to store (new, changed,
        or the existing one untouched) and a flag passed back. A unique-key race with
        another writer is retried once; lost twice it raises ClaimLost."""
        for _ in range(2):
            with session_scope(self.engine) as session:
                record, flag = decide(self._find(session, source, external_id))
                session.add(record)
                try:
                    session.flush()
                except IntegrityError:
                    session.rollback()
                    continue
                return record, flag
        raise ClaimLost(external_id)

    def close(
        self,
        record: MeetingRecord,
        note: Note | Sequence[Note] | None = None,
        *,
        tombstone: bool = True,
        **fields: Any,
    ) -> None:
        """Mark the meeting cancelled (no intent left), set `fields`, leave its tombstone."""
        now = self.clock()
        with session_scope(self.engine) as session:
            fresh = session.get(MeetingRecord, record.id)
            assert fresh is not None
            for name, value in fields.items():
                setattr(fresh, name, value)
            fresh.intent = None
            fresh.status = MeetingStatus.CANCELLED.value
            fresh.updated_at = now
            session.add(fresh)
            if tombstone:
                key = (self.tenant, record.source, record.external_id)
                stone = session.get(Tombstone, key) or Tombstone(
                    tenant=self.tenant,
                    source=record.source,
                    external_id=record.external_id,
                    deleted_at=now,
                )
                stone.generation = record.generation
                stone.deleted_at = now
                session.add(stone)
            self._append(session, fresh.source, fresh.external_id, note)

    def forget(self, record: MeetingRecord, note: Note | None = None) -> None:
        """Drop a create intent nothing came of: the row goes, or (a meeting that existed
        before) it is closed without a tombstone."""
        with session_scope(self.engine) as session:
            fresh = session.get(MeetingRecord, record.id)
            if fresh is None:
                return
            if fresh.generation == 0:
                session.delete(fresh)
            else:
                fresh.intent = None
                fresh.status = MeetingStatus.CANCELLED.value
                session.add(fresh)
            self._append(session, record.source, record.external_id, note)

    def rekey(
        self,
        record: MeetingRecord,
        new_id: str,
        fields: dict[str, Any],
        note: Note,
        closed_note: Note,
    ) -> int:
        """Move a series master's row to `new_id` with `fields`, and close the rows of its
        old occurrences (each with `closed_note`). Returns how many were closed."""
        now = self.clock()
        with session_scope(self.engine) as session:
            row = session.get(MeetingRecord, record.id)
            assert row is not None
            row.external_id = new_id
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = now
            session.add(row)
            self._append(session, row.source, record.external_id, note)
            self._append(session, row.source, new_id, note)
            occurrences = [
                r
                for r in session.exec(
                    select(MeetingRecord).where(
                        MeetingRecord.tenant == self.tenant,
                        MeetingRecord.source == record.source,
                        MeetingRecord.status != MeetingStatus.CANCELLED.value,
                        MeetingRecord.organizer_email == record.organizer_email,
                    )
                ).all()
                if (r.request.get(SERIES_KEY) or {}).get("master") == record.external_id
            ]
            for occurrence in occurrences:
                occurrence.status = MeetingStatus.CANCELLED.value
                occurrence.graph_event_id = None
                occurrence.intent = None
                occurrence.updated_at = now
                session.add(occurrence)
                self._append(session, occurrence.source, occurrence.external_id, closed_note)
        return len(occurrences)

    def modify_each(
        self,
        source: Source | str,
        external_ids: Sequence[str],
        change: Callable[[MeetingRecord], bool],
    ) -> None:
        """In one transaction, let `change` alter each existing row (True: store it)."""
        with session_scope(self.engine) as session:
            for external_id in external_ids:
                record = self._find(session, source, external_id)
                if record is not None and change(record):
                    session.add(record)
