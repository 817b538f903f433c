"""Changes a sweep leaves for its next one (pure): events of meetings a write of syncd's
was changing while the delta round ran, kept by id with the mailbox's delta link.

A delta round reports a change once. A poll may write a meeting while a sweep runs (a
create, a PATCH, an owner change that cancels the old organizer's event): the round and
the ledger rows the sweep read before it then disagree about that write, and judging one
against the other takes syncd's own write for a change in Outlook. So the sweep reads the
rows again once the round answered and judges only meetings whose row did not change in
between; the events of the others (and events stamped with a transactionId but not yet
known to the ledger: a create whose completion is not recorded yet) are kept here. The
next sweep reads a kept event again (a GET) once its row has settled, or takes it from
its round when the event is reported again.

Bounded: at most MAX_PENDING ids per mailbox, each dropped after PENDING_FOR (by then
the link has expired and a full read reports every event again).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from syncd.domain import MeetingStatus, Source
from syncd.graph.delta import DeltaResult
from syncd.ledger import queries as lq
from syncd.ledger.models import MeetingRecord

#: How long an event is kept waiting for its row (a link lasts at most a day).
PENDING_FOR = timedelta(days=1)
#: Ids kept per mailbox at most (the newest stay).
MAX_PENDING = 200


@dataclass
class Split:
    """One mailbox's round, divided into what is judged now and what waits."""

    #: rows unchanged since before the round, judged against it
    rows: list[MeetingRecord] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    removed: set[str] = field(default_factory=set)
    #: settled rows whose event was kept from an earlier round: read again now
    retry: list[MeetingRecord] = field(default_factory=list)
    #: {event id: first seen (ISO)} to keep with the link
    pending: dict[str, str] = field(default_factory=dict)


def rows_now(engine: Engine, tenant: str, organizers: Collection[str]) -> dict[str, MeetingRecord]:
    """The synced rows of these organizers as the ledger holds them now (by external id)."""
    found: dict[str, MeetingRecord] = {}
    for _, rows in lq.synced_by_organizer(engine, tenant, Source.SALESFORCE, organizers=organizers):
        found.update((row.external_id, row) for row in rows)
    return found


def awaited(engine: Engine, tenant: str, stamps: Collection[str]) -> set[str]:
    """Of these transactionIds, those of meetings syncd is still writing (an intent, or no
    event id recorded yet): their events are not known to the ledger yet."""
    return lq.transactions_in_flight(engine, tenant, Source.SALESFORCE, stamps)


def unknown_stamps(results: Sequence[DeltaResult], rows: Sequence[MeetingRecord]) -> set[str]:
    """The transactionIds of changed events no row read before the round points at."""
    ids = {row.graph_event_id for row in rows}
    return {
        str(event["transactionId"])
        for result in results
        for event in result.changed
        if event.get("transactionId") and event.get("id") not in ids
    }


def _state(row: MeetingRecord) -> tuple[Any, ...]:
    """What a write of syncd's to the meeting changes."""
    return (
        row.graph_event_id,
        (row.organizer_email or "").casefold(),
        row.status,
        row.intent,
        row.generation,
        json.dumps(row.sent or {}, sort_keys=True, default=str),
    )


def _settled(row: MeetingRecord, now: MeetingRecord | None) -> bool:
    return (
        now is not None
        and row.intent is None
        and row.status == MeetingStatus.SYNCED.value
        and _state(row) == _state(now)
    )


def split(
    rows: Sequence[MeetingRecord],
    after: Mapping[str, MeetingRecord],
    result: DeltaResult,
    held: Mapping[str, str],
    now: datetime,
    writing: Collection[str] = (),
) -> Split:
    """Divide a round: `rows` read before it, `after` read once it answered, `held` the
    ids the mailbox's link kept from earlier rounds, `writing` the transactionIds of
    meetings syncd is still creating (syncd.sync.outlook_pending.awaited)."""
    out = Split()
    known = {row.external_id for row in rows}
    unsettled: set[str] = set()
    for row in rows:
        if _settled(row, after.get(row.external_id)):
            out.rows.append(row)
            continue
        unsettled.add(row.graph_event_id or "")
        moved = after.get(row.external_id)
        if moved is not None:
            unsettled.add(moved.graph_event_id or "")
    # Rows that became synced during the round (a create completed meanwhile).
    unsettled.update(r.graph_event_id or "" for k, r in after.items() if k not in known)
    unsettled.discard("")
    settled_ids = {row.graph_event_id: row for row in out.rows if row.graph_event_id}
    stamp = now.isoformat()

    def keep(event_id: str) -> None:
        out.pending[event_id] = held.get(event_id, stamp)

    reported: set[str] = set()
    for event in result.changed:
        event_id = str(event.get("id"))
        reported.add(event_id)
        master = str(event.get("seriesMasterId") or "")
        if event_id in unsettled or master in unsettled:
            keep(event_id)
        elif (
            event_id not in settled_ids
            and master not in settled_ids
            and event.get("transactionId") in writing
        ):
            keep(event_id)  # syncd's create, its completion not recorded yet
        else:
            out.changed.append(event)
    for event_id in result.removed:
        reported.add(event_id)
        if event_id in unsettled:
            keep(event_id)
        else:
            out.removed.add(event_id)
    oldest = (now - PENDING_FOR).isoformat()
    for event_id, seen in held.items():
        if event_id in reported or seen < oldest:
            continue
        if event_id in settled_ids:
            out.retry.append(settled_ids[event_id])
        else:
            out.pending[event_id] = seen
    if len(out.pending) > MAX_PENDING:
        newest = sorted(out.pending.items(), key=lambda item: item[1])[-MAX_PENDING:]
        out.pending = dict(newest)
    return out
