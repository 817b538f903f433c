"""One tenant's sync jobs: poll Salesforce, refresh responses, snapshot availability.

Each job streams records page by page (memory grows with a page, not with
the org), plans with the pure planner, executes through the scheduler core
and writes back in sObject Collections of up to 200 records.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine

from syncd.config import TenantConfig
from syncd.core import event_mapping as em
from syncd.core.scheduler import Scheduler
from syncd.domain import Source, SyncdError
from syncd.ledger import queries as lq
from syncd.salesforce.errors import WindowMissed
from syncd.sync import queries as q
from syncd.sync.executor import Executor
from syncd.sync.plan import Action, Plan, PlanContext, Step, plan_changes
from syncd.sync.salesforce_event import SalesforceEvent, parse_datetime, parse_event
from syncd.sync.writeback import (
    Outcome,
    availability_snapshot,
    event_update,
    has_fields,
    relation_updates,
    responses_summary,
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

    def deleted(self, sobject: str, start: datetime, end: datetime) -> Any: ...

    def update_records(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[Any]: ...


class GraphReader(Protocol):
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
        """Count what was done: a step that failed counts as `fail`, not as its action."""
        for name, count in plan.counts().items():
            self.counts[name] += count
        self.steps.extend(plan.steps)
        actions = {step.event_id: step.action for step in plan.steps}
        for outcome in outcomes:
            if outcome.status == "Failed":
                self.failures.append((outcome.event_id, outcome.error or "unknown error"))
                action = actions.get(outcome.event_id, Action.FAIL)
                if action != Action.FAIL:
                    self.counts[action.value] -= 1
                    self.counts[Action.FAIL.value] += 1


@dataclass
class ResponseReport:
    meetings_checked: int = 0
    meetings_changed: int = 0
    relations_written: int = 0
    writeback_errors: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class AvailabilityReport:
    users: int = 0
    written: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


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
        workers: int = 16,
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
        relation_since = lq.get_watermark(self.engine, self.tenant.name, FEED_RELATION) or since
        relation_newest, touched = self._relation_changes(relation_since)
        for ids in chunks((i for i in touched if i not in seen), PAGE):
            rows = list(self.salesforce.query(q.events_by_id(ids, self._extra_fields())))
            self._process(rows, report, dry_run=dry_run)
        if deleted_ids:
            plan = plan_changes(
                (),
                deleted_ids,
                lq.ledger_views(self.engine, self.tenant.name, Source.SALESFORCE, deleted_ids),
                self._context(),
            )
            self._carry_out(plan, report, dry_run=dry_run, write_back=False)
        if not dry_run and not self.should_stop():
            self._set_watermark(FEED_EVENT, newest)
            self._set_watermark(FEED_RELATION, relation_newest)
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
        return report

    # ------------------------------------------------------------ responses

    def refresh_responses(self) -> ResponseReport:
        """Read attendee responses from Outlook; write changes to Salesforce."""
        report = ResponseReport()
        after_id = 0
        while not self.should_stop():
            records = lq.synced_records(
                self.engine, self.tenant.name, Source.SALESFORCE, after_id=after_id
            )
            if not records:
                break
            after_id = records[-1].id or after_id
            report.meetings_checked += len(records)
            answers = self.graph.get_events_batch(
                [(r.organizer_email, r.graph_event_id) for r in records],
                select=("attendees",),
            )
            changed: dict[str, dict[str, Any]] = {}
            for record, answer in zip(records, answers, strict=True):
                if answer.status != 200:
                    continue
                responses = em.attendee_responses(answer.body)
                if responses != record.responses:
                    self.scheduler.store_responses(record, responses)
                    changed[record.external_id] = responses
            report.meetings_changed += len(changed)
            if changed:
                self._write_responses(changed, report)
        return report

    def _write_responses(self, changed: dict[str, dict[str, Any]], report: ResponseReport) -> None:
        relations: list[dict[str, Any]] = []
        if self.tenant.salesforce.fields.event_relation_status:
            invitees = self._invitees_of(list(changed))
            for event_id, responses in changed.items():
                relations.extend(relation_updates(invitees.get(event_id, ()), responses))
        summaries = []
        if self.fields.event.responses_summary:
            summaries = [
                {
                    "attributes": {"type": "Event"},
                    "id": event_id,
                    self.fields.event.responses_summary: responses_summary(responses),
                }
                for event_id, responses in changed.items()
            ]
        report.relations_written += len(relations)
        report.writeback_errors.extend(self._send("EventRelation", relations))
        report.writeback_errors.extend(self._send("Event", summaries))

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
        )

    def _extra_fields(self) -> tuple[str, ...]:
        name = self.fields.event.outlook_event_id
        return (name,) if name else ()

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
        newest, ids = since, []
        for row in self.salesforce.query(q.changed_relations(since - OVERLAP)):
            ids.append(row["EventId"])
            stamp = parse_datetime(row.get("SystemModstamp"))
            if stamp and stamp > newest:
                newest = stamp
        return newest, list(dict.fromkeys(ids))

    def _invitees_of(self, event_ids: Sequence[str]) -> dict[str, Any]:
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for ids in chunks(event_ids, PAGE):
            for row in self.salesforce.query(q.relations_of(ids)):
                grouped[row["EventId"]].append(row)
        return {
            event_id: parse_event({"Id": event_id}, rows).invitees
            for event_id, rows in grouped.items()
        }

    def _parse_page(self, rows: Sequence[dict[str, Any]]) -> list[SalesforceEvent]:
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        ids = [r["Id"] for r in rows]
        for row in self.salesforce.query(q.relations_of(ids)) if ids else ():
            grouped[row["EventId"]].append(row)
        return [
            parse_event(
                r,
                grouped.get(r["Id"], ()),
                outlook_id_field=self.fields.event.outlook_event_id or None,
            )
            for r in rows
        ]

    def _process(
        self, rows: Sequence[dict[str, Any]], report: PassReport, *, dry_run: bool
    ) -> None:
        report.records_read += len(rows)
        events = self._parse_page(rows)
        ledger = lq.ledger_views(
            self.engine, self.tenant.name, Source.SALESFORCE, (e.id for e in events)
        )
        plan = plan_changes(events, (), ledger, self._context())
        self._carry_out(plan, report, dry_run=dry_run, write_back=True)

    def _carry_out(
        self, plan: Plan, report: PassReport, *, dry_run: bool, write_back: bool
    ) -> None:
        if dry_run:
            report.absorb(plan, ())
            return
        outcomes = self.executor.run(plan)
        report.absorb(plan, outcomes)
        if write_back:
            now = self.clock()
            records = [event_update(o, self.fields.event, now) for o in outcomes]
            report.writeback_errors.extend(
                self._send("Event", [r for r in records if has_fields(r)])
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
