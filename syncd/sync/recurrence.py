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
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from syncd import timezones
from syncd.core import event_mapping as em
from syncd.core.records import meeting_to_request
from syncd.core.recurrence_mapping import zone_info
from syncd.domain import ErrorCode, Meeting, MeetingStatus, Source, SyncdError, utc
from syncd.ledger.db import session_scope
from syncd.ledger.models import MeetingRecord
from syncd.ledger.queries import view_of
from syncd.logs import log_context
from syncd.sync import queries as q
from syncd.sync.plan import Action, Plan, PlanContext, Step, plan_fault, with_organizer_zone
from syncd.sync.recurrence_patterns import Series, Unsupported, classic_pattern, rrule_pattern
from syncd.sync.salesforce_event import Invalid, SalesforceEvent, parse_datetime, to_meeting
from syncd.sync.series_recreated import RECREATED_REASON, adopt, find_predecessor
from syncd.sync.writeback import Outcome, event_update, has_fields

if TYPE_CHECKING:
    from syncd.sync.service import PassReport, SyncService

log = logging.getLogger(__name__)

#: How long an organizer's mailbox time zone is trusted before it is read again.
ZONE_TTL_SECONDS = 3600.0
#: The ledger request key that marks an occurrence row.
SERIES_KEY = "series"
#: Why a Lightning series record is skipped when the org does not show the series link.
UNLINKED_REASON = (
    "a Lightning series record: this org's API version shows no Event.ActivityRecurrence2Id, "
    "so its occurrences are synced as single meetings (raise api_version to 65.0 or later)"
)


def _key(record_id: str | None) -> str:
    """Salesforce ids compare on their first 15 characters (18-character ids add a checksum)."""
    return (record_id or "")[:15]


#: GroupEventType of a Lightning series record, "which represents the recurrence pattern"
#: (https://developer.salesforce.com/docs/platform/change-data-capture/guide/cdc-standard-objects-task-event-recurring.html).
SERIES_RECORD = "3"


def role(event: SalesforceEvent) -> str:
    """master | occurrence | single | unlinked.

    Classic: the main record (IsRecurrence) and its occurrences, whose
    RecurrenceActivityId is the main record's id. Lightning: the series record
    (GroupEventType 3) and its occurrences share one ActivityRecurrence2Id (CDC guide,
    Recurring Activities). A series record in an org whose API version does not show
    ActivityRecurrence2Id cannot find its occurrences: "unlinked" (not synced; its
    occurrences are synced as single meetings).
    """
    series = event.series
    if series.get("ActivityRecurrence2Id"):
        return "master" if str(series.get("GroupEventType")) == SERIES_RECORD else "occurrence"
    parent = series.get("RecurrenceActivityId")
    if parent and _key(str(parent)) != _key(event.id):
        return "occurrence"
    if series.get("IsRecurrence"):
        return "master"
    if str(series.get("GroupEventType")) == SERIES_RECORD:
        return "unlinked"
    return "single"


def series_link(event: SalesforceEvent) -> tuple[str, bool]:
    """The full id that identifies the series of a master or occurrence, and whether it is
    a Lightning series (ActivityRecurrence2Id) rather than a classic one (main record id)."""
    lightning = event.series.get("ActivityRecurrence2Id")
    if lightning:
        return str(lightning), True
    parent = event.series.get("RecurrenceActivityId")
    return (str(parent) if parent else event.id), False


def excluded(event: SalesforceEvent) -> bool:
    """A Lightning occurrence taken out of its series."""
    return bool(event.series.get("IsRecurrence2Exclusion"))


