"""Ledger reads and small writes used by the sync (portable SQL only)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import datetime

from sqlalchemy import Engine, Table, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from syncd.domain import LedgerView, MeetingStatus, Source
from syncd.ledger.db import session_scope
from syncd.ledger.models import MeetingRecord, Watermark

#: SQLite and PostgreSQL both take a few hundred bound values in IN (...).
_IN_CHUNK = 500


def _start_of(record: MeetingRecord) -> datetime | None:
    value = (record.request or {}).get("startTime")
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def view_of(record: MeetingRecord) -> LedgerView:
    return LedgerView(
        external_id=record.external_id,
        status=record.status,
        content_hash=record.content_hash,
        organizer_email=record.organizer_email,
        start=_start_of(record),
        next_attempt_at=record.next_attempt_at,
        error_message=record.last_error_message,
        error_code=record.last_error_code,
        graph_event_id=record.graph_event_id,
        join_url=record.join_url,
        target=record.target,
    )


def ledger_views(
    engine: Engine, tenant: str, source: Source, external_ids: Iterable[str]
) -> dict[str, LedgerView]:
    """Planner views of the given records (missing ids are simply absent)."""
    ids = list(dict.fromkeys(external_ids))
    views: dict[str, LedgerView] = {}
    with Session(engine) as session:
        for offset in range(0, len(ids), _IN_CHUNK):
            rows = session.exec(
                select(MeetingRecord).where(
                    MeetingRecord.tenant == tenant,
                    MeetingRecord.source == source.value,
                    col(MeetingRecord.external_id).in_(ids[offset : offset + _IN_CHUNK]),
                )
            )
            views.update((r.external_id, view_of(r)) for r in rows)
    return views


def live_views(engine: Engine, tenant: str, source: Source) -> Iterator[LedgerView]:
    """Every meeting of a source that is not cancelled, streamed in id order: its id,
    status, hash, organizer and start (no `target`, no error: a full resync reads the
    whole ledger for these, and decoding every row's JSON columns cost more than the
    rest of the read)."""
    table: Table = MeetingRecord.__table__  # type: ignore[attr-defined]
    columns = table.c
    last_id = 0
    while True:
        with engine.connect() as connection:
            rows = connection.execute(
                sa_select(
                    columns.id,
                    columns.external_id,
                    columns.status,
                    columns.content_hash,
                    columns.organizer_email,
                    # Only the start, extracted by the database (JSON path): decoding the
                    # whole request of every row cost more than the rest of the read.
                    columns.request["startTime"].as_string(),
                )
                .where(
                    columns.tenant == tenant,
                    columns.source == source.value,
                    columns.status != MeetingStatus.CANCELLED.value,
                    columns.id > last_id,
                )
                .order_by(columns.id)
                .limit(_IN_CHUNK)
            ).all()
        if not rows:
            return
        for _, external_id, status, content_hash, organizer, start in rows:
            yield LedgerView(
                external_id=external_id,
                status=status,
                content_hash=content_hash,
                organizer_email=organizer,
                start=datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None,
            )
        last_id = rows[-1][0]


def synced_records(
    engine: Engine, tenant: str, source: Source, *, after_id: int = 0, limit: int = 500
) -> list[MeetingRecord]:
    """A page of synced meetings with a Graph id (for the response refresh)."""
    with Session(engine, expire_on_commit=False) as session:
        return list(
            session.exec(
                select(MeetingRecord)
                .where(
                    MeetingRecord.tenant == tenant,
                    MeetingRecord.source == source.value,
                    MeetingRecord.status == MeetingStatus.SYNCED.value,
                    col(MeetingRecord.graph_event_id).is_not(None),
                    col(MeetingRecord.id) > after_id,
                )
                .order_by(col(MeetingRecord.id))
                .limit(limit)
            ).all()
        )


def synced_by_organizer(
    engine: Engine,
    tenant: str,
    source: Source,
    *,
    batch: int = _IN_CHUNK,
    organizers: Collection[str] | None = None,
) -> Iterator[tuple[str, list[MeetingRecord]]]:
    """Synced meetings with a Graph id, one organizer at a time with all of their meetings
    (of every organizer; `organizers`: at least theirs, compared without case, and only
    theirs when they fit one IN list).

    One ordered read, fetched `batch` rows at a time: memory holds one organizer's
    meetings, not the ledger.
    """
    query = select(MeetingRecord).where(
        MeetingRecord.tenant == tenant,
        MeetingRecord.source == source.value,
        MeetingRecord.status == MeetingStatus.SYNCED.value,
        col(MeetingRecord.graph_event_id).is_not(None),
    )
    wanted = sorted({o.lower() for o in organizers}) if organizers is not None else []
    if organizers is not None and len(wanted) <= _IN_CHUNK:
        query = query.where(func.lower(MeetingRecord.organizer_email).in_(wanted))
    with Session(engine, expire_on_commit=False) as session:
        rows = session.exec(
            query.order_by(
                col(MeetingRecord.organizer_email), col(MeetingRecord.id)
            ).execution_options(yield_per=batch)
        )
        organizer: str | None = None
        group: list[MeetingRecord] = []
        for row in rows:
            if row.organizer_email != organizer:
                if organizer is not None and group:
                    yield organizer, group
                organizer, group = row.organizer_email, []
            group.append(row)
        if organizer is not None and group:
            yield organizer, group


def due_failures(
    engine: Engine, tenant: str, source: Source, now: datetime, limit: int = 1000
) -> list[str]:
    """External ids of failed records whose retry time has come."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(MeetingRecord.external_id)
                .where(
                    MeetingRecord.tenant == tenant,
                    MeetingRecord.source == source.value,
                    MeetingRecord.last_error_code.is_not(None),  # type: ignore[union-attr]
                    MeetingRecord.status != MeetingStatus.CANCELLED.value,
                    (col(MeetingRecord.next_attempt_at).is_(None))
                    | (col(MeetingRecord.next_attempt_at) <= now),
                )
                .limit(limit)
            ).all()
        )


