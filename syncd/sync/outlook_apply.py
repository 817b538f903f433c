"""Changes seen in Outlook carried out by the tenant's policy (syncd.sync.outlook_policy):
the Salesforce writes first (Event fields and sync status in sObject Collections of 200,
deletions one by one), then the core's move with its history entries.

Salesforce is written first: a run killed between the two leaves the ledger behind
Outlook, so the next full read finds the change again (or the poll finds the Event
changed and PATCHes Outlook to the values it already holds); the other order would leave
an Event that never learns the change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from syncd.config import TenantConfig
from syncd.core import event_mapping as em
from syncd.core.outlook_changes import Note
from syncd.core.records import request_to_meeting
from syncd.core.scheduler import Scheduler
from syncd.domain import HistoryAction, HistorySide, Meeting, SyncdError, format_gmt
from syncd.ledger.models import MeetingRecord
from syncd.sync.outlook_classify import OutlookChange
from syncd.sync.outlook_policy import EVENT_FIELDS, Decision, Move, SalesforceSide, decide
from syncd.sync.plan import PlanContext, with_organizer_zone
from syncd.sync.reader import PAGE, EventReader, chunks
from syncd.sync.salesforce_event import Invalid, parse_datetime, to_meeting
from syncd.sync.salesforce_writer import SalesforceWriter
from syncd.sync.series_shape import SERIES_KEY
from syncd.sync.swept_events import Copy

if TYPE_CHECKING:
    from syncd.sync.outlook_watch import SweepReport

log = logging.getLogger(__name__)

UPDATE_CALL = "update Event (sObject Collections)"
#: The mapped field each written Event field comes from (history shows its old value).
_MAPPED = {field: name for name, field in EVENT_FIELDS.items()}
DELETE_CALL = "delete Event (sObject Rows)"


def _shown(meeting: Meeting) -> dict[str, Any]:
    return {
        "subject": meeting.subject,
        "location": meeting.location,
        "body": meeting.body,
        "start": format_gmt(meeting.start),
        "end": format_gmt(meeting.end),
        "isAllDay": meeting.is_all_day,
    }


def _with(meeting: Meeting, values: Mapping[str, Any], ctx: PlanContext) -> Meeting:
    """`meeting` with Outlook's values; switched between all-day and timed, it takes the
    zone the planner gives such a meeting (so the Event, read again, maps to it)."""
    names = {"subject": "subject", "location": "location", "body": "body"}
    changes: dict[str, Any] = {names[k]: v for k, v in values.items() if k in names}
    if "start" in values:
        changes["start"] = values["start"]
    if "end" in values:
        changes["end"] = values["end"]
    switched = "isAllDay" in values and bool(values["isAllDay"]) != meeting.is_all_day
    if switched:
        changes.update(is_all_day=bool(values["isAllDay"]), time_zone=None)
    changed = replace(meeting, **changes)
    if not switched:
        return changed
    zoned = with_organizer_zone(changed, ctx)
    return changed if isinstance(zoned, Invalid) else zoned


class OutlookApply:
    """Acts on the changes of a sweep's mailboxes, all together: one read and one write
    of the Events per 200 changes, whichever mailboxes they come from."""

    def __init__(
        self,
        tenant: TenantConfig,
        core: Scheduler,
        reader: EventReader,
        writer: SalesforceWriter,
        *,
        context: Callable[[], PlanContext],
    ) -> None:
        self.tenant = tenant
        self.core = core
        self.reader = reader
        self.writer = writer
        self.context = context

    def run(
        self, drifted: Sequence[tuple[MeetingRecord, OutlookChange]], report: SweepReport
    ) -> set[str]:
        """Decide and carry out; the meetings (external ids) whose change is left for the
        next sweep (a write of their Event refused)."""
        policy = self.tenant.policy
        # The Events are read for the conflict rule: of deletions always (an Event edited
        # since makes the meeting again), of other changes only under two_way.
        two_way = policy.outlook_changes == "two_way"
        sides = self._salesforce([(r, c) for r, c in drifted if c.gone or two_way])
        decisions: list[tuple[MeetingRecord, OutlookChange, Decision]] = []
        for row, change in drifted:
            side = sides.get(row.external_id)
            decision = decide(
                change,
                policy=policy.outlook_changes,
                deletion=policy.outlook_deletion,
                salesforce=side[0] if side else None,
                all_day=bool(row.request.get("isAllDay")),
                occurrence=bool(row.request.get(SERIES_KEY)),
            )
            decisions.append((row, change, decision))
        refused = self._write_events(decisions, report)
        left: set[str] = set()
        for row, change, decision in decisions:
            if row.external_id in refused and decision.move is not Move.GONE:
                left.add(row.external_id)
                continue
            try:
                self._move(row, change, decision, sides.get(row.external_id), report)
            except SyncdError as error:
                # The core recorded the failure (history, back-off); the meeting's
                # Outlook write is finished by the core's retry, not the sweep.
                log.warning("%s: %s (%s)", row.external_id, error.message, error.code)
                report.failed.append((row.external_id, f"{error.code}: {error.message}"))
        return left

    # ----------------------------------------------------------- Salesforce

    def _salesforce(
        self, drifted: Sequence[tuple[MeetingRecord, OutlookChange]]
    ) -> dict[str, tuple[SalesforceSide, Meeting | None]]:
        """The Events of changed single meetings as Salesforce holds them now (one query
        per 200): whether each changed since the last sync, and its meeting."""
        ids = [row.external_id for row, _ in drifted if not row.request.get(SERIES_KEY)]
        ledger = {row.external_id: row for row, _ in drifted}
        sides: dict[str, tuple[SalesforceSide, Meeting | None]] = {}
        ctx = self.context()
        for page in chunks(ids, PAGE):
            rows = self.reader.events_by_id(page)
            events, _ = self.reader.parse_rows(rows)
            stamps = {str(r["Id"]): parse_datetime(r.get("SystemModstamp")) for r in rows}
            for event in events:
                mapped = to_meeting(event, in_org=ctx.in_org, teams_keyword=ctx.teams_keyword)
                if not isinstance(mapped, Invalid):
                    mapped = with_organizer_zone(mapped, ctx)
                if isinstance(mapped, Invalid):
                    continue
                content = em.event_content(mapped, teams_keyword=ctx.teams_keyword)
                changed = em.content_hash(content) != ledger[event.id].content_hash
                side = SalesforceSide(changed, stamps.get(event.id), _shown(mapped))
                sides[event.id] = (side, mapped)
        return sides

    def _write_events(
        self,
        decisions: Sequence[tuple[MeetingRecord, OutlookChange, Decision]],
        report: SweepReport,
    ) -> set[str]:
        """Write the Events' fields and statuses, delete those to delete; the ids refused."""
        fields = self.tenant.salesforce.fields.event
        records = []
        for row, _, decision in decisions:
            record: dict[str, Any] = {"attributes": {"type": "Event"}, "id": row.external_id}
            record.update(decision.event_fields)
            if decision.status is not None:
                if fields.sync_status:
                    record[fields.sync_status] = decision.status
                if fields.sync_error:
                    record[fields.sync_error] = (decision.error or "")[:255] or None
            if len(record) > 2:
                records.append(record)
        refused: dict[str, str] = {}
        for page in chunks(records, PAGE):
            refused.update(self.writer.send("Event", page))
        report.writeback_errors.extend(refused.items())
        for row, _, decision in decisions:
            if not decision.delete_event:
                continue
            try:
                self.writer.salesforce.delete_record("Event", row.external_id)
            except SyncdError as error:
                refused[row.external_id] = error.message
                report.writeback_errors.append((row.external_id, error.message))
        return set(refused)

    # ----------------------------------------------------------------- core

    def _notes(self, change: OutlookChange, decision: Decision, row: MeetingRecord) -> list[Note]:
        notes = [
            Note(
                HistoryAction.OBSERVED,
                HistorySide.OUTLOOK,
                dict(change.fields) or {"event": ["in Outlook", ", ".join(sorted(change.kinds))]},
                decision.reason,
            )
        ]
        if decision.move is Move.RESTORE:
            notes.append(
                Note(
                    HistoryAction.RESTORED,
                    HistorySide.OUTLOOK,
                    {name: [new, old] for name, (old, new) in change.fields.items()},
                    "Outlook put back to what Salesforce holds (policy salesforce_wins)",
                )
            )
        if decision.winner is not None:
            notes.append(
                Note(
                    HistoryAction.CONFLICT,
                    HistorySide.LEDGER,
                    dict(decision.lost),
                    f"changed on both sides since the last sync: {decision.winner} changed "
                    "last and wins; the other side's values are kept here",
                )
            )
        if decision.event_fields:
            old = change.fields
            notes.append(
                Note(
                    HistoryAction.UPDATED,
                    HistorySide.SALESFORCE,
                    {
                        field: [(old.get(_MAPPED.get(field, "")) or [None])[0], value]
                        for field, value in decision.event_fields.items()
                    },
                    "the Event takes the change made in Outlook",
                    salesforce_call=UPDATE_CALL,
                )
            )
        if decision.status is not None and decision.status != "Synced":
            notes.append(
                Note(
                    HistoryAction.MARKED,
                    HistorySide.SALESFORCE,
                    {"sync_status": [None, decision.status]},
                    decision.error or "",
                    salesforce_call=UPDATE_CALL,
                )
            )
        if decision.delete_event:
            notes.append(
                Note(
                    HistoryAction.DELETED,
                    HistorySide.SALESFORCE,
                    {"Event": [row.external_id, None]},
                    "the meeting was deleted in Outlook: its Event is deleted too",
                    salesforce_call=DELETE_CALL,
                )
            )
        return notes

    def _move(
        self,
        row: MeetingRecord,
        change: OutlookChange,
        decision: Decision,
        side: tuple[SalesforceSide, Meeting | None] | None,
        report: SweepReport,
    ) -> None:
        changes = self.core.outlook_changes
        notes = self._notes(change, decision, row)
        correlation = f"outlook-{row.external_id}"
        # Each write holds only while the row still points at the event judged.
        event = (row.organizer_email, row.graph_event_id or "")
        if decision.move is Move.GONE:
            if changes.gone(row.external_id, None, notes, event=event) and not decision.again:
                report.handled.add(row.external_id)
                report.marked += int(decision.status is not None)
                report.events_deleted += int(decision.delete_event)
            return
        observed = change.observed or {}
        if decision.move is Move.RECORD:
            if changes.observe(
                row.external_id, row.sent, observed, change.change_key, notes, event=event
            ):
                report.marked += 1
            return
        if decision.move is Move.RESTORE:
            restored = changes.restore(
                row.external_id,
                row.sent,
                observed,
                change.change_key,
                notes,
                stamp=decision.stamp,
                correlation_id=correlation,
                event=event,
            )
            # Not settled for a poll: an edit of the Event still goes to Outlook after.
            report.outlook_restored += int(restored is not None)
            return
        base = side[1] if decision.base == "salesforce" and side is not None else None
        if base is None:
            base = request_to_meeting(row.external_id, row.request)
        desired = _with(base, decision.values, self.context())
        followed = changes.follow(
            row.external_id,
            row.sent,
            observed,
            desired,
            change.change_key,
            notes,
            correlation_id=correlation,
            event=event,
        )
        if followed is not None:
            report.conflicts += int(decision.winner is not None)
            report.salesforce_written += int(bool(decision.event_fields))
            report.handled.add(row.external_id)
            if side is not None and side[1] is not None:
                keyword = self.tenant.policy.teams_keyword
                content = em.event_content(side[1], teams_keyword=keyword)
                read = Copy(side[0].modified_at, em.content_hash(content))
                report.events_read[row.external_id] = read
