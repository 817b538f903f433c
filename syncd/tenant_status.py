"""One tenant's status from the ledger, as plain JSON values: what `syncd status --json`
prints and what the status page shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, or_
from sqlmodel import Session, col, select

from syncd.domain import MeetingStatus, Source
from syncd.ledger import queries as lq
from syncd.ledger.models import MeetingRecord
from syncd.sync.service import FEED_EVENT


def tenant_status(engine: Engine, tenant: str, now: datetime) -> dict[str, Any]:
    """One tenant's status as plain JSON values (what `status --json` prints).

    `backlog` and `due_for_retry` are the sync's (Salesforce records); `counts`
    and `failures` cover every meeting of the tenant, the API's included.
    """
    counts = {s.value: 0 for s in MeetingStatus}
    counts.update(lq.count_by_status(engine, tenant))
    failures = lq.recent_failures(engine, tenant)
    live = (
        MeetingRecord.tenant == tenant,
        MeetingRecord.status != MeetingStatus.CANCELLED.value,
    )
    erred = col(MeetingRecord.last_error_code).is_not(None)
    synced_from_salesforce = MeetingRecord.source == Source.SALESFORCE.value
    # Pending and failed records, and meetings already in Outlook whose last
    # update failed (they keep status synced until the retry lands).
    waiting = or_(
        col(MeetingRecord.status) == MeetingStatus.PENDING.value,
        col(MeetingRecord.status) == MeetingStatus.FAILED.value,
        erred,
    )
    due = or_(
        col(MeetingRecord.next_attempt_at).is_(None), col(MeetingRecord.next_attempt_at) <= now
    )
    return {
        "tenant": tenant,
        "last_poll": _iso(lq.last_run(engine, tenant, FEED_EVENT)),
        "counts": counts,
        "backlog": _count(engine, *live, synced_from_salesforce, waiting),
        "due_for_retry": _count(engine, *live, synced_from_salesforce, erred, due),
        "failures_total": _count(engine, *live, erred),
        "failures": [{"id": external_id, "reason": reason} for external_id, reason in failures],
    }


def _count(engine: Engine, *where: Any) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(MeetingRecord).where(*where)).one()


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC; SQLite hands datetimes back naive, and they are UTC."""
    if value is None:
        return None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
