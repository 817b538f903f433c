"""One tenant's sync jobs: poll Salesforce, refresh responses, snapshot availability.

Each job streams records page by page (memory grows with a page, not with
the org), plans with the pure planner, executes through the scheduler core
and writes back in sObject Collections of up to 200 records.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine

from syncd.config import TenantConfig
from syncd.core import event_mapping as em
from syncd.core.scheduler import WRITEBACK_REFUSED, Scheduler
from syncd.domain import MeetingStatus, Source, SyncdError
from syncd.ledger import queries as lq
from syncd.ledger.models import MeetingRecord
from syncd.metrics.sync_metrics import observe_lag
from syncd.salesforce.errors import WindowMissed
from syncd.salesforce.org_shape import FULL_SHAPE, OrgShape, read_shape
from syncd.sync import queries as q
from syncd.sync.executor import Executor
from syncd.sync.plan import (
    Action,
    LedgerView,
    Plan,
    PlanContext,
    Step,
    plan_changes,
    plan_fault,
)
from syncd.sync.recurrence import SeriesSync
from syncd.sync.salesforce_event import SalesforceEvent, parse_datetime, parse_event
from syncd.sync.writeback import (
    Outcome,
    availability_snapshot,
    event_update,
    has_fields,
    relation_updates,
    responses_summary,
    written_back,
)

log = logging.getLogger(__name__)

FEED_EVENT = "salesforce.event"
FEED_RELATION = "salesforce.event_relation"
FEED_DELETED = "salesforce.event_deleted"

#: Records are planned and executed in pages of this size (one write-back call each).
PAGE = 200
#: Re-read a little before each watermark: a row committed late with an older
#: SystemModstamp is not missed; re-read rows are unchanged and so skipped.
OVERLAP = timedelta(minutes=2)
#: getDeleted keeps about 15 days; never ask for more.
DELETED_RETENTION = timedelta(days=15)

T = TypeVar("T")


class SalesforcePort(Protocol):
    """What the sync needs from syncd.salesforce.client.SalesforceClient."""

    def query(self, soql: str) -> Iterator[dict[str, Any]]: ...

    def query_all(self, soql: str) -> Iterator[dict[str, Any]]: ...

    def deleted(self, sobject: str, start: datetime, end: datetime) -> Any: ...

    def update_records(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[Any]: ...


class GraphReader(Protocol):
    def calendar_view(
        self,
        mailbox: str,
        start: datetime,
        end: datetime,
        *,
        select: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> list[dict[str, Any]]: ...

    def get_events_batch(
        self,
        items: Sequence[tuple[str, str]],
        *,
        select: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> list[Any]: ...


@dataclass
class PassReport:
    """What one pass did: counts per action, failures with reasons, the plan itself."""

    full_resync: bool = False
    dry_run: bool = False
    counts: dict[str, int] = field(default_factory=lambda: {a.value: 0 for a in Action})
    failures: list[tuple[str, str]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    writeback_errors: list[tuple[str, str]] = field(default_factory=list)
    records_read: int = 0

    def absorb(self, plan: Plan, outcomes: Iterable[Outcome]) -> None:
        """Count what was done (or, in a dry run, planned): a step that failed counts as
        `fail`, and a step the pass was stopped before is not counted at all."""
        done = {outcome.event_id: outcome for outcome in outcomes}
        for step in plan.steps:
            action = step.action
            outcome = done.get(step.event_id)
            if not self.dry_run and action != Action.SKIP and outcome is None:
                continue  # stopped (SIGTERM) before this step ran
            if outcome is not None and outcome.status == "Failed":
                self.failures.append((outcome.event_id, outcome.error or "unknown error"))
                action = Action.FAIL
            self.counts[action.value] += 1
        # The report keeps each step's action and reason, not the meeting it carried:
        # a pass over the whole org must not hold every meeting until it ends.
        self.steps.extend(replace(step, meeting=None, fault=None) for step in plan.steps)


@dataclass
class ResponseReport:
    meetings_checked: int = 0
    meetings_changed: int = 0
    relations_written: int = 0
    writeback_errors: list[tuple[str, str]] = field(default_factory=list)
    #: organizers whose calendar could not be read this time: (address, reason)
    read_errors: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class AvailabilityReport:
    users: int = 0
    written: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


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


class _WriteBacklog:
    """Write-back records held until a full sObject Collection (200) is ready.

    Each record belongs to a meeting whose new responses are stored in the ledger only
    once every record of it is written: a pass stopped or killed before that, or a
    record Salesforce refused, leaves the ledger behind Outlook, so the next refresh
    finds the change again and writes it (stored first, it was lost for good).
    """

    def __init__(self, service: SyncService, report: ResponseReport) -> None:
        self._service = service
        self._report = report
        self._waiting: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        #: meeting id -> (ledger row, responses to store, records not yet written)
        self._meetings: dict[str, tuple[MeetingRecord, dict[str, Any], int]] = {}
        self._refused: set[str] = set()

    def expect(self, record: MeetingRecord, responses: dict[str, Any], count: int) -> None:
        """`count` records of this meeting follow; store `responses` once they are written."""
        if count:
            self._meetings[record.external_id] = (record, responses, count)
        else:
            self._service.scheduler.store_responses(record, responses)

    def add(self, sobject: str, records: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """(meeting id, record) pairs; the meeting was announced with `expect` first."""
        waiting = self._waiting[sobject]
        waiting.extend(records)
        while len(waiting) >= PAGE:
            self._send(sobject, waiting[:PAGE])
            del waiting[:PAGE]

    def flush(self) -> None:
        for sobject, waiting in self._waiting.items():
            if waiting:
                self._send(sobject, waiting)
        self._waiting.clear()

    def _send(self, sobject: str, items: Sequence[tuple[str, dict[str, Any]]]) -> None:
        errors = self._service._send(sobject, [record for _, record in items])
        self._report.writeback_errors.extend(errors)
        refused = {record_id for record_id, _ in errors}
        for meeting_id, record in items:
            if str(record["id"]) in refused:
                self._refused.add(meeting_id)
            row, responses, left = self._meetings[meeting_id]
            if left > 1:
                self._meetings[meeting_id] = (row, responses, left - 1)
                continue
            del self._meetings[meeting_id]
            if meeting_id not in self._refused:
                self._service.scheduler.store_responses(row, responses)


class SyncService:
    """The sync of one tenant. Not thread-safe: the daemon runs each job alone."""

    def __init__(
        self,
        tenant: TenantConfig,
        scheduler: Scheduler,
        salesforce: SalesforcePort,
        graph: GraphReader,
        engine: Engine,
        *,
        clock: Callable[[], datetime],
        should_stop: Callable[[], bool] = lambda: False,
        workers: int = 32,
    ) -> None:
        self.tenant = tenant
        self.scheduler = scheduler
        self.salesforce = salesforce
        self.graph = graph
        self.engine = engine
        self.clock = clock
        self.should_stop = should_stop
        self.executor = Executor(scheduler, workers=workers, should_stop=should_stop)
        self.fields = tenant.salesforce.fields
        self._shape: OrgShape | None = None
        self.series = SeriesSync(self)

    @property
    def shape(self) -> OrgShape:
        """Which optional fields the org has (Shared Activities' EventRelation.IsInvitee,
        Event.ActivityRecurrence2Id), from describe; a query naming a missing field would
        fail whole. A port without describe is taken to have them all."""
        if self._shape is None:
            describe = getattr(self.salesforce, "describe", None)
            self._shape = read_shape(describe) if describe is not None else FULL_SHAPE
        return self._shape

    # ------------------------------------------------------------------ poll

    def poll(
        self, *, dry_run: bool = False, progress: Callable[[int], None] | None = None
    ) -> PassReport:
        """An incremental pass, or a full resync when there is no usable watermark."""
        started = self.clock()
        since = lq.get_watermark(self.engine, self.tenant.name, FEED_EVENT)
        deleted_since = lq.get_watermark(self.engine, self.tenant.name, FEED_DELETED)
        if since is None or deleted_since is None:
            return self.full_resync(dry_run=dry_run, progress=progress)
        deleted = self._deleted_ids(deleted_since, started)
        if deleted is None:
            log.warning("deletions since %s are no longer available: full resync", deleted_since)
            return self.full_resync(dry_run=dry_run, progress=progress)
        deleted_ids, deleted_until = deleted
        report = PassReport(dry_run=dry_run)
        newest = since
        seen: set[str] = set()
        changed = self.salesforce.query(
            q.changed_events(
                since - OVERLAP, self.tenant.salesforce.scope.extra_filter, self._extra_fields()
            )
        )
        for rows in chunks(changed, PAGE):
            newest = max([newest, *(parse_datetime(r["SystemModstamp"]) or newest for r in rows)])
            seen.update(r["Id"] for r in rows)
            self._process(rows, report, dry_run=dry_run)
            if progress:
                progress(len(rows))
            if self.should_stop():
                return report  # watermarks stay: the next pass reads these pages again
        relation_since = lq.get_watermark(self.engine, self.tenant.name, FEED_RELATION) or since
        relation_newest, touched = self._relation_changes(relation_since)
        for ids in chunks((i for i in touched if i not in seen), PAGE):
            rows = list(self.salesforce.query(q.events_by_id(ids, self._extra_fields())))
            self._process(rows, report, dry_run=dry_run)
        deleted_ids = self.series.take_deleted(deleted_ids, report, dry_run=dry_run)
        if deleted_ids:
            plan = plan_changes(
                (),
                deleted_ids,
                lq.ledger_views(self.engine, self.tenant.name, Source.SALESFORCE, deleted_ids),
                self._context(),
            )
            self._carry_out(plan, report, dry_run=dry_run, write_back=False)
        if not dry_run and not self.should_stop():
            # Salesforce had every row stamped before deleted_until (its latestDateCovered)
            # when this pass read: the watermarks move there even when nothing changed,
            # so an idle org is not re-read (OVERLAP still covers late commits).
            self._set_watermark(FEED_EVENT, max(newest, deleted_until))
            self._set_watermark(FEED_RELATION, max(relation_newest, deleted_until))
            self._set_watermark(FEED_DELETED, deleted_until)
        return report

    def full_resync(
        self, *, dry_run: bool = False, progress: Callable[[int], None] | None = None
    ) -> PassReport:
        """Every Event in the window; meetings whose Event is gone are cancelled."""
        started = self.clock()
        ctx = self._context()
        report = PassReport(full_resync=True, dry_run=dry_run)
        seen: set[str] = set()
        rows_iter = self.salesforce.query(
            q.events_in_window(
                ctx.window_start,
                ctx.window_end,
                self.tenant.salesforce.scope.extra_filter,
                self._extra_fields(),
            )
        )
        for rows in chunks(rows_iter, PAGE):
            seen.update(r["Id"] for r in rows)
            self._process(rows, report, dry_run=dry_run)
            if progress:
                progress(len(rows))
            if self.should_stop():
                return report
        missing = [
            view
            for view in lq.live_views(self.engine, self.tenant.name, Source.SALESFORCE)
            if view.external_id not in seen
            and view.start is not None
            and ctx.window_start <= view.start <= ctx.window_end
        ]
        left = set(
            self.series.take_deleted([v.external_id for v in missing], report, dry_run=dry_run)
        )
        missing = [v for v in missing if v.external_id in left]
        for page in chunks(missing, PAGE):
            plan = Plan(
                [
                    Step(
                        Action.CANCEL,
                        v.external_id,
                        "no longer in Salesforce (or out of scope)",
                        organizer_email=v.organizer_email,
                    )
                    for v in page
                ]
            )
            self._carry_out(plan, report, dry_run=dry_run, write_back=False)
        if not dry_run and not self.should_stop():
            for feed in (FEED_EVENT, FEED_RELATION, FEED_DELETED):
                self._set_watermark(feed, started)
        return report

    def retry_failed(self, *, dry_run: bool = False) -> PassReport:
        """Plan again the failed records whose back-off has passed."""
        report = PassReport(dry_run=dry_run)
        due = lq.due_failures(self.engine, self.tenant.name, Source.SALESFORCE, self.clock())
        for ids in chunks(due, PAGE):
            rows = list(self.salesforce.query(q.events_by_id(ids, self._extra_fields())))
            self._process(rows, report, dry_run=dry_run)
            # An Event the query no longer returns was deleted: its failure was the
            # cancel (the poll that saw the deletion does not see it again).
            returned = {str(row["Id"]) for row in rows}
            gone = self.series.take_deleted(
                [i for i in ids if i not in returned], report, dry_run=dry_run
            )
            if gone:
                views = lq.ledger_views(self.engine, self.tenant.name, Source.SALESFORCE, gone)
                plan = plan_changes((), gone, views, self._context())
                self._carry_out(plan, report, dry_run=dry_run, write_back=False)
        return report

    # ------------------------------------------------------------ responses

    def refresh_responses(self) -> ResponseReport:
        """Read attendee responses from Outlook; write the changes to Salesforce.

        One calendarView per organizer mailbox reads the responses to all of that
        organizer's meetings: Graph counts each request inside a $batch against the
        mailbox's limits, so a GET per meeting (batched or not) costs a request per
        meeting, a calendarView a request per mailbox (per page of 500 events).
        https://learn.microsoft.com/graph/throttling#throttling-and-batching
        Mailboxes are read side by side; changes are written back in sObject
        Collections of 200 as they accumulate.
        """
        report = ResponseReport()
        backlog = _WriteBacklog(self, report)
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

        workers = self.executor.workers
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
                    [(organizer, graph_id) for graph_id in missing], select=("attendees",)
                )
                for graph_id, answer in zip(missing, answers, strict=True):
                    if answer.status == 200 and isinstance(answer.body, dict):
                        found[graph_id] = answer.body
        except SyncdError as error:
            log.warning("responses of %s not read: %s (%s)", organizer, error.message, error.code)
            return _MailboxRead(organizer, [], f"{error.code}: {error.message}")
        return _MailboxRead(organizer, [(r, found.get(r.graph_event_id or "")) for r in records])

    def _write_responses(
        self,
        changed: dict[str, tuple[MeetingRecord, dict[str, Any]]],
        report: ResponseReport,
        backlog: _WriteBacklog,
    ) -> None:
        """Queue the EventRelation and Event records of the changed meetings; each
        meeting's responses reach the ledger once its records are written."""
        report.meetings_changed += len(changed)
        relations: dict[str, list[dict[str, Any]]] = {}
        if self.tenant.salesforce.fields.event_relation_status:
            invitees = self._invitees_of(list(changed))
            for event_id, (_, responses) in changed.items():
                relations[event_id] = relation_updates(invitees.get(event_id, ()), responses)
            report.relations_written += sum(len(r) for r in relations.values())
        summary = self.fields.event.responses_summary
        for event_id, (record, responses) in changed.items():
            backlog.expect(record, responses, len(relations.get(event_id, ())) + bool(summary))
        backlog.add(
            "EventRelation",
            [(event_id, r) for event_id, rows in relations.items() for r in rows],
        )
        if summary:
            backlog.add(
                "Event",
                [
                    (
                        event_id,
                        {
                            "attributes": {"type": "Event"},
                            "id": event_id,
                            summary: responses_summary(responses),
                        },
                    )
                    for event_id, (_, responses) in changed.items()
                ],
            )

    # --------------------------------------------------------- availability

    def snapshot_availability(self) -> AvailabilityReport:
        """Busy slots of every in-org User over the horizon, into the User field."""
        report = AvailabilityReport()
        target = self.fields.user.availability_snapshot
        if not target:
            return report
        start = self.clock().replace(second=0, microsecond=0)
        end = start + timedelta(days=self.tenant.salesforce.schedules.availability_horizon_days)
        users = self.salesforce.query(q.in_org_users(self.tenant.mail_domains))
        for page in chunks(users, PAGE):
            if self.should_stop():
                break
            by_email = {u["Email"]: u["Id"] for u in page if u.get("Email")}
            report.users += len(by_email)
            answers = self.scheduler.availability(list(by_email), start, end)
            updates = []
            for answer in answers:
                if answer.error_message:
                    report.errors.append((answer.email, answer.error_message))
                    continue
                updates.append(
                    {
                        "attributes": {"type": "User"},
                        "id": by_email[answer.email],
                        target: availability_snapshot(answer.slots, start, end),
                    }
                )
            report.written += len(updates)
            report.errors.extend(self._send("User", updates))
        return report

    # -------------------------------------------------------------- helpers

    def _context(self) -> PlanContext:
        now = self.clock()
        scope = self.tenant.salesforce.scope
        return PlanContext(
            in_org=self.tenant.is_in_org,
            teams_keyword=self.tenant.policy.teams_keyword,
            window_start=now - timedelta(days=scope.days_past),
            window_end=now + timedelta(days=scope.days_future),
            now=now,
            zone_of=self.series.zone_of,
        )

    def _extra_fields(self) -> tuple[str, ...]:
        """The write-back fields read with each Event (see `_lost_writebacks`), and the
        Lightning series link fields this org has (see `shape`)."""
        event = self.fields.event
        names = (event.outlook_event_id, event.sync_status, event.sync_error, event.teams_join_url)
        return (*(name for name in names if name), *self.shape.optional_event_fields())

    def _set_watermark(self, feed: str, value: datetime) -> None:
        lq.set_watermark(self.engine, self.tenant.name, feed, value, self.clock())

    def _deleted_ids(self, since: datetime, now: datetime) -> tuple[list[str], datetime] | None:
        """Ids deleted since the watermark, or None when that window is gone."""
        start = since - OVERLAP
        if now - start > DELETED_RETENTION:
            return None
        try:
            result = self.salesforce.deleted("Event", start, now)
        except WindowMissed:
            return None
        if result.missed(start):
            return None
        return [r.id for r in result.records], result.latest_date_covered or now

    def _relation_changes(self, since: datetime) -> tuple[datetime, list[str]]:
        """Events whose invitations changed since the watermark, and the newest stamp seen.

        queryAll, not query: removing an invitee deletes its EventRelation and leaves the
        parent Event's SystemModstamp alone, so the deleted row (IsDeleted = true, stamped
        when it was deleted) is the only sign of the removal. queryAll returns rows
        "deleted because of a merge or delete":
        https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_queryall.htm
        """
        newest, ids = since, []
        for row in self.salesforce.query_all(q.changed_relations(since - OVERLAP)):
            ids.append(row["EventId"])
            stamp = parse_datetime(row.get("SystemModstamp"))
            if stamp and stamp > newest:
                newest = stamp
        return newest, list(dict.fromkeys(ids))

    def _relations_query(self, event_ids: Sequence[str]) -> str:
        return q.relations_of(event_ids, shared_activities=self.shape.shared_activities)

    def _invitees_of(self, event_ids: Sequence[str]) -> dict[str, Any]:
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for ids in chunks(event_ids, PAGE):
            for row in self.salesforce.query(self._relations_query(ids)):
                grouped[row["EventId"]].append(row)
        return {
            event_id: parse_event({"Id": event_id}, rows).invitees
            for event_id, rows in grouped.items()
        }

    def _parse_page(self, rows: Sequence[dict[str, Any]]) -> list[SalesforceEvent]:
        """The readable Events of `rows` (see `_parse_rows`; the others are logged)."""
        events, unreadable = self._parse_rows(rows)
        for event_id, error in unreadable.items():
            log.error("Event %s cannot be read: %s", event_id, error, exc_info=error)
        return events

    def _parse_rows(
        self, rows: Sequence[dict[str, Any]]
    ) -> tuple[list[SalesforceEvent], dict[str, Exception]]:
        """The page's Events with their invitees, and the rows that could not be read
        (Event id -> the unexpected error): one such row fails alone, not the page."""
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        ids = [r["Id"] for r in rows]
        for row in self.salesforce.query(self._relations_query(ids)) if ids else ():
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

    def _process(
        self, rows: Sequence[dict[str, Any]], report: PassReport, *, dry_run: bool
    ) -> None:
        report.records_read += len(rows)
        parsed, unreadable = self._parse_rows(rows)
        self._prefetch_zones(parsed)
        # Recurring series are handled as series (one Outlook series master each).
        events = self.series.process(parsed, report, self._context(), dry_run=dry_run)
        ledger = lq.ledger_views(
            self.engine,
            self.tenant.name,
            Source.SALESFORCE,
            [*(e.id for e in events), *unreadable],
        )
        ctx = self._context()
        plan = plan_changes(events, (), ledger, ctx)
        for event_id, error in unreadable.items():
            plan.add(plan_fault(event_id, "read", error, ledger.get(event_id), ctx))
        again = [] if dry_run else self._lost_writebacks(rows, plan, ledger)
        self._carry_out(plan, report, dry_run=dry_run, write_back=True, again=again)
        observe_lag(
            self.tenant.name, events, plan, report, self.clock(), stopped=self.should_stop()
        )

    def _lost_writebacks(
        self, rows: Sequence[dict[str, Any]], plan: Plan, ledger: Mapping[str, LedgerView]
    ) -> list[Outcome]:
        """Write-backs to send again: skipped Events whose fields do not say what the ledger
        knows. A run killed between a page's Graph writes and its write-back (or a
        write-back Salesforce refused) left them behind, and an unchanged Event is
        skipped, so without this its Outlook id and status would stay missing for good."""
        by_id = {str(row["Id"]): row for row in rows}
        outcomes, settled = [], []
        for step in plan.of(Action.SKIP):
            view, row = ledger.get(step.event_id), by_id.get(step.event_id)
            if view is None or row is None or view.status == MeetingStatus.CANCELLED:
                continue
            refused = view.error_code == WRITEBACK_REFUSED
            if view.error_message and not refused:
                outcome = Outcome(step.event_id, "Failed", error=view.error_message)
            elif view.status == MeetingStatus.SYNCED and view.graph_event_id:
                outcome = Outcome(
                    step.event_id,
                    "Synced",
                    graph_event_id=view.graph_event_id,
                    join_url=view.join_url,
                )
            else:
                continue
            if not written_back(row, outcome, self.fields.event):
                outcomes.append(outcome)
            elif refused:
                settled.append(step.event_id)
        self.scheduler.clear_writeback_refused(settled)
        if outcomes:
            log.info("writing back %d Events again: Salesforce missed it", len(outcomes))
        return outcomes

    def _prefetch_zones(self, events: Sequence[SalesforceEvent]) -> None:
        """Look up the mailbox time zones the planner needs for a page's all-day meetings
        side by side: asked one by one while planning, each lookup was a Graph round
        trip the whole page waited for."""
        zone_of = self.series.zone_of
        owners = {e.owner_email for e in events if e.is_all_day and e.owner_email}
        if zone_of is None or len(owners) < 2:
            return
        workers = min(len(owners), self.executor.workers)
        with ThreadPoolExecutor(workers, thread_name_prefix="syncd-zones") as pool:
            list(pool.map(zone_of, owners))

    def _carry_out(
        self,
        plan: Plan,
        report: PassReport,
        *,
        dry_run: bool,
        write_back: bool,
        again: Sequence[Outcome] = (),
    ) -> None:
        """Execute the plan; write back its outcomes and `again` (earlier outcomes whose
        write-back Salesforce does not have)."""
        if dry_run:
            report.absorb(plan, ())
            return
        outcomes = self.executor.run(plan)
        report.absorb(plan, outcomes)
        if write_back:
            self._write_back(outcomes, again, report)

    def _write_back(
        self, outcomes: Sequence[Outcome], again: Sequence[Outcome], report: PassReport
    ) -> None:
        """Write the outcomes to their Events. A meeting that is right in Outlook but whose
        record Salesforce refused is kept due for another try (its Event is otherwise
        not read again until it changes), and cleared once written again. A failure's
        record needs no such care: the failure is retried and written back anyway."""
        now = self.clock()
        records = [event_update(o, self.fields.event, now) for o in [*outcomes, *again]]
        errors = self._send("Event", [r for r in records if has_fields(r)])
        report.writeback_errors.extend(errors)
        refused = dict(errors)
        self.scheduler.record_writeback_refused(
            {
                o.event_id: refused[o.event_id]
                for o in [*outcomes, *again]
                if o.status == "Synced" and o.event_id in refused
            }
        )
        self.scheduler.clear_writeback_refused(
            [o.event_id for o in again if o.status == "Synced" and o.event_id not in refused]
        )

    def _send(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
        """Write records; a record Salesforce refuses is reported, the rest still land."""
        if not records:
            return []
        try:
            results = self.salesforce.update_records(sobject, records)
        except SyncdError as error:
            log.error(
                "write-back of %d %s records failed: %s", len(records), sobject, error.message
            )
            return [(str(r["id"]), error.message) for r in records]
        errors = []
        for record, result in zip(records, results, strict=True):
            if not result.success:
                message = "; ".join(result.errors) or "refused"
                log.warning("write-back of %s %s refused: %s", sobject, record["id"], message)
                errors.append((str(record["id"]), message))
        return errors
