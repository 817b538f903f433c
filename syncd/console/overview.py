"""What the status page shows of each tenant, read from the ledger into plain values."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, make_url
from sqlmodel import Session, select

from syncd.domain import Source
from syncd.ledger import tenant_state as ts
from syncd.ledger.history import HistoryEntry, history_of
from syncd.ledger.lease import holders
from syncd.ledger.models import MeetingRecord
from syncd.ledger.retries import FailedRecord, failed_records
from syncd.tenant_status import tenant_status


@dataclass
class TenantView:
    """One tenant's section of the status page."""

    name: str
    health: str  # ok | broken | paused
    health_reason: str
    state: ts.TenantState | None
    lease: str
    last_poll: str | None
    backlog: int
    due_for_retry: int
    counts: dict[str, int]
    failures: list[FailedRecord] = field(default_factory=list)

    @property
    def usage_percent(self) -> float | None:
        state = self.state
        if state is None or not state.salesforce_used or not state.salesforce_max:
            return None
        return round(100 * state.salesforce_used / state.salesforce_max, 1)


def doctor_reason(report: dict[str, Any] | None) -> str:
    """The first problem a doctor report names (its shape: checks with ok and a message)."""
    if not report:
        return "the last doctor run found a problem"
    for key in ("reason", "problem", "error"):
        if isinstance(report.get(key), str) and report[key]:
            return str(report[key])
    checks = report.get("checks") or report.get("problems") or []
    for check in checks if isinstance(checks, list) else []:
        if isinstance(check, dict) and not check.get("ok", False):
            name = check.get("name") or check.get("check") or "check"
            detail = check.get("message") or check.get("detail") or check.get("reason") or ""
            return f"{name}: {detail}".rstrip(": ")
        if isinstance(check, str):
            return check
    return "the last doctor run found a problem"


def health_of(state: ts.TenantState | None, broken: str | None = None) -> tuple[str, str]:
    """(ok | paused | broken, why): a pause wins, then a tenant this process could not
    start (its configuration or credentials), then the last doctor result."""
    if state is not None and state.paused:
        pause = ts.is_paused_row(state)
        return "paused", pause.describe() if pause else "paused"
    if broken is not None:
        return "broken", broken
    if state is not None and state.doctor_ok is False:
        return "broken", doctor_reason(state.doctor_report)
    if state is None or state.doctor_at is None:
        return "ok", "no doctor run recorded yet (`syncd doctor`)"
    return "ok", "the last doctor run passed"


def lease_holder(engine: Engine, tenant: str) -> str:
    """Who runs the tenant's jobs: the replica holding its lease (syncd.ledger.lease)."""
    if engine.dialect.name == "postgresql":
        return holders(engine, [tenant], with_address=True).get(tenant, "no replica holds it")
    database = make_url(engine.url).database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return "this process (no shared leases)"
    return _flock_holder(Path(database).resolve().parent / "leases" / f"{tenant}.lock")


def _flock_holder(path: Path) -> str:
    """The process holding a lease file's flock, from /proc/locks (looking takes no lock,
    so it never makes a daemon miss its lease)."""
    try:
        inode = os.stat(path).st_ino
        locks = Path("/proc/locks").read_text()
    except OSError:
        return "no daemon holds it" if not path.exists() else "unknown (no /proc/locks)"
    for line in locks.splitlines():
        parts = line.split()
        if len(parts) > 5 and parts[1] == "FLOCK" and parts[5].rsplit(":", 1)[-1] == str(inode):
            return f"syncd process {parts[4]} on this host"
    return "no daemon holds it"


def tenant_view(
    engine: Engine, tenant: str, now: datetime, broken: str | None = None
) -> TenantView:
    status = tenant_status(engine, tenant, now)
    state = ts.read_state(engine, tenant)
    health, reason = health_of(state, broken)
    return TenantView(
        name=tenant,
        health=health,
        health_reason=reason,
        state=state,
        lease=lease_holder(engine, tenant),
        last_poll=status["last_poll"],
        backlog=status["backlog"],
        due_for_retry=status["due_for_retry"],
        counts=status["counts"],
        failures=failed_records(engine, tenant),
    )


@dataclass
class RecordView:
    """A record's ledger row and its history, for its own page."""

    record: MeetingRecord
    history: list[HistoryEntry]

    @property
    def retryable(self) -> bool:
        return (
            self.record.last_error_code is not None
            and self.record.source == Source.SALESFORCE.value
            and self.record.status != "cancelled"
        )


def record_view(engine: Engine, tenant: str, source: str, external_id: str) -> RecordView | None:
    with Session(engine, expire_on_commit=False) as session:
        record = session.exec(
            select(MeetingRecord).where(
                MeetingRecord.tenant == tenant,
                MeetingRecord.source == source,
                MeetingRecord.external_id == external_id,
            )
        ).first()
    if record is None:
        return None
    return RecordView(record, history_of(engine, tenant, source, external_id))


def when(value: datetime | str | None) -> str:
    """A time for the page: ISO 8601 UTC to the second, or "never"."""
    if value is None:
        return "never"
    if isinstance(value, str):
        return value
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
