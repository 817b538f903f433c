"""The reconcile planner (pure): Salesforce records + ledger -> a plan.

Every action carries a reason, so `syncd reconcile --dry-run` can print the
plan and an operator can see why each record is (or is not) touched.
No I/O: the executor carries the plan out through the scheduler core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from syncd import timezones
from syncd.core import event_mapping as em
from syncd.core.outlook_changes import GONE_IN_OUTLOOK
from syncd.domain import ErrorCode, LedgerView, Meeting, MeetingStatus
from syncd.sync.salesforce_event import Invalid, SalesforceEvent, shown, to_meeting

__all__ = ["Action", "LedgerView", "Plan", "PlanContext", "Step", "plan_changes", "plan_event"]


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    CANCEL = "cancel"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Step:
    action: Action
    salesforce_id: str
    reason: str
    meeting: Meeting | None = None
    organizer_email: str | None = None
    #: A create of a meeting Salesforce says exists (see `plan_event`).
    recover: bool = False
    #: A FAIL step's unexpected error (a bug in syncd, see `plan_fault`): the executor
    #: logs its traceback and records it as an internal error.
    fault: Exception | None = field(default=None, compare=False, repr=False)


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)

    def add(self, step: Step) -> None:
        self.steps.append(step)

    def of(self, action: Action) -> list[Step]:
        return [s for s in self.steps if s.action == action]

    def counts(self) -> dict[str, int]:
        totals = {a.value: 0 for a in Action}
        for step in self.steps:
            totals[step.action.value] += 1
        return totals


@dataclass(frozen=True)
class PlanContext:
    """Tenant rules the planner applies."""

    in_org: Callable[[str], bool]
    teams_keyword: str
    window_start: datetime
    window_end: datetime
    now: datetime
    #: The organizer's mailbox time zone (for all-day meetings), None when unknown.
    zone_of: Callable[[str], str | None] | None = None


def with_organizer_zone(meeting: Meeting, ctx: PlanContext) -> Meeting | Invalid:
    """An all-day meeting lands on its dates in the organizer's mailbox time zone; a zone
    neither Windows nor CLDR knows makes it Invalid, with the zone named."""
    if not meeting.is_all_day or ctx.zone_of is None or meeting.time_zone is not None:
        return meeting
    zone = ctx.zone_of(meeting.organizer_email)
    if zone and timezones.find(zone) is None:
        source = f"the mailbox time zone of {meeting.organizer_email}"
        return Invalid(meeting.external_id, timezones.UnknownTimeZone(zone, source=source).message)
    return replace(meeting, time_zone=zone) if zone else meeting


def plan_event(event: SalesforceEvent, row: LedgerView | None, ctx: PlanContext) -> Step:
    """Decide what to do with one parent Event."""
    mapped = to_meeting(event, in_org=ctx.in_org, teams_keyword=ctx.teams_keyword)
    if not isinstance(mapped, Invalid):
        mapped = with_organizer_zone(mapped, ctx)
    if isinstance(mapped, Invalid):
        if (
            row is not None
            and row.status == MeetingStatus.FAILED
            and (row.error_message == mapped.reason)
        ):
            return Step(Action.SKIP, event.id, f"still invalid: {mapped.reason}")
        return Step(Action.FAIL, event.id, mapped.reason)
    live = row is not None and row.live
    if row is not None and not live and row.error_code == GONE_IN_OUTLOOK:
        # Deleted or cancelled in Outlook: made again only once the Event changes in
        # Salesforce (the content hash of the closed row is the Event as last synced).
        same = row.organizer_email.casefold() == mapped.organizer_email.casefold()
        content = em.event_content(mapped, teams_keyword=ctx.teams_keyword)
        if same and row.content_hash == em.content_hash(content):
            return Step(
                Action.SKIP,
                event.id,
                "deleted in Outlook; edit the Event in Salesforce to schedule it again",
            )
    if not live and not (ctx.window_start <= mapped.start <= ctx.window_end):
        return Step(Action.SKIP, event.id, "outside the sync window")
    if not live and row is None and event.graph_event_id:
        # The Event carries the Outlook id syncd wrote back, yet the ledger has no row:
        # the ledger was lost (or restored from an older copy). The core looks for the
        # event stamped with the Event's key before it creates anything.
        return Step(
            Action.CREATE,
            event.id,
            "not in the ledger, but Salesforce holds its Outlook event: recovering it",
            mapped,
            recover=True,
        )
    if not live:
        return Step(Action.CREATE, event.id, "new in Salesforce", mapped)
    assert row is not None
    # The content hash leaves the organizer out (Graph cannot change it in place), so
    # a new owner alone must count as a change, or the meeting stays with the old one.
    same_owner = row.organizer_email.casefold() == mapped.organizer_email.casefold()
    content = em.event_content(mapped, teams_keyword=ctx.teams_keyword)
    unchanged = same_owner and row.content_hash == em.content_hash(content)
    # A meeting an internal error hit while it stayed right in Outlook is planned again
    # (after its back-off), so the failure is cleared and written back as Synced.
    faulted = row.error_code == ErrorCode.INTERNAL_ERROR
    if unchanged and row.status == MeetingStatus.SYNCED and not faulted:
        return Step(Action.SKIP, event.id, "unchanged since the last sync")
    # A failed update leaves the hash at what was last sent, so the Event looks changed
    # until the PATCH lands; what it asked for (`target`) tells a retry from a new edit.
    tried = same_owner and not unchanged and row.target == content
    waiting = row.next_attempt_at is not None and row.next_attempt_at > ctx.now
    if waiting and (unchanged or tried):
        assert row.next_attempt_at is not None
        return Step(
            Action.SKIP, event.id, f"failed before; next attempt at {row.next_attempt_at:%H:%M:%S}"
        )
    retrying = unchanged or tried
    reason = "retrying an earlier failure" if retrying else "changed in Salesforce"
    if not same_owner:
        reason = "the owner changed: the meeting moves to the new organizer"
    return Step(Action.UPDATE, event.id, reason, mapped)


def fault_reason(doing: str, error: Exception) -> str:
    """Why a record failed on an unexpected error, short enough for Sync_Error__c."""
    return (
        f"syncd failed to {doing} this Event ({shown(f'{type(error).__name__}: {error}')}); "
        "an internal error, retried with back-off (syncd's log has the traceback)"
    )


def plan_fault(
    salesforce_id: str, doing: str, error: Exception, row: LedgerView | None, ctx: PlanContext
) -> Step:
    """The step for a record that an unexpected error (a bug, not bad data) kept syncd
    from reading or planning: it fails alone, and waits out its back-off before the
    next try, like any failure (its own write-back re-reads it within minutes)."""
    waiting = row is not None and row.error_code == ErrorCode.INTERNAL_ERROR
    if waiting and row is not None and row.next_attempt_at and row.next_attempt_at > ctx.now:
        return Step(
            Action.SKIP,
            salesforce_id,
            f"failed before; next attempt at {row.next_attempt_at:%H:%M:%S}",
        )
    return Step(Action.FAIL, salesforce_id, fault_reason(doing, error), fault=error)


def plan_changes(
    events: Iterable[SalesforceEvent],
    deleted_ids: Iterable[str],
    ledger: Mapping[str, LedgerView],
    ctx: PlanContext,
) -> Plan:
    """Plan an incremental poll: changed events and deletions.

    An unexpected error while planning one event fails that event alone (`plan_fault`).
    """
    plan = Plan()
    seen: set[str] = set()
    for event in events:
        seen.add(event.id)
        row = ledger.get(event.id)
        try:
            step = plan_event(event, row, ctx)
        except Exception as error:  # one record's bug must not stop the page
            step = plan_fault(event.id, "map", error, row, ctx)
        plan.add(step)
    for salesforce_id in deleted_ids:
        if salesforce_id in seen:
            continue
        seen.add(salesforce_id)
        row = ledger.get(salesforce_id)
        if row is not None and row.live:
            plan.add(
                Step(
                    Action.CANCEL,
                    salesforce_id,
                    "deleted in Salesforce",
                    organizer_email=row.organizer_email,
                )
            )
    return plan


def plan_full_resync(
    events: Iterable[SalesforceEvent],
    ledger: Mapping[str, LedgerView],
    ctx: PlanContext,
) -> Plan:
    """Plan a full pass: every event in scope, and cancels for meetings no longer there.

    Used at first start and when deletions may have been missed (the getDeleted
    window passed the watermark).
    """
    plan = plan_changes(events, (), ledger, ctx)
    present = {step.salesforce_id for step in plan.steps}
    for salesforce_id, row in ledger.items():
        if salesforce_id in present or not row.live or row.start is None:
            continue
        if ctx.window_start <= row.start <= ctx.window_end:
            plan.add(
                Step(
                    Action.CANCEL,
                    salesforce_id,
                    "no longer in Salesforce (or out of scope)",
                    organizer_email=row.organizer_email,
                )
            )
    return plan