def series_of(master: SalesforceEvent, start: datetime, *, all_day: bool = False) -> Series:
    """The Outlook pattern of a series' main record; Unsupported names what cannot be mapped."""
    fields = dict(master.series)
    if fields.get("IsRecurrence"):
        stamp = fields.get("RecurrenceStartDateTime")
        if isinstance(stamp, str):
            fields["RecurrenceStartDateTime"] = parse_datetime(stamp)
        return classic_pattern(fields, start, all_day=all_day)
    text = str(fields.get("Recurrence2PatternText") or "")
    zone = str(fields.get("Recurrence2PatternTimeZone") or "UTC")
    first = parse_datetime(fields.get("Recurrence2PatternStartDate")) or start
    return rrule_pattern(text, zone, first, all_day=all_day)


def first_date(meeting: Meeting, zone: timezones.Zone) -> date:
    """The date a series' first occurrence falls on, as range.startDate must name it.

    recurrenceRange.startDate "must be the same value as the start property of the
    recurring event" (https://learn.microsoft.com/en-us/graph/api/resources/recurrencerange);
    an earlier one lets the pattern start a day too soon (an extra first occurrence). An
    all-day date is Salesforce's (kept at midnight UTC), whatever the organizer's zone; a
    timed start's date is the one in the series' zone.
    """
    if meeting.is_all_day:
        return utc(meeting.start).date()
    return utc(meeting.start).astimezone(zone.info).date()


def master_meeting(
    master: SalesforceEvent, ctx: PlanContext, *, teams_keyword: str
) -> Meeting | Invalid:
    """The series master as a meeting: the first occurrence plus the pattern and its zone."""
    mapped = to_meeting(master, in_org=ctx.in_org, teams_keyword=teams_keyword)
    if isinstance(mapped, Invalid):
        return mapped
    try:
        series = series_of(master, mapped.start, all_day=mapped.is_all_day)
    except Unsupported as error:
        return Invalid(
            master.id, f"the recurring event's pattern cannot be an Outlook series: {error}"
        )
    zone, source = series.time_zone, "the series' time zone in Salesforce"
    if mapped.is_all_day:
        # All-day series sit on their dates in the organizer's zone, like single ones.
        placed = with_organizer_zone(mapped, ctx)
        if isinstance(placed, Invalid):
            reason = f"the recurring event cannot be an Outlook series: {placed.reason}"
            return Invalid(master.id, reason)
        mapped = placed
        zone = mapped.time_zone or "UTC"
        source = f"the mailbox time zone of {mapped.organizer_email}"
    found = timezones.find(zone)
    if found is None:
        unknown = timezones.UnknownTimeZone(zone, source=source)
        return Invalid(master.id, f"the recurring event cannot be an Outlook series: {unknown}")
    # Graph is given the Windows name, and the first occurrence's date as startDate.
    span = {
        **series.recurrence["range"],
        "recurrenceTimeZone": found.windows,
        "startDate": first_date(mapped, found).isoformat(),
    }
    recurrence = {**series.recurrence, "range": span}
    return replace(mapped, time_zone=found.windows, recurrence=recurrence)


def _content(meeting: Meeting, teams_keyword: str) -> dict[str, Any]:
    return em.event_content(meeting, teams_keyword=teams_keyword)


def local_date(instant: datetime, zone: str) -> date:
    info = zone_info(zone)
    return utc(instant).astimezone(info).date() if info else utc(instant).date()


def occurrence_date(meeting: Meeting, zone: str) -> date:
    """The date an occurrence Event sits on in its series: an all-day one's Salesforce date
    (midnight UTC, the date Outlook shows in the organizer's zone), a timed one's date in
    the series' zone."""
    if meeting.is_all_day:
        return utc(meeting.start).date()
    return local_date(meeting.start, zone)


def slot_meeting(master: Meeting, day: date) -> Meeting:
    """The occurrence the series itself puts on `day` (the master's time of day and length)."""
    if master.is_all_day:
        # A date, not a time: no zone is needed (Salesforce keeps it at midnight UTC).
        start = datetime.combine(day, datetime.min.time(), tzinfo=utc(master.start).tzinfo)
    else:
        zone = timezones.lookup(master.time_zone or "UTC", source="the series' time zone")
        clock = utc(master.start).astimezone(zone.info).time()
        start = utc(datetime.combine(day, clock, tzinfo=zone.info))
    return replace(master, start=start, end=start + (master.end - master.start), recurrence=None)


