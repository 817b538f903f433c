"""The append-only history of one meeting: what changed on which side, when and why.

Read-only here: `history_of` reads the `meeting_history` table when the store has
it, and gives an empty history when it does not (a store migrated before the table
existed), so the status page works on either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, MetaData, Table, inspect, select

TABLE = "meeting_history"


@dataclass(frozen=True)
class HistoryEntry:
    """One change of a meeting; `fields` maps each changed field to [old, new]."""

    id: int
    tenant: str
    source: str
    external_id: str
    at: datetime
    side: str
    action: str
    fields: dict[str, Any]
    reason: str | None
    graph_request_id: str | None
    salesforce_call: str | None


def history_of(engine: Engine, tenant: str, source: str, external_id: str) -> list[HistoryEntry]:
    """The meeting's changes, oldest first."""
    if not inspect(engine).has_table(TABLE):
        return []
    table = Table(TABLE, MetaData(), autoload_with=engine)
    query = (
        select(table)
        .where(
            table.c.tenant == tenant,
            table.c.source == source,
            table.c.external_id == external_id,
        )
        .order_by(table.c.at, table.c.id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [
        HistoryEntry(
            id=row["id"],
            tenant=row["tenant"],
            source=row["source"],
            external_id=row["external_id"],
            at=row["at"] if row["at"].tzinfo else row["at"].replace(tzinfo=UTC),
            side=row["side"],
            action=row["action"],
            fields=dict(row["fields"] or {}),
            reason=row["reason"],
            graph_request_id=row["graph_request_id"],
            salesforce_call=row["salesforce_call"],
        )
        for row in rows
    ]
