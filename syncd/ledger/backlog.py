"""Per-tenant counts for the metrics, each in one grouped query over every tenant.

The backlog and the failed records are what `syncd status` reports
(sync_commands.tenant_status): backlog = live meetings from Salesforce that are
pending, failed, or synced with a failed last update; failed = live meetings of
any source whose last attempt failed.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, or_
from sqlmodel import Session, col, select

from syncd.domain import MeetingStatus, Source
from syncd.ledger.models import MeetingRecord


def meetings_by_status(engine: Engine) -> dict[tuple[str, str], int]:
    """(tenant, status) -> meetings."""
    with Session(engine) as session:
        rows = session.exec(
            select(MeetingRecord.tenant, MeetingRecord.status, func.count()).group_by(
                MeetingRecord.tenant, MeetingRecord.status
            )
        ).all()
    return {(tenant, status): count for tenant, status, count in rows}


def backlog_by_tenant(engine: Engine) -> dict[str, int]:
    """Tenant -> Salesforce records still to be synced (see the module docstring)."""
    erred = col(MeetingRecord.last_error_code).is_not(None)
    waiting = or_(
        col(MeetingRecord.status) == MeetingStatus.PENDING.value,
        col(MeetingRecord.status) == MeetingStatus.FAILED.value,
        erred,
    )
    return _count_by_tenant(engine, MeetingRecord.source == Source.SALESFORCE.value, waiting)


def failed_by_tenant(engine: Engine) -> dict[str, int]:
    """Tenant -> live meetings whose last attempt failed."""
    return _count_by_tenant(engine, col(MeetingRecord.last_error_code).is_not(None))


def _count_by_tenant(engine: Engine, *where: object) -> dict[str, int]:
    live = MeetingRecord.status != MeetingStatus.CANCELLED.value
    with Session(engine) as session:
        rows = session.exec(
            select(MeetingRecord.tenant, func.count())
            .where(live, *where)  # type: ignore[arg-type]
            .group_by(MeetingRecord.tenant)
        ).all()
    return dict(rows)
