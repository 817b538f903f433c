"""What one sync pass did (poll, full resync, retry): counts per action, failures with
their reasons, and each step's action and reason for `syncd reconcile --dry-run`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from syncd.domain import WritebackStatus
from syncd.sync.plan import Action, Plan, Step
from syncd.sync.writeback import Outcome


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
        done = {outcome.salesforce_id: outcome for outcome in outcomes}
        for step in plan.steps:
            action = step.action
            outcome = done.get(step.salesforce_id)
            if not self.dry_run and action != Action.SKIP and outcome is None:
                continue  # stopped (SIGTERM) before this step ran
            if outcome is not None and outcome.status == WritebackStatus.FAILED:
                self.failures.append((outcome.salesforce_id, outcome.error or "unknown error"))
                action = Action.FAIL
            self.counts[action.value] += 1
        # The report keeps each step's action and reason, not the meeting it carried:
        # a pass over the whole org must not hold every meeting until it ends.
        self.steps.extend(replace(step, meeting=None, fault=None) for step in plan.steps)
