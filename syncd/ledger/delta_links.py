"""Delta links: where each organizer mailbox's calendarView delta round starts next.

One row per (tenant, mailbox). The Outlook sweep (syncd.sync.outlook_watch) reads them
before its rounds and saves the links Graph hands out after; nothing here touches
meeting rows, so this is not a core write (meeting rows stay the core's alone).

The window rule: a delta link keeps the range of the round that began it
(https://learn.microsoft.com/graph/api/event-delta: startDateTime and endDateTime are
only given to the first request; "the same range is used" by the links after it).
The sync window moves every day, so a link is kept while its window covers the sync
window and dropped (the mailbox read afresh, a full read) once it does not: each new
link's window runs from a day before the sync window's first day to a day after its
last, midnight UTC to midnight UTC, so a link lasts until the next UTC midnight and
a mailbox is read in full about once a day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from syncd.ledger.db import session_scope
from syncd.ledger.models import DeltaLink

_IN_CHUNK = 500
#: The margin a link's window has either side of the sync window (all-day meetings sit
#: on local dates, up to 14 hours from UTC midnight).
MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class StoredLink:
    """A mailbox's link and the window it reads."""

    mailbox: str
    link: str
    start: datetime
    end: datetime
    #: events kept for the next sweep (syncd.sync.outlook_pending)
    pending: Mapping[str, str] = field(default_factory=dict)


def fresh_window(now: datetime, days_past: int, days_future: int) -> tuple[datetime, datetime]:
    """The window of a new round: the sync window widened to whole UTC days plus MARGIN."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=days_past) - MARGIN, day + timedelta(days=days_future) + MARGIN


def covers(link: StoredLink, now: datetime, days_past: int, days_future: int) -> bool:
    """Whether the link's window still holds the sync window [now - past, now + future]."""
    return (
        link.start <= now - timedelta(days=days_past)
        and now + timedelta(days=days_future) <= link.end
    )


def links_of(engine: Engine, tenant: str, mailboxes: Iterable[str]) -> dict[str, StoredLink]:
    """The stored links of these mailboxes (lower-cased address -> link)."""
    wanted = list(dict.fromkeys(m.lower() for m in mailboxes))
    found: dict[str, StoredLink] = {}
    with Session(engine) as session:
        for offset in range(0, len(wanted), _IN_CHUNK):
            rows = session.exec(
                select(DeltaLink).where(
                    DeltaLink.tenant == tenant,
                    col(DeltaLink.mailbox).in_(wanted[offset : offset + _IN_CHUNK]),
                )
            ).all()
            for row in rows:
                found[row.mailbox] = StoredLink(
                    row.mailbox, row.link, row.window_start, row.window_end, dict(row.pending or {})
                )
    return found


def save_link(
    engine: Engine,
    tenant: str,
    mailbox: str,
    link: str,
    start: datetime,
    end: datetime,
    now: datetime,
    pending: Mapping[str, str] | None = None,
) -> None:
    """Keep the link a round ended with (replacing the mailbox's earlier one), with the
    events left for the next sweep."""
    with session_scope(engine) as session:
        row = session.get(DeltaLink, (tenant, mailbox.lower()))
        if row is None:
            row = DeltaLink(
                tenant=tenant,
                mailbox=mailbox.lower(),
                link=link,
                window_start=start,
                window_end=end,
                updated_at=now,
            )
        row.link, row.window_start, row.window_end, row.updated_at = link, start, end, now
        row.pending = dict(pending or {})
        session.add(row)
