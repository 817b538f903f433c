"""The Outlook sweep: one calendarView delta round per organizer mailbox, its changes
matched to the ledger, classified (syncd.sync.outlook_classify) and acted on by the
tenant's policy (syncd.sync.outlook_apply); attendees' answers written back on the way.

Cost: one delta request per mailbox per sweep (more only when a mailbox has more than a
page of changes), sent 20 to a $batch by the Graph client; a GET (also batched) only
for events reported removed, or missing from a full read, to tell a deletion from a
move out of the window. https://learn.microsoft.com/graph/delta-query-events

Matching: a change is a meeting's when its id is the row's graph_event_id; an occurrence
or exception of a series whose row holds another id is matched by its seriesMasterId
and original date. Series masters never come back from a calendarView delta (only their
occurrences do); a master's answers are read from one of its occurrences.

Salesforce: the changes of many mailboxes are gathered and handled together, so the
calls grow with the changes, not with the mailboxes that changed: per 200 changes one
read of the answered meetings' invitees, one read of the changed Events (with their
EventRelations), one sObject Collections write of the Events and one of the answers.

A mailbox's new delta link is stored only once its changes are handled and its answers
written, so a sweep cut short (stopped, killed, a write refused) reads the same changes
again next time. The rows are read again once the round answered: a meeting syncd wrote
meanwhile is judged by the next sweep (syncd.sync.outlook_pending), never against a row
its own write made stale.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine

from syncd.config import TenantConfig
from syncd.core.scheduler import Scheduler
from syncd.domain import Source, SyncdError
from syncd.graph.delta import DeltaRequest, DeltaResult
from syncd.graph.port import GraphReader
from syncd.ledger import delta_links
from syncd.ledger import queries as lq
from syncd.ledger.models import MeetingRecord
from syncd.sync.outlook_apply import OutlookApply
from syncd.sync.outlook_classify import ChangeKind, OutlookChange, Tracked, classify, removal
from syncd.sync.outlook_pending import Split, awaited, rows_now, split, unknown_stamps
from syncd.sync.plan import PlanContext
from syncd.sync.reader import PAGE, EventReader
from syncd.sync.responses import ResponseReport, write_responses
from syncd.sync.salesforce_event import parse_datetime
from syncd.sync.salesforce_writer import SalesforceWriter, WriteBacklog
from syncd.sync.series_instances import local_date
from syncd.sync.series_shape import SERIES_KEY
from syncd.sync.swept_events import Copy, SweptEvents

log = logging.getLogger(__name__)

#: Mailboxes asked in one call of the Graph client (it sends them 20 to a $batch, up to
#: 8 envelopes side by side: syncd.graph.delta_reads.ENVELOPES_IN_FLIGHT).
MAILBOXES_PER_CALL = 160
#: Changes gathered before they are handled (a sweep with fewer handles them all at its
#: end): pages of 200 of each read and write, few partial ones, and what a crash makes the
#: next sweep read again stays bounded.
SETTLE_AT = 5 * PAGE
#: What the GET of a suspected deletion reads.
CONFIRM_FIELDS = (
    "id",
    "subject",
    "body",
    "start",
    "end",
    "location",
    "attendees",
    "isAllDay",
    "isCancelled",
    "changeKey",
    "lastModifiedDateTime",
    "type",
    "seriesMasterId",
    "originalStart",
    "transactionId",
)


@dataclass
class SweepReport(ResponseReport):
    """What one sweep saw and did (the response counters included)."""

    mailboxes: int = 0
    graph_requests: int = 0
    full_reads: int = 0
    #: changes seen, by kind (syncd.sync.outlook_classify.ChangeKind)
    changes: dict[str, int] = field(default_factory=dict)
    #: Events written with values from Outlook, Events marked, Events deleted
    salesforce_written: int = 0
    marked: int = 0
    events_deleted: int = 0
    #: meetings put back in Outlook, conflicts settled
    outlook_restored: int = 0
    conflicts: int = 0
    #: meetings whose change could not be handled this time (tried again next sweep)
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: meetings whose Event was written from Outlook (the poll leaves them to its next pass)
    handled: set[str] = field(default_factory=set)
    #: of those, their Event as the sweep read it before writing it
    events_read: dict[str, Copy] = field(default_factory=dict)


def _is_master(row: MeetingRecord) -> bool:
    return bool(row.request.get("recurrence")) and not row.request.get(SERIES_KEY)


def _tracked(row: MeetingRecord) -> Tracked:
    return Tracked(
        row.external_id,
        row.sent or {},
        row.responses or {},
        transaction_id=row.transaction_id or "",
        join_url=row.join_url,
    )


def _start_of(row: MeetingRecord) -> datetime | None:
    return parse_datetime((row.request or {}).get("startTime"))


@dataclass
class _Link:
    """A mailbox's new delta link, stored once every change of its round is handled."""

    organizer: str
    link: str
    start: datetime
    end: datetime
    #: events kept for the next sweep (syncd.sync.outlook_pending)
    pending: dict[str, str] = field(default_factory=dict)
    #: the meetings (external ids) whose changes the round brought
    meetings: set[str] = field(default_factory=set)


