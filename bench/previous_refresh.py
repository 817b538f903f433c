"""The previous response refresh, kept for the Outlook sweep benchmark (bench.outlook_sweep)
to measure against: one calendarView per organizer mailbox, attendees only.

This is syncd's ResponseRefresh as it was before the Outlook sweep replaced it (the
release the sweep's figures in bench/README.md are compared with), unchanged but for
its name and the write-back, which calls the product's own write path
(syncd.sync.responses.write_responses, the same records and calls as before). It is
not part of syncd: nothing but the benchmark's worker runs it.

One calendarView per organizer mailbox reads the responses to all of that organizer's
meetings: Graph counts each request inside a $batch against the mailbox's limits, so a
GET per meeting (batched or not) costs a request per meeting, a calendarView a request
per mailbox (per page of 500 events).
https://learn.microsoft.com/graph/throttling#throttling-and-batching
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from syncd.config import TenantConfig
from syncd.core import event_mapping as em
from syncd.domain import Source, SyncdError
from syncd.graph.port import GraphReader
from syncd.ledger import queries as lq
from syncd.ledger.models import MeetingRecord
from syncd.sync.reader import PAGE, EventReader
from syncd.sync.responses import ResponseReport, write_responses
from syncd.sync.salesforce_event import parse_datetime
from syncd.sync.salesforce_writer import SalesforceWriter, WriteBacklog

log = logging.getLogger(__name__)

#: calendarView finds an all-day meeting by its local date: look a day either side.
_VIEW_MARGIN = timedelta(days=1)


@dataclass
class _MailboxRead:
    """One organizer's meetings with the event Graph holds for each (None: not found)."""

    organizer: str
    answers: list[tuple[MeetingRecord, dict[str, Any] | None]]
    error: str | None = None


def _span_of(records: Sequence[MeetingRecord]) -> tuple[datetime, datetime] | None:
    """From the earliest start to the latest end of the records' meetings, with a margin."""
    starts, ends = [], []
    for record in records:
        request = record.request or {}
        start = parse_datetime(request.get("startTime"))
        end = parse_datetime(request.get("endTime"))
        if start is None or end is None:
            return None
        starts.append(start)
        ends.append(end)
    if not starts:
        return None
    return min(starts) - _VIEW_MARGIN, max(ends) + _VIEW_MARGIN


class PreviousRefresh:
    """One tenant's response refresh, as syncd ran it before the Outlook sweep."""

    def __init__(
        self,
        tenant: TenantConfig,
        engine: Engine,
        graph: GraphReader,
        reader: EventReader,
        writer: SalesforceWriter,
        *,
        workers: Callable[[], int],
        should_stop: Callable[[], bool],
    ) -> None:
        """`workers`: how many mailboxes are read at once (the executor's count, read
        at each run)."""
        self.tenant = tenant
        self.engine = engine
        self.graph = graph
        self.reader = reader
        self.writer = writer
        self.workers = workers
        self.should_stop = should_stop

    def run(self) -> ResponseReport:
        """Read attendee responses from Outlook; write the changes to Salesforce."""
        report = ResponseReport()
        backlog = WriteBacklog(self.writer, report.writeback_errors)
        changed: dict[str, tuple[MeetingRecord, dict[str, Any]]] = {}

        def absorb(read: Future[_MailboxRead]) -> None:
            result = read.result()
            if result.error is not None:
                report.read_errors.append((result.organizer, result.error))
                return
            for record, event in result.answers:
                report.meetings_checked += 1
                if event is None:
                    continue
                responses = em.attendee_responses(event)
                if responses != record.responses:
                    changed[record.external_id] = (record, responses)
            if len(changed) >= PAGE:
                self._write_responses(changed, report, backlog)
                changed.clear()

        workers = self.workers()
        groups = lq.synced_by_organizer(self.engine, self.tenant.name, Source.SALESFORCE)
        with ThreadPoolExecutor(workers, thread_name_prefix="syncd-responses") as pool:
            in_flight: set[Future[_MailboxRead]] = set()
            for organizer, records in groups:
                if self.should_stop():
                    break
                in_flight.add(pool.submit(self._read_mailbox, organizer, records))
                if len(in_flight) >= 2 * workers:
                    done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    for read in done:
                        absorb(read)
            for read in as_completed(in_flight):
                absorb(read)
        if changed:
            self._write_responses(changed, report, backlog)
        backlog.flush()
        return report

    def _read_mailbox(self, organizer: str, records: list[MeetingRecord]) -> _MailboxRead:
        """The organizer's copy of each of its meetings: one calendarView over their span,
        then a GET (in $batch) for any the view did not show (moved or deleted in Outlook)."""
        try:
            found: dict[str, dict[str, Any]] = {}
            span = _span_of(records)
            if span is not None:
                events = self.graph.calendar_view(organizer, *span, select=("attendees",))
                found = {str(e.get("id")): e for e in events}
            missing = [r.graph_event_id or "" for r in records if r.graph_event_id not in found]
            if missing:
                answers = self.graph.get_events_batch(
                    [(organizer, graph_event_id) for graph_event_id in missing],
                    select=("attendees",),
                )
                for graph_event_id, answer in zip(missing, answers, strict=True):
                    if answer.status == 200 and isinstance(answer.body, dict):
                        found[graph_event_id] = answer.body
        except SyncdError as error:
            log.warning("responses of %s not read: %s (%s)", organizer, error.message, error.code)
            return _MailboxRead(organizer, [], f"{error.code}: {error.message}")
        return _MailboxRead(organizer, [(r, found.get(r.graph_event_id or "")) for r in records])

    def _write_responses(
        self,
        changed: dict[str, tuple[MeetingRecord, dict[str, Any]]],
        report: ResponseReport,
        backlog: WriteBacklog,
    ) -> None:
        # The write path is the one the sweep uses today (unchanged by the sweep).
        write_responses(self.tenant, self.reader, changed, report, backlog)
