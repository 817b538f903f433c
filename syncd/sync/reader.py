"""Reading Salesforce Events for the sync: the fields to ask for, and rows -> events.

Each page of Event rows is read with its EventRelations (invitees); a row that cannot
be read fails alone (its id and error are handed back), not the page.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, TypeVar

from syncd.config import TenantConfig
from syncd.salesforce.org_shape import FULL_SHAPE, OrgShape, read_shape
from syncd.salesforce.port import SalesforceReader
from syncd.sync import queries as q
from syncd.sync.salesforce_event import Invitee, SalesforceEvent, parse_event

log = logging.getLogger(__name__)

#: Records are planned, executed and written back in pages of this size (one sObject
#: Collection each).
PAGE = 200

T = TypeVar("T")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class EventReader:
    """One tenant's Event reads (SOQL through the Salesforce port)."""

    def __init__(self, tenant: TenantConfig, salesforce: SalesforceReader) -> None:
        self.tenant = tenant
        self.salesforce = salesforce
        self.fields = tenant.salesforce.fields
        self._shape: OrgShape | None = None

    @property
    def shape(self) -> OrgShape:
        """Which optional fields the org has (Shared Activities' EventRelation.IsInvitee,
        Event.ActivityRecurrence2Id), from describe; a query naming a missing field would
        fail whole. A port without describe is taken to have them all."""
        if self._shape is None:
            describe = getattr(self.salesforce, "describe", None)
            self._shape = read_shape(describe) if describe is not None else FULL_SHAPE
        return self._shape

    def extra_fields(self) -> tuple[str, ...]:
        """The write-back fields read with each Event (so a lost write-back is seen), and
        the Lightning series link fields this org has (see `shape`)."""
        event = self.fields.event
        names = (event.outlook_event_id, event.sync_status, event.sync_error, event.teams_join_url)
        return (*(name for name in names if name), *self.shape.optional_event_fields())

    def query(self, soql: str) -> Iterator[dict[str, Any]]:
        return self.salesforce.query(soql)

    def events_by_id(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The Event rows with these ids (those still there)."""
        return list(self.salesforce.query(q.events_by_id(ids, self.extra_fields())))

    def relations_query(self, event_ids: Sequence[str]) -> str:
        return q.relations_of(event_ids, shared_activities=self.shape.shared_activities)

    def invitees_of(self, event_ids: Sequence[str]) -> dict[str, tuple[Invitee, ...]]:
        """The invitees of each Event (those with any)."""
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for ids in chunks(event_ids, PAGE):
            for row in self.salesforce.query(self.relations_query(ids)):
                grouped[row["EventId"]].append(row)
        return {
            salesforce_id: parse_event({"Id": salesforce_id}, rows).invitees
            for salesforce_id, rows in grouped.items()
        }

    def parse_page(self, rows: Sequence[dict[str, Any]]) -> list[SalesforceEvent]:
        """The readable Events of `rows` (see `parse_rows`; the others are logged)."""
        events, unreadable = self.parse_rows(rows)
        for salesforce_id, error in unreadable.items():
            log.error("Event %s cannot be read: %s", salesforce_id, error, exc_info=error)
        return events

    def parse_rows(
        self, rows: Sequence[dict[str, Any]]
    ) -> tuple[list[SalesforceEvent], dict[str, Exception]]:
        """The page's Events with their invitees, and the rows that could not be read
        (Event id -> the unexpected error): one such row fails alone, not the page."""
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        ids = [r["Id"] for r in rows]
        for row in self.salesforce.query(self.relations_query(ids)) if ids else ():
            grouped[row["EventId"]].append(row)
        events: list[SalesforceEvent] = []
        unreadable: dict[str, Exception] = {}
        for r in rows:
            try:
                events.append(
                    parse_event(
                        r,
                        grouped.get(r["Id"], ()),
                        outlook_id_field=self.fields.event.outlook_event_id or None,
                    )
                )
            except Exception as error:  # one record's bug must not stop the page
                unreadable[str(r["Id"])] = error
        return events, unreadable