@dataclass
class _Gathered:
    """Changes of several mailboxes' rounds waiting to be handled together."""

    changes: list[tuple[MeetingRecord, OutlookChange]] = field(default_factory=list)
    links: list[_Link] = field(default_factory=list)
    #: the mailboxes with changes among them
    organizers: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.changes)

    def add(
        self,
        organizer: str,
        changes: list[tuple[MeetingRecord, OutlookChange]],
        link: _Link | None,
    ) -> None:
        self.changes.extend(changes)
        if changes:
            self.organizers.append(organizer)
        if link is not None:
            link.meetings = {row.external_id for row, _ in changes}
            self.links.append(link)


class OutlookSweep:
    """One tenant's sweep of Outlook."""

    def __init__(
        self,
        tenant: TenantConfig,
        engine: Engine,
        core: Scheduler,
        graph: GraphReader,
        reader: EventReader,
        writer: SalesforceWriter,
        *,
        clock: Callable[[], datetime],
        context: Callable[[], PlanContext],
        should_stop: Callable[[], bool],
    ) -> None:
        self.tenant = tenant
        self.engine = engine
        self.core = core
        self.graph = graph
        self.reader = reader
        self.writer = writer
        self.clock = clock
        self.should_stop = should_stop
        self.apply = OutlookApply(tenant, core, reader, writer, context=context)
        #: The Events sweeps wrote, for the poll's copies read before (syncd.sync.swept_events).
        self.swept = SweptEvents(clock)
        # The daemon's outlook job and a poll's sweep of its mailboxes may overlap: one
        # sweep at a time, or both would write the same change to Salesforce.
        self._one_at_a_time = threading.Lock()

    def run(self, mailboxes: Collection[str] | None = None) -> SweepReport:
        """Sweep every organizer mailbox with synced Salesforce meetings (or only
        `mailboxes`): changes handled by policy, answers written back."""
        with self._one_at_a_time:
            report = SweepReport()
            try:
                self._run(mailboxes, report)
            finally:
                # Before the next sweep or poll page can look (a sweep cut short too).
                self.swept.add(report.events_read)
            return report

    def _run(self, mailboxes: Collection[str] | None, report: SweepReport) -> None:
        backlog = WriteBacklog(self.writer, report.writeback_errors)
        wanted = {m.casefold() for m in mailboxes} if mailboxes is not None else None
        batch: list[tuple[str, list[MeetingRecord]]] = []
        gathered = _Gathered()
        ready: list[_Link] = []  # links to store once the answers' writes are done
        groups = lq.synced_by_organizer(
            self.engine, self.tenant.name, Source.SALESFORCE, organizers=wanted
        )
        for organizer, rows in groups:
            if wanted is not None and organizer.casefold() not in wanted:
                continue
            batch.append((organizer, rows))
            if len(batch) >= MAILBOXES_PER_CALL:
                self._sweep(batch, report, gathered)
                batch = []
                if gathered.count >= SETTLE_AT:
                    ready.extend(self._settle(gathered, report, backlog))
                    gathered = _Gathered()
            if self.should_stop():
                batch = []
                break
        if batch:
            self._sweep(batch, report, gathered)
        ready.extend(self._settle(gathered, report, backlog))
        backlog.flush()
        # A mailbox's link moves on only once its answers are written too: killed before
        # the flush, or an answer refused, the next sweep reads those changes again.
        refused = backlog.refused()
        for link in ready:
            if link.meetings.isdisjoint(refused):
                delta_links.save_link(
                    self.engine,
                    self.tenant.name,
                    link.organizer,
                    link.link,
                    link.start,
                    link.end,
                    self.clock(),
                    link.pending,
                )

    def _sweep(
        self,
        batch: Sequence[tuple[str, list[MeetingRecord]]],
        report: SweepReport,
        gathered: _Gathered,
    ) -> None:
        """Read the batch's rounds; their changes join `gathered`, handled later with
        those of other mailboxes."""
        now = self.clock()
        scope = self.tenant.salesforce.scope
        past, future = scope.days_past, scope.days_future
        links = delta_links.links_of(self.engine, self.tenant.name, (o for o, _ in batch))
        requests = []
        for organizer, _ in batch:
            link = links.get(organizer.lower())
            if link is not None and delta_links.covers(link, now, past, future):
                requests.append(DeltaRequest(organizer, link.start, link.end, link.link))
            else:
                start, end = delta_links.fresh_window(now, past, future)
                requests.append(DeltaRequest(organizer, start, end))
        correlation = f"{self.tenant.name}-outlook"
        results = self.graph.calendar_view_delta(requests, correlation_id=correlation)
        # Creates still in flight are asked before the rows are read again: a create
        # recorded in between is then among the rows read again, or still awaited here.
        # Asked after, it could be in neither, and its event's answers were dropped.
        stamps = unknown_stamps(results, [r for _, rows in batch for r in rows])
        writing = awaited(self.engine, self.tenant.name, stamps) if stamps else set()
        after = rows_now(self.engine, self.tenant.name, [o for o, _ in batch])
        for (organizer, rows), request, result in zip(batch, requests, results, strict=True):
            report.mailboxes += 1
            report.meetings_checked += len(rows)
            report.graph_requests += result.requests
            if result.error is not None:
                error = result.error
                log.warning("Outlook of %s not read: %s (%s)", organizer, error.message, error.code)
                report.read_errors.append((organizer, f"{error.code}: {error.message}"))
                continue
            report.full_reads += int(result.full_read)
            stored = links.get(organizer.lower())
            held = stored.pending if stored is not None else {}
            parts = split(rows, after, result, held, now, writing)
            try:
                changes, complete = self._mailbox(
                    organizer, parts.rows, request, result, report, parts
                )
            except SyncdError as error:
                log.warning(
                    "changes of %s not handled: %s (%s)", organizer, error.message, error.code
                )
                report.read_errors.append((organizer, f"{error.code}: {error.message}"))
                continue
            new_link = None
            if complete and result.delta_link:
                new_link = _Link(
                    organizer, result.delta_link, request.start, request.end, parts.pending
                )
            gathered.add(organizer, changes, new_link)

    def _settle(
        self, gathered: _Gathered, report: SweepReport, backlog: WriteBacklog
    ) -> list[_Link]:
        """Handle the gathered changes of many mailboxes together (Salesforce read and
        written per 200 changes, not per mailbox); the links of the mailboxes whose
        changes are all handled (their answers may still wait in `backlog`)."""
        changes = gathered.changes
        answers = {
            row.external_id: (row, change.responses)
            for row, change in changes
            if change.responses is not None and not change.gone
        }
        drifted = [(row, change) for row, change in changes if change.gone or change.drift]
        try:
            if answers:
                write_responses(self.tenant, self.reader, answers, report, backlog)
            left = self.apply.run(drifted, report) if drifted else set()
            self.swept.add(report.events_read)  # a poll page may be waiting to look
        except SyncdError as error:
            # Nothing of these mailboxes is trusted: their links stay, the next sweep
            # reads the same changes again.
            log.warning("Outlook changes not handled: %s (%s)", error.message, error.code)
            for organizer in gathered.organizers:
                report.read_errors.append((organizer, f"{error.code}: {error.message}"))
            return [link for link in gathered.links if not link.meetings]
        return [link for link in gathered.links if link.meetings.isdisjoint(left)]

    def _mailbox(
        self,
        organizer: str,
        rows: list[MeetingRecord],
        request: DeltaRequest,
        result: DeltaResult,
        report: SweepReport,
        parts: Split,
    ) -> tuple[list[tuple[MeetingRecord, OutlookChange]], bool]:
        """One mailbox's round classified (`parts`: what of it is judged now): its changes,
        and False when something is left for the next sweep (a suspect deletion not
        confirmed)."""
        pairs, seen = self._match(rows, parts.changed)
        suspects = self._suspects(rows, pairs, seen, request, result, parts.removed)
        # Events kept from an earlier round whose row has settled since: read again.
        suspects += [row for row in parts.retry if row.external_id not in pairs]
        complete = True
        if suspects:
            found, complete = self._confirm(organizer, suspects)
            pairs.update(found)
        changes: list[tuple[MeetingRecord, OutlookChange]] = []
        for row, event in pairs.values():
            change = removal(_tracked(row)) if event is None else classify(_tracked(row), event)
            if change is None:
                continue
            if _is_master(row):
                # Only the answers of a master are read from its occurrence.
                if change.responses is None:
                    continue
                change = OutlookChange(
                    row.external_id, {ChangeKind.ANSWERS}, responses=change.responses
                )
            for kind in change.kinds:
                report.changes[kind.value] = report.changes.get(kind.value, 0) + 1
            changes.append((row, change))
        return changes, complete

    def _match(
        self, rows: Sequence[MeetingRecord], changed: Iterable[dict[str, Any]]
    ) -> tuple[dict[str, tuple[MeetingRecord, dict[str, Any] | None]], set[str]]:
        """The changed events of tracked meetings ({external id: (row, event)}), and
        every id the round returned."""
        by_id = {row.graph_event_id: row for row in rows if row.graph_event_id}
        masters = {row.graph_event_id: row for row in rows if _is_master(row)}
        by_original: dict[tuple[str, date], MeetingRecord] = {}
        for row in rows:
            info = row.request.get(SERIES_KEY) or {}
            if info.get("master") and info.get("originalDate"):
                day = date.fromisoformat(str(info["originalDate"]))
                by_original[(str(info["master"]), day)] = row
        pairs: dict[str, tuple[MeetingRecord, dict[str, Any] | None]] = {}
        seen: set[str] = set()
        for event in changed:
            event_id = str(event.get("id"))
            seen.add(event_id)
            found = by_id.get(event_id)
            master = masters.get(str(event.get("seriesMasterId")))
            if found is None and master is not None:
                original = parse_datetime(event.get("originalStart"))
                zone = str(master.request.get("timeZone") or "UTC")
                if original is not None:
                    found = by_original.get((master.external_id, local_date(original, zone)))
            if master is not None and master.external_id not in pairs:
                pairs[master.external_id] = (master, event)  # its answers
            if found is not None and not _is_master(found):
                pairs[found.external_id] = (found, event)
        return pairs, seen

    def _suspects(
        self,
        rows: Sequence[MeetingRecord],
        pairs: dict[str, tuple[MeetingRecord, dict[str, Any] | None]],
        seen: set[str],
        request: DeltaRequest,
        result: DeltaResult,
        removed: Collection[str],
    ) -> list[MeetingRecord]:
        """Meetings that may be gone: reported removed, or (a full read) not returned
        though they lie in the round's window."""
        suspects = []
        for row in rows:
            if _is_master(row) or row.external_id in pairs or not row.graph_event_id:
                continue
            if row.graph_event_id in removed:
                suspects.append(row)
            elif result.full_read and row.graph_event_id not in seen:
                start = _start_of(row)
                if start is not None and request.start <= start <= request.end:
                    suspects.append(row)
        return suspects

    def _confirm(
        self, organizer: str, suspects: Sequence[MeetingRecord]
    ) -> tuple[dict[str, tuple[MeetingRecord, dict[str, Any] | None]], bool]:
        """GET each suspect (batched): found, it moved (out of the window); 404, it is
        gone; any other answer leaves it for the next sweep (False)."""
        found: dict[str, tuple[MeetingRecord, dict[str, Any] | None]] = {}
        complete = True
        for offset in range(0, len(suspects), PAGE):
            page = suspects[offset : offset + PAGE]
            answers = self.graph.get_events_batch(
                [(organizer, row.graph_event_id or "") for row in page], select=CONFIRM_FIELDS
            )
            for row, answer in zip(page, answers, strict=True):
                if answer.status == 200 and isinstance(answer.body, dict):
                    found[row.external_id] = (row, answer.body)
                elif answer.status == 404:
                    found[row.external_id] = (row, None)
                else:
                    complete = False
        return found, complete
