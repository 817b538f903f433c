"""The executor of a tenant whose mailboxes are split into shards (syncd.ledger.shards).

The replica holding the tenant's lease plans every Event. A create or update for a
mailbox it `owns` runs at once (the daemon: every mailbox while it holds every shard,
none otherwise); any other is only *claimed*: the core records its intent in the ledger,
exactly as it does before any Graph write (syncd.core.deferred_writes; a page's new
meetings in groups, one transaction each, as Intent.QUEUED), and the shard's
holder finishes it (syncd.sync.shard_drain) through the core's resume and writes
the result back to Salesforce.

Run at once, wherever the shard is held, are the steps that are not a single
mailbox's plain write: cancels (their write-back depends on whether the Event still
exists, which only the pass knows), moves to another organizer (two mailboxes), and
meetings whose earlier write is still pending with other content (the core finishes
that first); one pending with this very content is left to its drain. They stay
exactly once all the same: every operation on a meeting holds its lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from syncd.core import event_mapping as em
from syncd.core.deferred_writes import claiming
from syncd.core.scheduler import Scheduler
from syncd.domain import MeetingStatus, Source, SyncdError, WritebackStatus
from syncd.ledger.models import MeetingRecord
from syncd.sync.executor import Executor
from syncd.sync.plan import Action, Plan, Step
from syncd.sync.writeback import Outcome

log = logging.getLogger(__name__)

_CLAIMABLE = frozenset({Action.CREATE, Action.UPDATE})


class InFlight:
    """External ids whose step runs in this process now: a shard drain leaves them
    alone (their intent is in the ledger, but not for it to finish)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: set[str] = set()

    def add(self, external_id: str) -> None:
        with self._lock:
            self._ids.add(external_id)

    def discard(self, external_id: str) -> None:
        with self._lock:
            self._ids.discard(external_id)

    def __contains__(self, external_id: object) -> bool:
        with self._lock:
            return external_id in self._ids


class ShardedExecutor(Executor):
    """An Executor that claims the steps of mailboxes whose shard it does not hold."""

    def __init__(
        self,
        scheduler: Scheduler,
        *,
        owns: Callable[[str], bool],
        in_flight: InFlight,
        workers: int = 16,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        """`owns(organizer_email)`: whether this replica holds that mailbox's shard."""
        super().__init__(scheduler, workers=workers, should_stop=should_stop)
        self.owns = owns
        self.in_flight = in_flight
        self._claims = claiming(scheduler)
        self._keyword = scheduler.tenant.policy.teams_keyword
        self._claimed = 0
        self._count_lock = threading.Lock()

    def run(self, plan: Plan, *, on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        outcomes = super().run(plan, on_done=on_done)
        with self._count_lock:
            claimed, self._claimed = self._claimed, 0
        if claimed:
            log.info("claimed %d writes for the holders of their mailboxes' shards", claimed)
        return outcomes

    def _create_group(self, steps: Sequence[Step]) -> list[Outcome | None]:
        """The creates of mailboxes held here are made at once, the others claimed
        together (one transaction, Intent.QUEUED) for their shards' drains."""
        if self.should_stop():
            return [None] * len(steps)
        held = [s.meeting is not None and self.owns(s.meeting.organizer_email) for s in steps]
        mine = [position for position, here in enumerate(held) if here]
        others = [position for position, here in enumerate(held) if not here]
        outcomes: list[Outcome | None] = [None] * len(steps)
        if mine:
            made = super()._create_group([steps[p] for p in mine])
            for position, outcome in zip(mine, made, strict=True):
                outcomes[position] = outcome
        if others:
            for position, outcome in zip(
                others, self._queue([steps[p] for p in others]), strict=True
            ):
                outcomes[position] = outcome
        return outcomes

    def _queue(self, steps: Sequence[Step]) -> list[Outcome | None]:
        return self._group(steps, queue=True)

    def _queued(self, step: Step) -> None:
        with self._count_lock:
            self._claimed += 1

    def _guarded(self, step: Step) -> Outcome | None:
        if self.should_stop():
            return None
        if self._claimed_already(step):
            # Read again (our own write-back bumped the Event) before its drain came by:
            # the claim holds this content, and the drain writes it back.
            return None
        if self._claimable(step):
            try:
                record = self._claim(step)
            except SyncdError:
                pass  # run at once below: it fails the same way and records why
            else:
                if record.intent is None:
                    # Outlook already held this content: only the ledger was behind.
                    return Outcome(
                        step.salesforce_id,
                        WritebackStatus.SYNCED,
                        graph_event_id=record.graph_event_id,
                        join_url=record.join_url,
                    )
                with self._count_lock:
                    self._claimed += 1
                # No outcome: the shard's holder writes the result back to Salesforce.
                return None
        self.in_flight.add(step.salesforce_id)
        try:
            return super()._guarded(step)
        finally:
            self.in_flight.discard(step.salesforce_id)

    def _claimed_already(self, step: Step) -> bool:
        """A claim (or an unfinished write) of exactly this content waits for its shard's
        drain: writing it here too would only make the two queue for the meeting."""
        if step.action not in _CLAIMABLE or step.meeting is None or step.fault is not None:
            return False
        if self.owns(step.meeting.organizer_email):
            return False
        record = self.scheduler.record_of(step.salesforce_id, source=Source.SALESFORCE)
        if record is None or record.intent is None or record.last_error_code is not None:
            return False
        content = em.event_content(step.meeting, teams_keyword=self._keyword)
        same_owner = record.organizer_email.casefold() == step.meeting.organizer_email.casefold()
        return same_owner and record.target == content

    def _claimable(self, step: Step) -> bool:
        if step.action not in _CLAIMABLE or step.meeting is None or step.fault is not None:
            return False
        organizer = step.meeting.organizer_email
        if self.owns(organizer):
            return False
        record = self.scheduler.record_of(step.salesforce_id, source=Source.SALESFORCE)
        if record is None:
            return True
        if record.intent is not None:
            return False
        moved = (
            record.graph_event_id is not None
            and record.status != MeetingStatus.CANCELLED
            and record.organizer_email.casefold() != organizer.casefold()
        )
        return not moved

    def _claim(self, step: Step) -> MeetingRecord:
        assert step.meeting is not None
        return self._claims.upsert(
            step.meeting,
            source=Source.SALESFORCE,
            correlation_id=f"sf-{step.salesforce_id}",
            recover=step.recover,
        )
