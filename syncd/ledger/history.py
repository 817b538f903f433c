"""The meeting history: what syncd changed in Outlook (and the ledger), and what failed.

Rows are appended by the ledger repository (syncd.ledger.repository) inside the
transaction of the ledger write they describe, and only read here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from syncd.domain import HistoryAction, HistorySide, Source
from syncd.ledger.models import MeetingHistory


@dataclass(frozen=True)
class HistoryEntry:
    """One change or failure of a meeting, as a status page or `syncd history` shows it."""

    at: datetime
    side: HistorySide
    action: HistoryAction
    #: {field: [old, new]} where known, else {}
    fields: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    graph_request_id: str | None = None
    salesforce_call: str | None = None


def history_of(
    engine: Engine, tenant: str, source: Source | str, external_id: str
) -> list[HistoryEntry]:
    """Every entry of one meeting, newest last."""
    with Session(engine) as session:
        rows = session.exec(
            select(MeetingHistory)
            .where(
                MeetingHistory.tenant == tenant,
                MeetingHistory.source == str(source),
                MeetingHistory.external_id == external_id,
            )
            .order_by(col(MeetingHistory.id))
        ).all()
    return [
        HistoryEntry(
            at=row.at,
            side=HistorySide(row.side),
            action=HistoryAction(row.action),
            fields=dict(row.fields or {}),
            reason=row.reason,
            graph_request_id=row.graph_request_id,
            salesforce_call=row.salesforce_call,
        )
        for row in rows
    ]
