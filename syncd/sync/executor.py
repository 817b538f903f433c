"""Carries a plan out through the scheduler core, several meetings at once.

Per-mailbox politeness (at most 4 requests in flight, Retry-After) lives in the
Graph client, so the executor may run many steps in parallel safely. A step fails
alone, whatever the error (a bug included): its reason goes to the ledger and to the
write-back, and the other steps of the page carry on.

The page's creates go to the core in groups (Scheduler.batch: one claim, one $batch,
one completion per group, grouped so that no mailbox goes over its share); updates,
cancels, failures and creates of meetings Salesforce says exist go one by one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from syncd.core import event_mapping as em
from syncd.core.scheduler import Scheduler
from syncd.domain import ErrorCode, Source, SyncdError, WritebackStatus
from syncd.ledger.models import MeetingRecord
from syncd.logs import graph_request_id, log_context
from syncd.sync.plan import Action, Plan, Step, fault_reason
from syncd.sync.writeback import Outcome

log = logging.getLogger(__name__)


class Executor:
    """Runs CREATE / UPDATE / CANCEL / FAIL steps; SKIP steps cost nothing."""

    def __init__(
        self,
        scheduler: Scheduler,
        *,
        workers: int = 16,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.scheduler = scheduler
        self.workers = workers
        self.should_stop = should_stop
        self._pool: tuple[int, ThreadPoolExecutor] | None = None
        self._guard = threading.Lock()

    def run(self, plan: Plan, *, on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        """Execute every actionable step; results in plan order (skips omitted)."""
        steps = [s for s in plan.steps if s.action != Action.SKIP]
        if not steps:
            return []
        results: list[Outcome | None] = [None] * len(steps)
        units = self._units(steps)
        done = self._threads().map(lambda unit: self._unit(unit, steps), units)
        for (_, positions), answered in zip(units, done, strict=True):
            for position, outcome in zip(positions, answered, strict=True):
                results[position] = outcome
        outcomes = [o for o in results if o is not None]
        if on_done:
            for outcome in outcomes:
                on_done(outcome)
        return outcomes

    def _threads(self) -> ThreadPoolExecutor:
        """The pool of `workers` threads, kept between pages (starting threads for every
        page cost more than the page's own bookkeeping); made anew when `workers` changes."""
        with self._guard:
            if self._pool is None or self._pool[0] != self.workers:
                if self._pool is not None:
                    self._pool[1].shutdown(wait=False)
                self._pool = (
                    self.workers,
                    ThreadPoolExecutor(self.workers, thread_name_prefix="syncd-exec"),
                )
            return self._pool[1]

    def _units(self, steps: Sequence[Step]) -> list[tuple[bool, list[int]]]:
        """(batched, positions): the groups of creates first, in the core's order, then
        every other step on its own."""
        creates = [
            position
            for position, step in enumerate(steps)
            if step.action == Action.CREATE and not step.recover and step.meeting is not None
        ]
        meetings = [steps[position].meeting for position in creates]
        groups = self.scheduler.batch.groups(meetings) if creates else []  # type: ignore[arg-type]
        batched = set(creates)
        return [(True, [creates[i] for i in group]) for group in groups] + [
            (False, [position]) for position in range(len(steps)) if position not in batched
        ]

    def _unit(self, unit: tuple[bool, list[int]], steps: Sequence[Step]) -> list[Outcome | None]:
        batched, positions = unit
        if not batched:
            return [self._guarded(steps[positions[0]])]
        return self._create_group([steps[position] for position in positions])

    def _create_group(self, steps: Sequence[Step]) -> list[Outcome | None]:
        """Create the group's meetings together; each outcome is its step's own."""
        if self.should_stop():
            return [None] * len(steps)
        return self._group(steps, queue=False)

    def _group(self, steps: Sequence[Step], *, queue: bool) -> list[Outcome | None]:
        """Create the group's meetings together, or with `queue` only claim them for
        another replica to send (syncd.sync.sharded_executor); a queued step's outcome
        is None (its sender writes it back)."""
        scheduler = self.scheduler
        items = [(step.meeting, f"sf-{step.salesforce_id}") for step in steps]
        try:
            with log_context(tenant_name=scheduler.tenant.name):
                created = scheduler.batch.create(items, source=Source.SALESFORCE, queue=queue)  # type: ignore[arg-type]
        except Exception as unexpected:  # a group's trouble must not fail its records
            log.warning(
                "%s %d meetings together failed (%s: %s); one by one instead",
                "claiming" if queue else "creating",
                len(steps),
                type(unexpected).__name__,
                unexpected,
                exc_info=not isinstance(unexpected, SyncdError),
            )
            return [self._guarded(step) for step in steps]
        outcomes: list[Outcome | None] = []
        for step, result in zip(steps, created, strict=True):
            if result is None:  # no longer a plain create: the one-by-one path decides
                outcomes.append(self._guarded(step))
                continue
            with log_context(
                tenant_name=scheduler.tenant.name,
                correlation=f"sf-{step.salesforce_id}",
                salesforce_id=step.salesforce_id,
            ):
                if isinstance(result, SyncdError):
                    if result.graph_request_id:
                        graph_request_id.set(result.graph_request_id)
                    outcomes.append(self._failed(step, result, 0))
                elif queue:
                    self._queued(step)
                    outcomes.append(None)
                else:
                    outcomes.append(self._synced(step, result))
                    log.info("%s event %s: %s", step.action.value, step.salesforce_id, step.reason)
        return outcomes

    def _queued(self, step: Step) -> None:
        """A create claimed for another replica to send (only a sharded executor queues)."""

    def _failed(self, step: Step, error: SyncdError, earlier: int) -> Outcome:
        """The step failed with `error`: logged, kept in the ledger, written back."""
        log.warning("event %s failed: %s (%s)", step.salesforce_id, error.message, error.code)
        self._remember(step, error, earlier)
        return Outcome(
            step.salesforce_id, WritebackStatus.FAILED, error=f"{error.code}: {error.message}"
        )

    def _guarded(self, step: Step) -> Outcome | None:
        if self.should_stop():
            return None
        tenant, salesforce_id = self.scheduler.tenant.name, step.salesforce_id
        with log_context(
            tenant_name=tenant, correlation=f"sf-{salesforce_id}", salesforce_id=salesforce_id
        ):
            earlier = self._failures_so_far(step)
            try:
                outcome = self._execute(step)
            except SyncdError as error:
                return self._failed(step, error, earlier)
            except Exception as unexpected:  # one record's bug stays its own
                internal = internal_error(step, unexpected)
                # The traceback is what a maintainer needs; it names code, not credentials.
                log.error(
                    "event %s failed: %s", step.salesforce_id, internal.message, exc_info=unexpected
                )
                self._remember(step, internal, earlier)
                return Outcome(
                    step.salesforce_id,
                    WritebackStatus.FAILED,
                    error=f"{internal.code}: {internal.message}",
                )
            # A fault was logged already, at ERROR with its traceback (`_execute`).
            if outcome.status == WritebackStatus.FAILED and step.fault is None:
                log.warning("event %s failed: %s", step.salesforce_id, outcome.error)
            else:
                log.info("%s event %s: %s", step.action.value, step.salesforce_id, step.reason)
            return outcome

    def _failures_so_far(self, step: Step) -> int:
        """How often the record failed before this step (retries are planned as UPDATE)."""
        if step.action != Action.UPDATE:
            return 0
        record = self.scheduler.record_of(step.salesforce_id, source=Source.SALESFORCE)
        return record.attempts if record is not None and record.last_error_code else 0

    def _remember(self, step: Step, error: SyncdError, earlier: int) -> None:
        """Make sure the failure is in the ledger, so the record is retried with back-off
        (the core records Graph failures itself, but forgets a create that never happened).

        A retried create restarts the core's count (it claims the create afresh, or drops
        it when Graph refuses it for good), so the count is carried on from `earlier`:
        without that every retry waited the first back-off again, not a growing one."""
        record = self.scheduler.record_of(step.salesforce_id, source=Source.SALESFORCE)
        if (
            record is None
            or record.last_error_code != error.code.value
            or record.attempts <= earlier
        ):
            self.scheduler.record_failure(
                step.salesforce_id,
                error,
                Source.SALESFORCE,
                attempted=step.meeting,
                earlier_attempts=earlier,
            )

    def _execute(self, step: Step) -> Outcome:
        scheduler = self.scheduler
        correlation = f"sf-{step.salesforce_id}"
        if step.action == Action.FAIL and step.fault is not None:
            # Planned as a failure because reading or mapping the record hit a bug.
            error = internal_error(step, step.fault)
            log.error("event %s failed: %s", step.salesforce_id, error.message, exc_info=step.fault)
            scheduler.record_failure(step.salesforce_id, error, Source.SALESFORCE)
            return Outcome(
                step.salesforce_id, WritebackStatus.FAILED, error=f"{error.code}: {error.message}"
            )
        if step.action == Action.FAIL:
            scheduler.record_invalid(step.salesforce_id, step.reason, source=Source.SALESFORCE)
            return Outcome(step.salesforce_id, WritebackStatus.FAILED, error=step.reason)
        if step.action == Action.CANCEL:
            assert step.organizer_email is not None
            try:
                scheduler.cancel(
                    step.salesforce_id,
                    step.organizer_email,
                    source=Source.SALESFORCE,
                    correlation_id=correlation,
                )
            except SyncdError as error:
                if error.code != ErrorCode.MEETING_NOT_FOUND:
                    raise
            return Outcome(step.salesforce_id, WritebackStatus.CANCELLED)
        assert step.meeting is not None
        record = scheduler.upsert(
            step.meeting, source=Source.SALESFORCE, correlation_id=correlation, recover=step.recover
        )
        return self._synced(step, record)

    def _synced(self, step: Step, record: MeetingRecord) -> Outcome:
        """The meeting is in Outlook as the ledger row `record` says."""
        assert step.meeting is not None
        keyword = self.scheduler.tenant.policy.teams_keyword
        if record.join_url and not em.is_teams_location(step.meeting.location, keyword):
            # What Outlook shows, and so what the ledger and the write-back keep.
            log.info(
                "event %s stays a Teams meeting with its join link although its location no "
                "longer says %r: Outlook keeps a meeting online once it is "
                "(https://learn.microsoft.com/graph/api/resources/event#properties)",
                step.salesforce_id,
                keyword,
            )
        return Outcome(
            step.salesforce_id,
            WritebackStatus.SYNCED,
            graph_event_id=record.graph_event_id,
            join_url=record.join_url,
        )


def internal_error(step: Step, error: Exception) -> SyncdError:
    """An unexpected error as the record's failure: an error syncd raises keeps its code,
    anything else (a bug: KeyError, ValueError, AssertionError, ...) is an InternalError
    whose message says what failed, so the ledger and Sync_Error__c show it."""
    if isinstance(error, SyncdError):
        return error
    if step.fault is error:
        return SyncdError(ErrorCode.INTERNAL_ERROR, step.reason)
    doing = "cancel the meeting of" if step.action == Action.CANCEL else "write the meeting of"
    return SyncdError(ErrorCode.INTERNAL_ERROR, fault_reason(doing, error))