def pending_organizers(
    engine: Engine, tenant: str, source: Source
) -> list[tuple[str, str, datetime | None]]:
    """(external id, organizer, next attempt) of the rows with an intent: the few columns
    that say which mailbox shard's drain finishes each (syncd.sync.shard_drain)."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(
                    MeetingRecord.external_id,
                    MeetingRecord.organizer_email,
                    MeetingRecord.next_attempt_at,
                ).where(
                    MeetingRecord.tenant == tenant,
                    MeetingRecord.source == source.value,
                    col(MeetingRecord.intent).is_not(None),
                )
            ).all()
        )


def count_by_status(engine: Engine, tenant: str) -> dict[str, int]:
    from sqlalchemy import func

    with Session(engine) as session:
        rows = session.exec(
            select(MeetingRecord.status, func.count())
            .where(MeetingRecord.tenant == tenant)
            .group_by(MeetingRecord.status)
        ).all()
    return {status: count for status, count in rows}


def get_watermark(engine: Engine, tenant: str, feed: str) -> datetime | None:
    with Session(engine) as session:
        row = session.get(Watermark, (tenant, feed))
        return row.value if row else None


def set_watermark(engine: Engine, tenant: str, feed: str, value: datetime, now: datetime) -> None:
    with session_scope(engine) as session:
        row = session.get(Watermark, (tenant, feed))
        if row is None:
            row = Watermark(tenant=tenant, feed=feed, value=value, updated_at=now)
        else:
            row.value, row.updated_at = value, now
        session.add(row)


def clear_watermark(engine: Engine, tenant: str, feed: str) -> None:
    with session_scope(engine) as session:
        row = session.get(Watermark, (tenant, feed))
        if row is not None:
            session.delete(row)


def last_run(engine: Engine, tenant: str, feed: str) -> datetime | None:
    """When a feed's watermark last moved (the last successful poll)."""
    with Session(engine) as session:
        row = session.get(Watermark, (tenant, feed))
        return row.updated_at if row else None


def recent_failures(engine: Engine, tenant: str, limit: int = 10) -> list[tuple[str, str]]:
    """The latest records with an error, newest first: (external id, message)."""
    with Session(engine) as session:
        rows = session.exec(
            select(MeetingRecord.external_id, MeetingRecord.last_error_message)
            .where(
                MeetingRecord.tenant == tenant,
                col(MeetingRecord.last_error_code).is_not(None),
                MeetingRecord.status != MeetingStatus.CANCELLED.value,
            )
            .order_by(col(MeetingRecord.updated_at).desc())
            .limit(limit)
        ).all()
    return [(external_id, message or "") for external_id, message in rows]


def transactions_in_flight(
    engine: Engine, tenant: str, source: Source, stamps: Collection[str]
) -> set[str]:
    """Of these transactionIds, those of meetings syncd is still writing (an intent, or no
    event id recorded yet)."""
    wanted = sorted(set(stamps))
    found: set[str] = set()
    with Session(engine) as session:
        for offset in range(0, len(wanted), _IN_CHUNK):
            found.update(
                session.exec(
                    select(MeetingRecord.transaction_id).where(
                        MeetingRecord.tenant == tenant,
                        MeetingRecord.source == source.value,
                        col(MeetingRecord.transaction_id).in_(wanted[offset : offset + _IN_CHUNK]),
                        or_(
                            col(MeetingRecord.intent).is_not(None),
                            col(MeetingRecord.graph_event_id).is_(None),
                        ),
                    )
                ).all()
            )
    return found
