"""The operator's "retry now": a failed record's back-off is cleared, so the next
retry pass of the daemon (`retry-failed`) or `syncd reconcile` takes it.

Only records synced from Salesforce: the retry pass re-reads their Event. A meeting the
Scheduler API failed to write is retried by the API's caller sending its request again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from syncd.domain import MeetingStatus, Source
from syncd.ledger.db import session_scope
from syncd.ledger.models import MeetingRecord


@dataclass(frozen=True)
class FailedRecord:
    """A record whose last write failed, as an operator sees it."""

    tenant: str
    source: str
    external_id: str
    status: str
    error_code: str
    reason: str
    attempts: int
    next_attempt_at: datetime | None


def _failed(tenant: str) -> tuple[Any, ...]:
    return (
        MeetingRecord.tenant == tenant,
        col(MeetingRecord.last_error_code).is_not(None),
        MeetingRecord.status != MeetingStatus.CANCELLED.value,
    )


def failed_records(engine: Engine, tenant: str, limit: int = 100) -> list[FailedRecord]:
    """The tenant's failed records, most recently failed first."""
    with Session(engine) as session:
        rows = session.exec(
            select(MeetingRecord)
            .where(*_failed(tenant))
            .order_by(col(MeetingRecord.updated_at).desc())
            .limit(limit)
        ).all()
        return [
            FailedRecord(
                tenant=r.tenant,
                source=r.source,
                external_id=r.external_id,
                status=r.status,
                error_code=r.last_error_code or "",
                reason=r.last_error_message or "",
                attempts=r.attempts,
                next_attempt_at=r.next_attempt_at,
            )
            for r in rows
        ]


def tenants_of(engine: Engine, external_id: str, tenants: list[str]) -> list[str]:
    """Which of `tenants` have a Salesforce record with this id."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(MeetingRecord.tenant).where(
                    col(MeetingRecord.tenant).in_(tenants),
                    MeetingRecord.source == Source.SALESFORCE.value,
                    MeetingRecord.external_id == external_id,
                )
            ).all()
        )


def retry_now(engine: Engine, tenant: str, external_ids: list[str] | None, now: datetime) -> int:
    """Make the failed Salesforce records due now (all of the tenant's when `external_ids`
    is None); returns how many were. A record that is not failed is left alone."""
    query = (
        update(MeetingRecord)
        .where(*_failed(tenant), col(MeetingRecord.source) == Source.SALESFORCE.value)
        .values(next_attempt_at=now)
    )
    if external_ids is not None:
        query = query.where(col(MeetingRecord.external_id).in_(external_ids))
    with session_scope(engine) as session:
        return int(session.exec(query).rowcount)
