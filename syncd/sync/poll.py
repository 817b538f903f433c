"""The poll: an incremental pass over changed Events, a full resync when the watermarks
cannot be trusted, and the retry of failed records whose back-off has passed.

Each streams records page by page (memory grows with a page, not with the org), plans
with the pure planner, executes through the scheduler core and writes back in sObject
Collections of up to 200 records; a few pages are carried out beside the reading and
planning of the next (syncd.sync.page_pipeline), and all of them have ended before a
watermark moves or the pass returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from syncd.config import TenantConfig
from syncd.core import event_mapping as em
from syncd.core.scheduler import WRITEBACK_REFUSED, Scheduler
from syncd.domain import LedgerView, MeetingStatus, Source, WritebackStatus
from syncd.ledger import queries as lq
from syncd.metrics.sync_metrics import observe_lag
from syncd.salesforce.errors import WindowMissed
from syncd.sync import queries as q
from syncd.sync.executor import Executor
from syncd.sync.outlook_policy import CANCELLED_STATUS, DELETED_STATUS, DIFFERS_STATUS
from syncd.sync.page_pipeline import PagePipeline
from syncd.sync.pass_report import PassReport
from syncd.sync.plan import Action, Plan, PlanContext, Step, plan_changes, plan_fault
from syncd.sync.reader import PAGE, EventReader, chunks
from syncd.sync.recurrence import SeriesSync
from syncd.sync.salesforce_event import SalesforceEvent, parse_datetime
from syncd.sync.salesforce_writer import SalesforceWriter
from syncd.sync.swept_events import Copy
from syncd.sync.writeback import Outcome, written_back

log = logging.getLogger(__name__)

FEED_EVENT = "salesforce.event"
FEED_RELATION = "salesforce.event_relation"
FEED_DELETED = "salesforce.event_deleted"

#: Re-read a little before each watermark: a row committed late with an older
#: SystemModstamp is not missed; re-read rows are unchanged and so skipped.
OVERLAP = timedelta(minutes=2)
#: getDeleted keeps about 15 days; never ask for more.
DELETED_RETENTION = timedelta(days=15)
#: Pages carried out at once while the next is read and planned.
PAGES_IN_FLIGHT = 3


class Poll:
    """One tenant's poll, full resync and retry of failures."""

    def __init__(
        self,
        tenant: TenantConfig,
        engine: Engine,
        core: Scheduler,
        reader: EventReader,
        writer: SalesforceWriter,
        executor: Executor,
        series: SeriesSync,
        *,
        clock: Callable[[], datetime],
        should_stop: Callable[[], bool],
    ) -> None:
        self.tenant = tenant
        self.engine = engine
        self.core = core
        self.reader = reader
        self.salesforce = reader.salesforce
        self.writer = writer
        self.executor = executor
        self.series = series
        self.clock = clock
        self.should_stop = should_stop
        #: Run before a page's updates of synced meetings with their organizers' mailboxes:
        #: the Outlook sweep, so a change made in Outlook meanwhile is settled by the
        #: conflict rule before a PATCH overwrites it; returns the meetings it settled
        #: (their Events are read again by the next poll).
        self.before_updates: Callable[[set[str]], set[str]] | None = None
        #: Of the Events read ({id: the copy read}), those an Outlook sweep wrote since
        #: the copy was read (syncd.sync.swept_events): not planned from it.
        self.outdated: Callable[[Mapping[str, Copy]], set[str]] | None = None
        self._pages: PagePipeline[tuple[list[Outcome], list[tuple[str, str]]]] = PagePipeline(
            PAGES_IN_FLIGHT
        )

    def poll(
        self, *, dry_run: bool = False, progress: Callable[[int], None] | None = None
    ) -> PassReport:
        """An incremental pass, or a full resync when there is no usable watermark."""
        try:
            return self._poll(dry_run=dry_run, progress=progress)
        finally:
            self._pages.settle()

    def _poll(self, *, dry_run: bool, progress: Callable[[int], None] | None) -> PassReport:
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
        extra = self.reader.extra_fields()
        changed = self.salesforce.query(
            q.changed_events(since - OVERLAP, self.tenant.salesforce.scope.extra_filter, extra)
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
            self._process(self.reader.events_by_id(ids), report, dry_run=dry_run)
        self._pages.settle()
        deleted_ids = self.series.take_deleted(deleted_ids, report, dry_run=dry_run)
        if deleted_ids:
            views = lq.ledger_views(self.engine, self.tenant.name, Source.SALESFORCE, deleted_ids)
            plan = plan_changes((), deleted_ids, views, self.context())
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
        try:
            return self._full_resync(dry_run=dry_run, progress=progress)
        finally:
            self._pages.settle()

    def _full_resync(self, *, dry_run: bool, progress: Callable[[int], None] | None) -> PassReport:
        started = self.clock()
        ctx = self.context()
        report = PassReport(full_resync=True, dry_run=dry_run)
        seen: set[str] = set()
        rows_iter = self.salesforce.query(
            q.events_in_window(
                ctx.window_start,
                ctx.window_end,
                self.tenant.salesforce.scope.extra_filter,
                self.reader.extra_fields(),
            )
        )
        for rows in chunks(rows_iter, PAGE):
            seen.update(r["Id"] for r in rows)
            self._process(rows, report, dry_run=dry_run)
            if progress:
                progress(len(rows))
            if self.should_stop():
                return report
        self._pages.settle()
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
        try:
            return self._retry_failed(dry_run=dry_run)
        finally:
            self._pages.settle()

    def _retry_failed(self, *, dry_run: bool) -> PassReport:
        report = PassReport(dry_run=dry_run)
        due = lq.due_failures(self.engine, self.tenant.name, Source.SALESFORCE, self.clock())
        for ids in chunks(due, PAGE):
            rows = self.reader.events_by_id(ids)
            self._process(rows, report, dry_run=dry_run)
            self._pages.settle()
            # An Event the query no longer returns was deleted: its failure was the
            # cancel (the poll that saw the deletion does not see it again).
            returned = {str(row["Id"]) for row in rows}
            gone = self.series.take_deleted(
                [i for i in ids if i not in returned], report, dry_run=dry_run
            )
            if gone:
                views = lq.ledger_views(self.engine, self.tenant.name, Source.SALESFORCE, gone)
                plan = plan_changes((), gone, views, self.context())
                self._carry_out(plan, report, dry_run=dry_run, write_back=False)
        return report

    # -------------------------------------------------------------- helpers

    def context(self) -> PlanContext:
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

    def _process(
        self, rows: Sequence[dict[str, Any]], report: PassReport, *, dry_run: bool
    ) -> None:
        report.records_read += len(rows)
        parsed, unreadable = self.reader.parse_rows(rows)
        self._prefetch_zones(parsed)
        # Recurring series are handled as series (one Outlook series master each).
        events = self.series.process(parsed, report, self.context(), dry_run=dry_run)
        ledger = lq.ledger_views(
            self.engine,
            self.tenant.name,
            Source.SALESFORCE,
            [*(e.id for e in events), *unreadable],
        )
        ctx = self.context()
        plan = plan_changes(events, (), ledger, ctx)
        for salesforce_id, error in unreadable.items():
            plan.add(plan_fault(salesforce_id, "read", error, ledger.get(salesforce_id), ctx))
        if dry_run:
            report.absorb(plan, ())
            return
        self._settle_outlook_first(plan, ledger)
        again = self._lost_writebacks(rows, plan, ledger)
        copies = self._copies(rows, plan)

        def settled(done: tuple[list[Outcome], list[tuple[str, str]]]) -> None:
            outcomes, refused = done
            report.absorb(plan, outcomes)
            report.writeback_errors.extend(refused)
            observe_lag(
                self.tenant.name, events, plan, report, self.clock(), stopped=self.should_stop()
            )

        self._pages.submit(lambda: self._page(plan, again, copies), settled)

    def _page(
        self,
        plan: Plan,
        again: Sequence[Outcome],
        copies: Mapping[str, Copy],
    ) -> tuple[list[Outcome], list[tuple[str, str]]]:
        """Carry a page's plan out and write its outcomes (and `again`) back; `copies`:
        the Events to update as the page read them."""
        self._skip_outdated(plan, copies)
        outcomes = self.executor.run(plan)
        return outcomes, self.writer.outcomes(outcomes, again)

    def _settle_outlook_first(self, plan: Plan, ledger: Mapping[str, LedgerView]) -> None:
        """Sweep the mailboxes of the page's updates first; a meeting the sweep settled
        (changed in Outlook too) is not PATCHed from this page's stale copy."""
        if self.before_updates is None:
            return
        # A meeting moving to a new organizer is cancelled for the old one: nothing of
        # its old copy is kept, so its mailbox need not be swept first.
        mailboxes = {
            view.organizer_email
            for step in plan.of(Action.UPDATE)
            if (view := ledger.get(step.salesforce_id)) is not None
            and view.status == MeetingStatus.SYNCED
            and step.meeting is not None
            and step.meeting.organizer_email.casefold() == view.organizer_email.casefold()
        }
        settled = self.before_updates(mailboxes) if mailboxes else set()
        plan.steps = [
            Step(Action.SKIP, s.salesforce_id, "changed in Outlook too: settled by the sweep")
            if s.action == Action.UPDATE and s.salesforce_id in settled
            else s
            for s in plan.steps
        ]

    def _copies(self, rows: Sequence[dict[str, Any]], plan: Plan) -> dict[str, Copy]:
        """The Events the page's updates were planned from, as read."""
        stamps = {str(r["Id"]): parse_datetime(r.get("SystemModstamp")) for r in rows}
        keyword = self.tenant.policy.teams_keyword
        return {
            step.salesforce_id: Copy(
                stamps.get(step.salesforce_id),
                em.content_hash(em.event_content(step.meeting, teams_keyword=keyword))
                if step.meeting is not None
                else None,
            )
            for step in plan.of(Action.UPDATE)
        }

    def _skip_outdated(self, plan: Plan, copies: Mapping[str, Copy]) -> None:
        """An update planned from a copy of the Event read before an Outlook sweep wrote
        it (with a change made in Outlook) is dropped: the ledger already follows the
        newer Event, and the old copy would be PATCHed over the organizer's change. Asked
        as the page is carried out, as late as can be: the daemon's outlook job runs
        beside the poll. The next poll reads the Event as the sweep left it."""
        updates = {s.salesforce_id for s in plan.of(Action.UPDATE)}
        if self.outdated is None or not updates:
            return
        outdated = self.outdated({i: copies[i] for i in updates if i in copies})
        plan.steps = [
            Step(Action.SKIP, s.salesforce_id, "changed in Outlook: the Event was read before")
            if s.action == Action.UPDATE and s.salesforce_id in outdated
            else s
            for s in plan.steps
        ]

    def _lost_writebacks(
        self, rows: Sequence[dict[str, Any]], plan: Plan, ledger: Mapping[str, LedgerView]
    ) -> list[Outcome]:
        """Write-backs to send again: skipped Events whose fields do not say what the ledger
        knows. A run killed between a page's Graph writes and its write-back (or a
        write-back Salesforce refused) left them behind, and an unchanged Event is
        skipped, so without this its Outlook id and status would stay missing for good."""
        by_id = {str(row["Id"]): row for row in rows}
        fields = self.tenant.salesforce.fields.event
        outcomes, settled = [], []
        for step in plan.of(Action.SKIP):
            view, row = ledger.get(step.salesforce_id), by_id.get(step.salesforce_id)
            if view is None or row is None or view.status == MeetingStatus.CANCELLED:
                continue
            if (
                view.status == MeetingStatus.SYNCED
                and row.get(fields.sync_status) == DIFFERS_STATUS
            ):
                continue  # the Outlook sweep's report of a difference, not a lost write
            if _marked_gone(row, view, fields.sync_status, fields.outlook_event_id):
                continue
            refused = view.error_code == WRITEBACK_REFUSED
            if view.error_message and not refused:
                outcome = Outcome(
                    step.salesforce_id, WritebackStatus.FAILED, error=view.error_message
                )
            elif view.status == MeetingStatus.SYNCED and view.graph_event_id:
                outcome = Outcome(
                    step.salesforce_id,
                    WritebackStatus.SYNCED,
                    graph_event_id=view.graph_event_id,
                    join_url=view.join_url,
                )
            else:
                continue
            if not written_back(row, outcome, fields):
                outcomes.append(outcome)
            elif refused:
                settled.append(step.salesforce_id)
        self.core.clear_writeback_refused(settled)
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
            report.writeback_errors.extend(self.writer.outcomes(outcomes, again))


def _marked_gone(row: Mapping[str, Any], view: LedgerView, status: str, event_id: str) -> bool:
    """The Outlook sweep marked this synced meeting deleted or cancelled in Outlook, and
    closes its row next (after a kill, the next sweep does): the mark is no lost
    write-back. Writing "Synced" over it, the poll could land after the sweep closed the
    row, and the Event would say synced of a meeting that is gone for good. A meeting made
    again since has another Outlook id, and its write-back is sent as usual."""
    return (
        view.status == MeetingStatus.SYNCED
        and row.get(status) in (DELETED_STATUS, CANCELLED_STATUS)
        and bool(view.graph_event_id)
        and row.get(event_id) == view.graph_event_id
    )