@dataclass
class _SeriesWork:
    master: SalesforceEvent | None
    occurrences: list[SalesforceEvent]
    #: the id the series is found by (main record id, or ActivityRecurrence2Id)
    link: str = ""
    lightning: bool = False


class ZoneCache:
    """Organizers' mailbox time zones (GET mailboxSettings/timeZone), kept for an hour."""

    def __init__(self, read: Callable[[str], str], ttl: float = ZONE_TTL_SECONDS) -> None:
        self._read = read
        self._ttl = ttl
        self._zones: dict[str, tuple[float, str | None]] = {}

    def __call__(self, mailbox: str) -> str | None:
        key = mailbox.casefold()
        cached = self._zones.get(key)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        try:
            zone: str | None = self._read(mailbox)
        except SyncdError as error:
            log.warning("time zone of %s unknown (%s); all-day meetings use UTC", mailbox, error)
            zone = None
        self._zones[key] = (time.monotonic(), zone)
        return zone


class SeriesSync:
    """The series part of a sync pass; runs inside SyncService, one series at a time."""

    def __init__(self, service: SyncService) -> None:
        self.service = service
        read = getattr(service.graph, "mailbox_time_zone", None)
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
            work = groups.setdefault(_key(link), _SeriesWork(None, [], link, lightning))
            if kind == "master":
                work.master = event
            else:
                work.occurrences.append(event)
        missing = [work for work in groups.values() if work.master is None]
        if missing:
            for master in self._read_masters(missing):
                work = groups.get(_key(series_link(master)[0]))
                if work is not None:
                    work.master = master
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
        outcomes = self.service.executor.run(plan)
        report.absorb(plan, outcomes)
        self._write_back(outcomes)

    def _all_occurrences(
        self, master: SalesforceEvent, known: Sequence[SalesforceEvent]
    ) -> list[SalesforceEvent]:
        service = self.service
        link, lightning = series_link(master)
        query = q.lightning_series if lightning else q.occurrences_of
        rows = list(service.salesforce.query(query([link], service._extra_fields())))
        # Not the main record: a classic one carries its own id in RecurrenceActivityId,
        # a Lightning series record shares the occurrences' ActivityRecurrence2Id.
        read = [e for e in (service._parse_page(rows) if rows else []) if role(e) == "occurrence"]
        seen = {e.id for e in read}
        return [*read, *(e for e in known if e.id not in seen)]

    def _read_events(self, ids: Sequence[str]) -> list[SalesforceEvent]:
        service = self.service
        rows = list(service.salesforce.query(q.events_by_id(ids, service._extra_fields())))
        return service._parse_page(rows) if rows else []

    def _read_masters(self, works: Sequence[_SeriesWork]) -> list[SalesforceEvent]:
        """The main / series records of series whose occurrences alone were on the page."""
        classic = [w.link for w in works if not w.lightning]
        found = self._read_events(classic) if classic else []
        links = [w.link for w in works if w.lightning]
        if links:
            service = self.service
            query = q.lightning_series(links, service._extra_fields())
            rows = list(service.salesforce.query(query))
            found.extend(service._parse_page(rows) if rows else [])
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
        service = self.service
        keyword = service.tenant.policy.teams_keyword
        meeting = master_meeting(master, ctx, teams_keyword=keyword)
        records = self._records([master.id, *(o.id for o in occurrences)])
        row = records.get(master.id)
        step = self._master_step(master, meeting, row, ctx, keyword)
        # A critical change recreated the series in Salesforce: keep its Outlook series.
        predecessor = (
            find_predecessor(self, master, meeting)
            if step.action == Action.CREATE and isinstance(meeting, Meeting)
            else None
        )
        if predecessor is not None:
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
            adopted = adopt(self, master, meeting, predecessor)
            if adopted is None:  # that Outlook series is gone: a new one after all
                step = self._master_step(master, meeting, None, ctx, keyword)
                plan = Plan([step])
            else:
                outcomes.append(adopted)
        if adopted is None and step.action != Action.SKIP:
            outcomes.extend(service.executor.run(Plan([step])))
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
        instances = _Instances(self, master_row, meeting)
        for occurrence in occurrences:
            occurrence_step, outcome = self._occurrence(
                occurrence, records.get(occurrence.id), meeting, master_row, instances, ctx
            )
            plan.add(occurrence_step)
            if outcome is not None:
                outcomes.append(outcome)
        report.absorb(plan, outcomes)
        self._write_back(outcomes)

    def _master_step(
        self,
        master: SalesforceEvent,
        meeting: Meeting | Invalid,
        row: MeetingRecord | None,
        ctx: PlanContext,
        keyword: str,
    ) -> Step:
        """plan.plan_event's decisions for a series master (whose meeting carries the pattern)."""
        live = row is not None and row.status not in (MeetingStatus.CANCELLED, "invalid")
        if isinstance(meeting, Invalid):
            if (
                row is not None
                and row.status == MeetingStatus.FAILED
                and row.last_error_message == meeting.reason
            ):
                return Step(Action.SKIP, master.id, f"still invalid: {meeting.reason}")
            return Step(Action.FAIL, master.id, meeting.reason)
        if not live and not ctx.window_start <= meeting.start <= ctx.window_end:
            return Step(Action.SKIP, master.id, "outside the sync window")
        if not live:
            return Step(Action.CREATE, master.id, "new recurring event in Salesforce", meeting)
        assert row is not None
        content = _content(meeting, keyword)
        # A series synced before syncd wrote Windows zone names holds the IANA ones: the
        # same times under the other name are no change (`sent` is what Outlook holds).
        unchanged = row.content_hash == em.content_hash(content) or (
            row.status == MeetingStatus.SYNCED and not em.content_changes(row.sent, content)
        )
        faulted = row.last_error_code == ErrorCode.INTERNAL_ERROR  # retried to clear it
        if unchanged and row.status == MeetingStatus.SYNCED and not faulted:
            return Step(Action.SKIP, master.id, "series unchanged since the last sync")
        if unchanged and row.next_attempt_at is not None and row.next_attempt_at > ctx.now:
            return Step(Action.SKIP, master.id, "failed before; waiting to retry")
        reason = "the series changed in Salesforce" if not unchanged else "retrying"
        if row.organizer_email.casefold() != meeting.organizer_email.casefold():
            reason = "the owner changed: the series moves to the new organizer"
        return Step(Action.UPDATE, master.id, reason, meeting)

    # ------------------------------------------------------------- occurrences

    def _occurrence(
        self,
        event: SalesforceEvent,
        row: MeetingRecord | None,
        master: Meeting,
        master_row: MeetingRecord,
        instances: _Instances,
        ctx: PlanContext,
    ) -> tuple[Step, Outcome | None]:
        service = self.service
        keyword = service.tenant.policy.teams_keyword
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
        desired = _content(mapped, keyword)
        info = (row.request.get(SERIES_KEY) if live and row is not None else None) or {}
        original = (
            date.fromisoformat(info["originalDate"])
            if info.get("originalDate")
            else occurrence_date(mapped, zone)
        )
        expected = _content(slot_meeting(master, original), keyword)
        follows = desired == expected
        if not live:
            instance_id = instances.id_on(original)
            record = self._track(
                event.id, master, master_row, mapped, expected, original, instance_id
            )
            row = record
            if instance_id is None:
                reason = "its Outlook occurrence was not found (moved before the first sync?)"
                return Step(Action.SKIP, event.id, reason), None
            if follows:
                outcome = Outcome(event.id, "Synced", graph_event_id=instance_id)
                return Step(Action.SKIP, event.id, "occurrence of the series"), outcome
        assert row is not None
        was_exception = bool(info.get("exception"))
        patch = em.content_changes(row.sent, desired, join_url=master_row.join_url)
        patch.pop("recurrence", None)
        if follows and not was_exception:
            if row.sent != desired or row.content_hash != em.content_hash(desired):
                self._write(
                    row,
                    sent=desired,
                    target=desired,
                    request=self._request(mapped, master_row, original, False),
                )
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
            answer = service.scheduler.graph.update_event(
                master_row.organizer_email, instance_id, patch, correlation_id=f"sf-{event.id}"
            )
        except SyncdError as error:
            if error.code == ErrorCode.MEETING_NOT_FOUND and row.graph_event_id:
                fresh = instances.refresh().id_on(original)
                if fresh and fresh != instance_id:
                    self._write(row, graph_event_id=fresh)
                    return self._occurrence(
                        event,
                        self._records([event.id]).get(event.id),
                        master,
                        master_row,
                        instances,
                        ctx,
                    )
            service.scheduler.record_failure(event.id, error, Source.SALESFORCE)
            log.warning("event %s failed: %s (%s)", event.id, error.message, error.code)
            return step, Outcome(event.id, "Failed", error=f"{error.code}: {error.message}")
        self._write(
            row,
            graph_event_id=instance_id,
            sent=desired,
            target=desired,
            content_hash=em.content_hash(desired),
            change_key=answer.get("changeKey", row.change_key),
            request=self._request(mapped, master_row, original, not follows),
            status=MeetingStatus.SYNCED.value,
            last_error_code=None,
            last_error_message=None,
            next_attempt_at=None,
        )
        return step, Outcome(event.id, "Synced", graph_event_id=instance_id)

    def _remove(
        self, row: MeetingRecord, instances: _Instances | None, reason: str
    ) -> tuple[Step, Outcome | None]:
        """Take one occurrence out of its Outlook series (or only close its row)."""
        info = row.request.get(SERIES_KEY) or {}
        if info:
            # Cancel the occurrence Outlook holds now; none found: only close the row.
            instance_id = None
            if instances is not None and info.get("originalDate"):
                instance_id = instances.id_on(date.fromisoformat(info["originalDate"]))
            self._write(row, graph_event_id=instance_id)
        step = Step(Action.CANCEL, row.external_id, reason, organizer_email=row.organizer_email)
        try:
            self.service.scheduler.cancel(
                row.external_id,
                row.organizer_email,
                source=Source.SALESFORCE,
                correlation_id=f"sf-{row.external_id}",
            )
        except SyncdError as error:
            if error.code != ErrorCode.MEETING_NOT_FOUND:
                log.warning("event %s failed: %s (%s)", row.external_id, error.message, error.code)
                return step, Outcome(
                    row.external_id, "Failed", error=f"{error.code}: {error.message}"
                )
        return step, Outcome(row.external_id, "Cancelled")

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
        deleted = {_key(i) for i in deleted_ids}
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
                and _key(master_id) not in deleted
            )
            instances = None
            if alive and not dry_run:
                assert master_row is not None
                meeting = _meeting_of(master_row)
                instances = _Instances(self, master_row, meeting) if meeting else None
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
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        service = self.service
        with Session(service.engine, expire_on_commit=False) as session:
            rows = session.exec(
                select(MeetingRecord).where(
                    MeetingRecord.tenant == service.tenant.name,
                    MeetingRecord.source == Source.SALESFORCE.value,
                    col(MeetingRecord.external_id).in_(wanted),
                )
            ).all()
        return {r.external_id: r for r in rows}

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

    def _track(
        self,
        event_id: str,
        master: Meeting,
        master_row: MeetingRecord,
        meeting: Meeting,
        expected: dict[str, Any],
        original: date,
        instance_id: str | None,
    ) -> MeetingRecord:
        """The ledger row of an occurrence as Outlook holds it now (the series' version)."""
        now = self.service.clock()
        fields: dict[str, Any] = {
            "organizer_email": master.organizer_email,
            "transaction_id": "",
            "graph_event_id": instance_id,
            "change_key": None,
            "sent": expected,
            "target": expected,
            "content_hash": em.content_hash(expected),
            "request": self._request(meeting, master_row, original, False),
            "responses": {},
            "join_url": master_row.join_url,
            "intent": None,
            "status": MeetingStatus.SYNCED.value,
            "last_error_code": None,
            "last_error_message": None,
            "attempts": 0,
            "next_attempt_at": None,
            "updated_at": now,
        }
        with session_scope(self.service.engine) as session:
            record = session.exec(
                select(MeetingRecord).where(
                    MeetingRecord.tenant == self.service.tenant.name,
                    MeetingRecord.source == Source.SALESFORCE.value,
                    MeetingRecord.external_id == event_id,
                )
            ).first()
            if record is None:
                record = MeetingRecord(
                    tenant=self.service.tenant.name,
                    source=Source.SALESFORCE.value,
                    external_id=event_id,
                    created_at=now,
                    **fields,
                )
            else:
                for name, value in fields.items():
                    setattr(record, name, value)
                record.generation += 1
            session.add(record)
        return self._records([event_id])[event_id]

    def _write(self, record: MeetingRecord, **fields: Any) -> None:
        with session_scope(self.service.engine) as session:
            fresh = session.get(MeetingRecord, record.id)
            assert fresh is not None
            for name, value in fields.items():
                setattr(fresh, name, value)
            fresh.updated_at = self.service.clock()
            session.add(fresh)

    def _write_back(self, outcomes: Sequence[Outcome]) -> None:
        service = self.service
        if not outcomes:
            return
        now = service.clock()
        records = [event_update(o, service.fields.event, now) for o in outcomes]
        errors = service._send("Event", [r for r in records if has_fields(r)])
        if errors:
            log.warning("write-back of %d series records refused", len(errors))


