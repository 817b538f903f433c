"""Recurring Salesforce events -> one Outlook series each.

A page of Events is split into singles (planned as before), series main records
("masters") and occurrences. Per series, in order:

1. the master becomes one Outlook series master: created with its patternedRecurrence
   in the series' time zone, or, when the series changed, PATCHed once
   (https://learn.microsoft.com/en-us/graph/api/event-update; a patternedRecurrence that
   Graph cannot express fails with the pattern named, see recurrence_patterns);
2. each occurrence Event gets a ledger row tied to its Outlook occurrence (found with
   GET /events/{master}/instances,
   https://learn.microsoft.com/en-us/graph/api/event-list-instances, matched on the
   occurrence's original date in the series' zone). An occurrence that still looks like
   the series costs no Graph call (the master's PATCH moved it); one that differs is
   PATCHed on its occurrence id, which makes it an exception of the series
   (https://learn.microsoft.com/en-us/graph/api/resources/event, type "exception"); a
   deleted (or Lightning-excluded) occurrence is cancelled / deleted on its occurrence id,
   which removes just that occurrence
   (https://learn.microsoft.com/en-us/graph/api/event-cancel,
   https://learn.microsoft.com/en-us/graph/api/event-delete).

A series cut off "from this event onwards" ends earlier in Salesforce (classic
RecurrenceEndDateOnly, Lightning UNTIL): that is a series edit, so the master's PATCH
carries the shorter range and Outlook drops the later occurrences itself; the deleted
occurrence Events then find no Outlook occurrence and are only closed in the ledger.

Occurrence rows are ordinary synced ledger rows whose Graph id is the occurrence's id,
so the response refresh reads each occurrence and writes its answers to that
occurrence's EventRelations.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from syncd.config import TenantConfig
from syncd.core import event_mapping as em
from syncd.core.records import meeting_to_request, request_to_meeting
from syncd.core.scheduler import Scheduler
from syncd.domain import (
    ErrorCode,
    HistorySide,
    Meeting,
    MeetingStatus,
    Source,
    SyncdError,
    WritebackStatus,
)
from syncd.graph.port import GraphReader
from syncd.ledger.models import MeetingRecord
from syncd.ledger.queries import view_of
from syncd.logs import log_context
from syncd.sync import queries as q
from syncd.sync.executor import Executor
from syncd.sync.pass_report import PassReport
from syncd.sync.plan import Action, Plan, PlanContext, Step, plan_fault
from syncd.sync.reader import EventReader
from syncd.sync.salesforce_event import Invalid, SalesforceEvent, to_meeting
from syncd.sync.salesforce_writer import SalesforceWriter
from syncd.sync.series_instances import Instances, ZoneCache
from syncd.sync.series_recreated import RECREATED_REASON, adopt, find_predecessor
from syncd.sync.series_shape import (
    SERIES_KEY,
    UNLINKED_REASON,
    content_of,
    excluded,
    master_meeting,
    master_step,
    occurrence_date,
    role,
    series_key,
    series_link,
    slot_meeting,
)
from syncd.sync.writeback import Outcome

log = logging.getLogger(__name__)


@dataclass
class _SeriesWork:
    master: SalesforceEvent | None
    occurrences: list[SalesforceEvent]
    #: the id the series is found by (main record id, or ActivityRecurrence2Id)
    link: str = ""
    lightning: bool = False


class SeriesSync:
    """The series part of a sync pass, one series at a time. It decides; the scheduler
    core (`core.series` and the meeting operations) writes Outlook and the ledger."""

    def __init__(
        self,
        core: Scheduler,
        reader: EventReader,
        writer: SalesforceWriter,
        executor: Executor,
        graph: GraphReader,
        *,
        tenant: TenantConfig,
        clock: Callable[[], datetime],
    ) -> None:
        self.core = core
        self.reader = reader
        self.writer = writer
        self.executor = executor
        self.graph = graph
        self.tenant = tenant
        self.clock = clock
        read = getattr(graph, "mailbox_time_zone", None)
        self.zone_of: Callable[[str], str | None] | None = ZoneCache(read) if read else None

    # ------------------------------------------------------------------ pages

    def process(
        self,
        events: Sequence[SalesforceEvent],
        report: PassReport,
        ctx: PlanContext,
        *,
        dry_run: bool,
    ) -> list[SalesforceEvent]:
        """Handle the series events of a page; returns the single events for the planner."""
        singles: list[SalesforceEvent] = []
        groups: dict[str, _SeriesWork] = {}
        for event in events:
            kind = role(event)
            if kind == "single":
                singles.append(event)
                continue
            if kind == "unlinked":
                report.counts[Action.SKIP.value] += 1
                report.steps.append(Step(Action.SKIP, event.id, UNLINKED_REASON))
                continue
            link, lightning = series_link(event)
            work = groups.setdefault(series_key(link), _SeriesWork(None, [], link, lightning))
            if kind == "master":
                work.master = event
            else:
                work.occurrences.append(event)
        missing = [work for work in groups.values() if work.master is None]
        if missing:
            for master in self._read_masters(missing):
                found = groups.get(series_key(series_link(master)[0]))
                if found is not None:
                    found.master = master
        for key, work in groups.items():
            if work.master is None:
                for occurrence in work.occurrences:
                    report.counts[Action.SKIP.value] += 1
                    report.steps.append(
                        Step(Action.SKIP, occurrence.id, f"its series {key} is not readable")
                    )
                continue
            with log_context(correlation=f"sf-{work.master.id}"):
                try:
                    self._series(work.master, work.occurrences, report, ctx, dry_run=dry_run)
                except Exception as error:  # one series' bug must not stop the page
                    self._series_fault(work.master, error, report, ctx, dry_run=dry_run)
        return singles

    def _series_fault(
        self,
        master: SalesforceEvent,
        error: Exception,
        report: PassReport,
        ctx: PlanContext,
        *,
        dry_run: bool,
    ) -> None:
        """A series that hit an unexpected error (a bug) fails alone, as plan.plan_fault
        fails a single Event: its master is recorded failed and written back."""
        row = self._records([master.id]).get(master.id)
        view = view_of(row) if row is not None else None
        plan = Plan([plan_fault(master.id, "sync the series of", error, view, ctx)])
        if dry_run:
            report.absorb(plan, ())
            return
        outcomes = self.executor.run(plan)
        report.absorb(plan, outcomes)
        self._write_back(outcomes)

    def _all_occurrences(
        self, master: SalesforceEvent, known: Sequence[SalesforceEvent]
    ) -> list[SalesforceEvent]:
        link, lightning = series_link(master)
        query = q.lightning_series if lightning else q.occurrences_of
        rows = list(self.reader.query(query([link], self.reader.extra_fields())))
        # Not the main record: a classic one carries its own id in RecurrenceActivityId,
        # a Lightning series record shares the occurrences' ActivityRecurrence2Id.
        parsed = self.reader.parse_page(rows) if rows else []
        read = [e for e in parsed if role(e) == "occurrence"]
        seen = {e.id for e in read}
        return [*read, *(e for e in known if e.id not in seen)]

    def _read_events(self, ids: Sequence[str]) -> list[SalesforceEvent]:
        rows = self.reader.events_by_id(ids)
        return self.reader.parse_page(rows) if rows else []

    def _read_masters(self, works: Sequence[_SeriesWork]) -> list[SalesforceEvent]:
        """The main / series records of series whose occurrences alone were on the page."""
        classic = [w.link for w in works if not w.lightning]
        found = self._read_events(classic) if classic else []
        links = [w.link for w in works if w.lightning]
        if links:
            query = q.lightning_series(links, self.reader.extra_fields())
            rows = list(self.reader.query(query))
            found.extend(self.reader.parse_page(rows) if rows else [])
        return [e for e in found if role(e) == "master"]

    # ----------------------------------------------------------------- series

    def _series(
        self,
        master: SalesforceEvent,
        occurrences: list[SalesforceEvent],
        report: PassReport,
        ctx: PlanContext,
        *,
        dry_run: bool,
    ) -> None:
        keyword = self.tenant.policy.teams_keyword
        meeting = master_meeting(master, ctx, teams_keyword=keyword)
        records = self._records([master.id, *(o.id for o in occurrences)])
        row = records.get(master.id)
        step = master_step(master, meeting, row, ctx, keyword)
        # A critical change recreated the series in Salesforce: keep its Outlook series.
        predecessor = (
            find_predecessor(self.core, self.reader, master, meeting)
            if step.action == Action.CREATE and isinstance(meeting, Meeting)
            else None
        )
        if predecessor is not None:
            assert isinstance(meeting, Meeting)
            step = Step(Action.UPDATE, master.id, RECREATED_REASON, meeting)
        plan = Plan([step])
        outcomes: list[Outcome] = []
        if dry_run:
            for occurrence in occurrences:
                plan.add(Step(Action.SKIP, occurrence.id, "occurrence of a series (dry run)"))
            report.absorb(plan, ())
            return
        adopted = None
        if predecessor is not None:
            assert isinstance(meeting, Meeting)
            adopted = adopt(self.core, master, meeting, predecessor)
            if adopted is None:  # that Outlook series is gone: a new one after all
                step = master_step(master, meeting, None, ctx, keyword)
                plan = Plan([step])
            else:
                outcomes.append(adopted)
        if adopted is None and step.action != Action.SKIP:
            outcomes.extend(self.executor.run(Plan([step])))
        master_row = self._records([master.id]).get(master.id)
        synced = (
            master_row is not None
            and master_row.graph_event_id is not None
            and master_row.status == MeetingStatus.SYNCED
            and isinstance(meeting, Meeting)
        )
        if not synced or not occurrences:
            for occurrence in occurrences:
                plan.add(Step(Action.SKIP, occurrence.id, "its series is not in Outlook"))
            report.absorb(plan, outcomes)
            self._write_back(outcomes)
            return
        assert isinstance(meeting, Meeting) and master_row is not None
        if step.action in (Action.CREATE, Action.UPDATE):
            # The whole series is new or changed: every occurrence, also those on other
            # pages or beyond the sync window, is tied to its Outlook occurrence now.
            occurrences = self._all_occurrences(master, occurrences)
            records = self._records(o.id for o in occurrences)
        instances = Instances(self.graph, master_row, meeting)
        for occurrence in occurrences:
            occurrence_step, outcome = self._occurrence(
                occurrence, records.get(occurrence.id), meeting, master_row, instances, ctx
            )
            plan.add(occurrence_step)
            if outcome is not None:
                outcomes.append(outcome)
        report.absorb(plan, outcomes)
        self._write_back(outcomes)

    # ------------------------------------------------------------- occurrences

    def _occurrence(
        self,
        event: SalesforceEvent,
        row: MeetingRecord | None,
        master: Meeting,
        master_row: MeetingRecord,
        instances: Instances,
        ctx: PlanContext,
    ) -> tuple[Step, Outcome | None]:
        keyword = self.tenant.policy.teams_keyword
        zone = master.time_zone or "UTC"
        live = row is not None and row.status != MeetingStatus.CANCELLED
        if row is not None and row.organizer_email.casefold() != master.organizer_email.casefold():
            live = False  # the series moved to another organizer: start afresh
        if live and row is not None and not row.request.get(SERIES_KEY):
            # Synced earlier as a meeting of its own (before syncd knew series): that
            # meeting goes, the series' occurrence takes its place.
            self._remove(row, None, "now an occurrence of an Outlook series")
            live = False
        if excluded(event):
            if not live:
                return Step(Action.SKIP, event.id, "excluded from its series"), None
            assert row is not None
            return self._remove(row, instances, "excluded from its series in Salesforce")
        mapped = to_meeting(event, in_org=ctx.in_org, teams_keyword=keyword)
        if isinstance(mapped, Invalid):
            return Step(Action.SKIP, event.id, f"occurrence not synced: {mapped.reason}"), None
        mapped = replace(mapped, time_zone=zone, recurrence=None)
        desired = content_of(mapped, keyword)
        info = (row.request.get(SERIES_KEY) if live and row is not None else None) or {}
        original = (
            date.fromisoformat(info["originalDate"])
            if info.get("originalDate")
            else occurrence_date(mapped, zone)
        )
        expected = content_of(slot_meeting(master, original), keyword)
        follows = desired == expected
        if not live:
            instance_id = instances.id_on(original)
            row = self.core.series.track_occurrence(
                event.id,
                master.organizer_email,
                self._request(mapped, master_row, original, False),
                expected,
                instance_id,
                master_row.join_url,
            )
            if instance_id is None:
                reason = "its Outlook occurrence was not found (moved before the first sync?)"
                return Step(Action.SKIP, event.id, reason), None
            if follows:
                outcome = Outcome(event.id, WritebackStatus.SYNCED, graph_event_id=instance_id)
                return Step(Action.SKIP, event.id, "occurrence of the series"), outcome
        assert row is not None
        was_exception = bool(info.get("exception"))
        patch = em.content_changes(row.sent, desired, join_url=master_row.join_url)
        patch.pop("recurrence", None)
        if follows and not was_exception:
            if row.sent != desired or row.content_hash != em.content_hash(desired):
                request = self._request(mapped, master_row, original, False)
                self.core.series.follow(row, desired, request)
            return Step(Action.SKIP, event.id, "follows its series"), None
        if not patch:
            return Step(Action.SKIP, event.id, "occurrence unchanged"), None
        instance_id = row.graph_event_id or instances.id_on(original)
        if instance_id is None:
            instance_id = instances.refresh().id_on(original)
        if instance_id is None:
            reason = f"the Outlook occurrence of {original} is gone; nothing to change"
            return Step(Action.SKIP, event.id, reason), None
        step = Step(Action.UPDATE, event.id, "one occurrence changed: an Outlook exception", mapped)
        try:
            self.core.series.apply_exception(
                row,
                master_row.organizer_email,
                instance_id,
                patch,
                desired,
                self._request(mapped, master_row, original, not follows),
                correlation_id=f"sf-{event.id}",
            )
        except SyncdError as error:
            if error.code == ErrorCode.MEETING_NOT_FOUND and row.graph_event_id:
                fresh = instances.refresh().id_on(original)
                if fresh and fresh != instance_id:
                    self.core.series.point_at(row, fresh)
                    return self._occurrence(
                        event,
                        self._records([event.id]).get(event.id),
                        master,
                        master_row,
                        instances,
                        ctx,
                    )
            self.core.record_failure(event.id, error, Source.SALESFORCE, side=HistorySide.OUTLOOK)
            log.warning("event %s failed: %s (%s)", event.id, error.message, error.code)
            reason = f"{error.code}: {error.message}"
            return step, Outcome(event.id, WritebackStatus.FAILED, error=reason)
        return step, Outcome(event.id, WritebackStatus.SYNCED, graph_event_id=instance_id)

    def _remove(
        self, row: MeetingRecord, instances: Instances | None, reason: str
    ) -> tuple[Step, Outcome | None]:
        """Take one occurrence out of its Outlook series (or only close its row)."""
        info = row.request.get(SERIES_KEY) or {}
        if info:
            # Cancel the occurrence Outlook holds now; none found: only close the row.
            instance_id = None
            if instances is not None and info.get("originalDate"):
                instance_id = instances.id_on(date.fromisoformat(info["originalDate"]))
            self.core.series.point_at(row, instance_id)
        step = Step(Action.CANCEL, row.external_id, reason, organizer_email=row.organizer_email)
        try:
            self.core.cancel(
                row.external_id,
                row.organizer_email,
                source=Source.SALESFORCE,
                correlation_id=f"sf-{row.external_id}",
            )
        except SyncdError as error:
            if error.code != ErrorCode.MEETING_NOT_FOUND:
                log.warning("event %s failed: %s (%s)", row.external_id, error.message, error.code)
                return step, Outcome(
                    row.external_id, WritebackStatus.FAILED, error=f"{error.code}: {error.message}"
                )
        return step, Outcome(row.external_id, WritebackStatus.CANCELLED)

    # --------------------------------------------------------------- deletions

    def take_deleted(
        self, deleted_ids: Sequence[str], report: PassReport, *, dry_run: bool
    ) -> list[str]:
        """Handle deleted occurrence Events; returns the ids left for the usual cancel path.

        An occurrence whose series is gone too (or is being deleted now) is only closed in
        the ledger: cancelling the master already took its occurrences away.
        """
        rows = self._records(deleted_ids)
        occurrence_rows = [
            r
            for r in rows.values()
            if r.request.get(SERIES_KEY) and r.status != MeetingStatus.CANCELLED
        ]
        if not occurrence_rows:
            return list(deleted_ids)
        deleted = {series_key(i) for i in deleted_ids}
        by_master: dict[str, list[MeetingRecord]] = defaultdict(list)
        for record in occurrence_rows:
            by_master[str(record.request[SERIES_KEY]["master"])].append(record)
        masters = self._records(list(by_master))
        plan, outcomes = Plan(), []
        for master_id, records in by_master.items():
            master_row = masters.get(master_id)
            alive = (
                master_row is not None
                and master_row.status != MeetingStatus.CANCELLED
                and master_row.graph_event_id is not None
                and series_key(master_id) not in deleted
            )
            instances = None
            if alive and not dry_run:
                assert master_row is not None
                meeting = _meeting_of(master_row)
                instances = Instances(self.graph, master_row, meeting) if meeting else None
            for record in records:
                if dry_run:
                    plan.add(
                        Step(Action.CANCEL, record.external_id, "occurrence deleted in Salesforce")
                    )
                    continue
                step, outcome = self._remove(record, instances, "occurrence deleted in Salesforce")
                plan.add(step)
                if outcome is not None:
                    outcomes.append(outcome)
        report.absorb(plan, outcomes)
        handled = {r.external_id for r in occurrence_rows}
        return [i for i in deleted_ids if i not in handled]

    # ----------------------------------------------------------------- ledger

    def _records(self, ids: Iterable[str]) -> dict[str, MeetingRecord]:
        return self.core.records_of(ids, source=Source.SALESFORCE)

    @staticmethod
    def _request(
        meeting: Meeting, master_row: MeetingRecord, original: date, exception: bool
    ) -> dict[str, Any]:
        request = meeting_to_request(meeting)
        request[SERIES_KEY] = {
            "master": master_row.external_id,
            "originalDate": original.isoformat(),
            "exception": exception,
        }
        return request

    def _write_back(self, outcomes: Sequence[Outcome]) -> None:
        if not outcomes:
            return
        errors = self.writer.events(outcomes)
        if errors:
            log.warning("write-back of %d series records refused", len(errors))


def _meeting_of(record: MeetingRecord) -> Meeting | None:
    try:
        return request_to_meeting(record.external_id, record.request)
    except (KeyError, ValueError):
        return None
