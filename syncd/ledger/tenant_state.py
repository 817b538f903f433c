"""What an operator sees and sets per tenant: the pause switch, the last doctor report,
the last poll and its lag, Salesforce API usage and Graph throttling.

One row per tenant in `tenant_state`, written by the daemon's job wrapper, `syncd
doctor`, the status page and `syncd pause/resume`; read by the status page and the
sync commands. Every write is an upsert of the columns it owns, so writers of
different columns never undo one another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel

from syncd.ledger.db import session_scope


class TenantState(SQLModel, table=True):
    """The operator's view of one tenant (absent until something is recorded)."""

    __tablename__ = "tenant_state"

    tenant: str = Field(primary_key=True, max_length=64)
    paused: bool = False
    paused_at: datetime | None = None
    paused_by: str | None = Field(default=None, max_length=255)
    pause_reason: str | None = Field(default=None, max_length=2000)
    doctor_at: datetime | None = None
    doctor_ok: bool | None = None
    doctor_report: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    poll_at: datetime | None = None
    poll_records: int | None = None
    lag_p50_seconds: float | None = None
    lag_max_seconds: float | None = None
    salesforce_used: int | None = None
    salesforce_max: int | None = None
    salesforce_at: datetime | None = None
    graph_throttled: int = 0
    graph_seconds_waited: float = 0.0
    graph_throttled_at: datetime | None = None
    updated_at: datetime


@dataclass(frozen=True)
class Pause:
    """Why a tenant's sync is paused, for messages ("paused since ... by ...: reason")."""

    at: datetime | None
    by: str | None
    reason: str | None

    def describe(self) -> str:
        since = f" since {_utc(self.at).isoformat(timespec='seconds')}" if self.at else ""
        who = f" by {self.by}" if self.by else ""
        why = f": {self.reason}" if self.reason else ""
        return f"paused{since}{who}{why}"


def _utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def read_state(engine: Engine, tenant: str) -> TenantState | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.get(TenantState, tenant)


def _update(
    engine: Engine, tenant: str, now: datetime, change: Callable[[TenantState], None]
) -> None:
    """Apply `change` to the tenant's row under a row lock, creating the row first."""
    for attempt in (1, 2):
        try:
            with session_scope(engine) as session:
                row = session.get(TenantState, tenant, with_for_update=True)
                if row is None:
                    row = TenantState(tenant=tenant, updated_at=now)
                    session.add(row)
                change(row)
                row.updated_at = now
            return
        except IntegrityError:
            # Two writers created the row at once (a job and the page): the loser
            # updates the winner's row.
            if attempt == 2:
                raise


# ------------------------------------------------------------------- pause


def pause(engine: Engine, tenant: str, *, now: datetime, by: str, reason: str | None) -> None:
    """Pause the tenant's sync (daemon jobs and `syncd reconcile` skip it)."""

    def change(row: TenantState) -> None:
        row.paused, row.paused_at, row.paused_by = True, now, by[:255]
        row.pause_reason = reason[:2000] if reason else None

    _update(engine, tenant, now, change)


def resume(engine: Engine, tenant: str, *, now: datetime) -> bool:
    """Resume the tenant's sync; False when it was not paused."""
    was = is_paused(engine, tenant)

    def change(row: TenantState) -> None:
        row.paused, row.paused_at, row.paused_by, row.pause_reason = False, None, None, None

    _update(engine, tenant, now, change)
    return was is not None


def is_paused(engine: Engine, tenant: str) -> Pause | None:
    """The pause of the tenant, or None when it syncs."""
    return is_paused_row(read_state(engine, tenant))


def is_paused_row(row: TenantState | None) -> Pause | None:
    """The pause a read row records, or None."""
    if row is None or not row.paused:
        return None
    return Pause(row.paused_at and _utc(row.paused_at), row.paused_by, row.pause_reason)


# ------------------------------------------------------------- recordings


def record_doctor(
    engine: Engine, tenant: str, *, now: datetime, ok: bool, report: dict[str, Any]
) -> None:
    """The last `syncd doctor` result of the tenant (its JSON report)."""

    def change(row: TenantState) -> None:
        row.doctor_at, row.doctor_ok, row.doctor_report = now, ok, report

    _update(engine, tenant, now, change)


def record_poll(
    engine: Engine,
    tenant: str,
    *,
    now: datetime,
    records: int,
    lag_p50: float | None,
    lag_max: float | None,
    salesforce_used: int | None = None,
    salesforce_max: int | None = None,
) -> None:
    """A poll pass finished: how many records it read, how far behind Outlook was, and
    the org's API usage it saw, in one write (a reader never sees half a pass)."""

    def change(row: TenantState) -> None:
        row.poll_at, row.poll_records = now, records
        if lag_p50 is not None:  # a pass that wrote nothing keeps the last lag
            row.lag_p50_seconds, row.lag_max_seconds = lag_p50, lag_max
        if salesforce_used is not None:  # nothing reported yet: keep what the last pass saw
            row.salesforce_used, row.salesforce_max = salesforce_used, salesforce_max
            row.salesforce_at = now

    _update(engine, tenant, now, change)


def record_graph_throttling(
    engine: Engine, tenant: str, *, now: datetime, throttled: int, seconds_waited: float
) -> None:
    """Add one job's Graph 429 answers and retry waits to the tenant's totals."""
    if not throttled and not seconds_waited:
        return

    def change(row: TenantState) -> None:
        row.graph_throttled = (row.graph_throttled or 0) + throttled
        row.graph_seconds_waited = (row.graph_seconds_waited or 0.0) + seconds_waited
        if throttled:
            row.graph_throttled_at = now

    _update(engine, tenant, now, change)