def _meeting_of(record: MeetingRecord) -> Meeting | None:
    from syncd.core.records import request_to_meeting

    try:
        return request_to_meeting(record.external_id, record.request)
    except (KeyError, ValueError):
        return None


class _Instances:
    """The Outlook occurrences of one series master, by original local date (read lazily)."""

    def __init__(self, owner: SeriesSync, master_row: MeetingRecord, master: Meeting) -> None:
        self.owner = owner
        self.master_row = master_row
        self.zone = master.time_zone or "UTC"
        self.start = utc(master.start) - timedelta(days=1)
        self._by_date: dict[date, str] | None = None
        self._low = self._high = date.min

    def refresh(self) -> _Instances:
        self._by_date = None
        return self

    def id_on(self, day: date) -> str | None:
        if self._by_date is None:
            self._by_date = self._read(day)
        found = self._by_date.get(day)
        if found is None and (day < self._low or day > self._high):
            self._by_date.update(self._read(day))
            found = self._by_date.get(day)
        return found

    def _read(self, around: date) -> dict[date, str]:
        # The whole series at once when it fits a reasonable window; else around the day.
        day = datetime.combine(around, datetime.min.time(), tzinfo=self.start.tzinfo)
        start = min(self.start, day - timedelta(days=2))
        end = max(start + timedelta(days=400), day + timedelta(days=3))
        self._low, self._high = start.date(), end.date()
        graph = self.owner.service.scheduler.graph
        items = graph.list_instances(  # type: ignore[attr-defined]
            self.master_row.organizer_email,
            self.master_row.graph_event_id,
            start,
            end,
            select=("id", "originalStart", "type", "start"),
        )
        found: dict[date, str] = {}
        for item in items:
            original = parse_datetime(item.get("originalStart")) or em.parse_graph_time(
                item.get("start")
            )
            if original is not None:
                found[local_date(original, self.zone)] = str(item["id"])
        return found
