"""Many meeting rows in one transaction: the claims of a group of creates, and their
completions with their history entries.

The same rows and history as syncd.ledger.repository writes one at a time, through
SQLAlchemy Core statements run with many parameter sets (executemany): for a group of
creates the ORM's unit of work cost more CPU than the SQL itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, bindparam, insert, select, update
from sqlalchemy.orm import configure_mappers

from syncd.domain import Source
from syncd.ledger.models import MeetingHistory, MeetingRecord
from syncd.ledger.repository import Note

_MEETINGS: Table = MeetingRecord.__table__  # type: ignore[attr-defined]
_HISTORY: Table = MeetingHistory.__table__  # type: ignore[attr-defined]
_MANAGER = MeetingRecord._sa_class_manager  # type: ignore[attr-defined]
#: Every column of a meeting row but its primary key, as INSERT and UPDATE set them.
_COLUMNS = tuple(c.name for c in _MEETINGS.columns if c.name != "id")
#: SQLite and PostgreSQL both take a few hundred bound values in IN (...).
_IN_CHUNK = 500

#: A claim decision: the row as stored now (None: none yet) -> the row to store, or
#: None to leave it as it is and claim nothing.
Decide = Callable[[MeetingRecord | None], MeetingRecord | None]


def _values(record: MeetingRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _COLUMNS}


def new_record(**values: Any) -> MeetingRecord:
    """A row object holding `values`, made as the ORM makes the rows it loads (the class
    manager's new instance, its attributes filled in): the model's __init__ cost more
    than the SQL of a whole claim. Nothing is validated; the values are a claim's."""
    configure_mappers()  # as a first __init__ or query would (at once when done before)
    record: MeetingRecord = _MANAGER.new_instance()
    record.__dict__.update({"id": None, **values})
    return record


def _record(row: Mapping[str, Any]) -> MeetingRecord:
    return new_record(**row)


class BulkMeetingWrites:
    """One tenant's claims and completions of many meetings at once."""

    def __init__(self, engine: Engine, tenant: str, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.tenant = tenant
        self.clock = clock
        self._update = (
            update(_MEETINGS)
            .where(_MEETINGS.c.id == bindparam("row_id"))
            .values({name: bindparam(f"new_{name}") for name in _COLUMNS})
        )
        self._completions: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], Any] = {}

    def claim(
        self, source: Source | str, decisions: Mapping[str, Decide]
    ) -> dict[str, MeetingRecord]:
        """In one transaction, read the rows of these meetings (external id -> decision),
        let each decision make the row to store, and store the new and changed ones.

        Returns the rows stored, by external id (with their ids); a decision that
        returned None is absent. The caller holds the meetings' locks, so no other
        writer claims them meanwhile; a unique-key conflict (a writer that did not)
        rolls the whole claim back and raises IntegrityError.
        """
        wanted = list(decisions)
        claimed: dict[str, MeetingRecord] = {}
        with self.engine.begin() as connection:
            stored: dict[str, MeetingRecord] = {}
            for offset in range(0, len(wanted), _IN_CHUNK):
                rows = connection.execute(
                    select(_MEETINGS).where(
                        _MEETINGS.c.tenant == self.tenant,
                        _MEETINGS.c.source == str(source),
                        _MEETINGS.c.external_id.in_(wanted[offset : offset + _IN_CHUNK]),
                    )
                ).mappings()
                stored.update((row["external_id"], _record(dict(row))) for row in rows)
            new: list[MeetingRecord] = []
            changed: list[MeetingRecord] = []
            for external_id, decide in decisions.items():
                current = stored.get(external_id)
                before = None if current is None else _values(current)
                record = decide(current)
                if record is None:
                    continue
                claimed[external_id] = record
                if current is None:
                    new.append(record)
                elif record is not current or _values(record) != before:
                    changed.append(record)
            if new:
                # executemany, then the new ids in one SELECT: INSERT ... RETURNING in the
                # order of the rows runs one statement a row on SQLite.
                connection.execute(insert(_MEETINGS), [_values(r) for r in new])
                found = connection.execute(
                    select(_MEETINGS.c.external_id, _MEETINGS.c.id).where(
                        _MEETINGS.c.tenant == self.tenant,
                        _MEETINGS.c.source == str(source),
                        _MEETINGS.c.external_id.in_([r.external_id for r in new]),
                    )
                )
                ids = {external_id: row_id for external_id, row_id in found}
                for record in new:
                    record.id = ids[record.external_id]
            if changed:
                connection.execute(
                    self._update,
                    [
                        {"row_id": r.id, **{f"new_{k}": v for k, v in _values(r).items()}}
                        for r in changed
                    ],
                )
        return claimed

    def complete(
        self,
        completions: Sequence[tuple[MeetingRecord, Mapping[str, Any], Note | None]],
        *,
        copies: Mapping[str, str] | None = None,
    ) -> None:
        """In one transaction, set each row's fields (and updated_at) and append its
        history entry. The fields of every completion must have the same names.

        `completions` hold the rows `claim` returned (objects outside any session).
        `copies`: columns set to another column of the same row by the database
        ({"sent": "target"}: what was sent is what the claim stored as the target),
        so a value the row holds already is not encoded and sent again."""
        if not completions:
            return
        now = self.clock()
        names = tuple(completions[0][1])
        copied = tuple(sorted((copies or {}).items()))
        statement = self._completion(names, copied)
        connection_rows = []
        history = []
        for record, fields, note in completions:
            if tuple(fields) != names:
                raise ValueError("completions of one call must set the same fields")
            connection_rows.append(
                {
                    "row_id": record.id,
                    "new_updated_at": now,
                    **{f"new_{k}": v for k, v in fields.items()},
                }
            )
            if note is not None:
                history.append(_history_row(self.tenant, record, now, note))
        with self.engine.begin() as connection:
            connection.execute(statement, connection_rows)
            if history:
                connection.execute(insert(_HISTORY), history)
        # The rows are `claim`'s own objects, outside any session: their attributes are
        # filled in as `new_record` fills them, not through the ORM's attribute events,
        # which cost more at ten fields a row than the transaction's SQL.
        for record, fields, _ in completions:
            values = record.__dict__
            values.update(fields)
            for name, source in copied:
                values[name] = values[source]
            values["updated_at"] = now

    def _completion(self, names: tuple[str, ...], copied: tuple[tuple[str, str], ...]) -> Any:
        """UPDATE ... SET the named fields, the copies and updated_at WHERE id = ?, built
        once per shape."""
        key = (names, copied)
        statement = self._completions.get(key)
        if statement is None:
            values: dict[str, Any] = {
                name: bindparam(f"new_{name}") for name in (*names, "updated_at")
            }
            values.update({name: _MEETINGS.c[source] for name, source in copied})
            statement = (
                update(_MEETINGS).where(_MEETINGS.c.id == bindparam("row_id")).values(values)
            )
            self._completions[key] = statement
        return statement


def _history_row(tenant: str, record: MeetingRecord, at: datetime, note: Note) -> dict[str, Any]:
    """The meeting_history row of `note` (as MeetingRepository appends one)."""
    return {
        "tenant": tenant,
        "source": record.source,
        "external_id": record.external_id,
        "at": at,
        "side": note.side.value,
        "action": note.action.value,
        "fields": note.fields,
        "reason": note.reason[:2000],
        "graph_request_id": note.graph_request_id,
        "salesforce_call": note.salesforce_call,
    }
