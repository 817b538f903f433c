"""Metrics of the sync: outcomes per action from the pass reports, and the lag from a
Salesforce change to its Outlook write.

The counts come from the reports `syncd.sync` returns (a job wrapper calls
`count_pass`, syncd.metrics.jobs), so the sync itself keeps no metrics state. The
types are structural: the sync imports this module, and this module imports no sync.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from syncd.metrics import definitions as m

#: Actions that write to Outlook, and so end a change's lag.
_WRITES = frozenset({"create", "update", "cancel"})


class _Changed(Protocol):
    """A Salesforce Event as the lag needs it (syncd.sync.salesforce_event.SalesforceEvent)."""

    @property
    def id(self) -> str: ...

    @property
    def system_modstamp(self) -> datetime | None: ...


class _Action(Protocol):
    @property
    def value(self) -> str: ...


class _Step(Protocol):
    """A planned step (syncd.sync.plan.Step)."""

    @property
    def salesforce_id(self) -> str: ...

    @property
    def action(self) -> _Action: ...


class _Plan(Protocol):
    @property
    def steps(self) -> Sequence[_Step]: ...


class _Report(Protocol):
    """A pass report (syncd.sync.pass_report.PassReport)."""

    @property
    def dry_run(self) -> bool: ...

    @property
    def counts(self) -> Mapping[str, int]: ...

    @property
    def failures(self) -> Sequence[tuple[str, str]]: ...


def count_pass(tenant: str, report: _Report) -> None:
    """Count what a pass did per action; a dry run did nothing and counts nothing."""
    if report.dry_run:
        return
    for action, count in report.counts.items():
        if count:
            m.SYNC_RECORDS.labels(tenant, action).inc(count)


def observe_lag(
    tenant: str,
    events: Iterable[_Changed],
    plan: _Plan,
    report: _Report,
    now: datetime,
    *,
    stopped: bool = False,
) -> None:
    """After a page's plan ran: each Outlook write it made, from its Event's SystemModstamp
    to `now` (when the page's writes are done). Failed steps wrote nothing; a page a
    stop cut short is left out, since which of its steps ran is not known here."""
    if report.dry_run or stopped:
        return
    changed = {event.id: event.system_modstamp for event in events}
    failed = {salesforce_id for salesforce_id, _ in report.failures}
    for step in plan.steps:
        stamp = changed.get(step.salesforce_id)
        if step.action.value in _WRITES and stamp is not None and step.salesforce_id not in failed:
            m.SYNC_LAG.labels(tenant).observe(max(0.0, (now - stamp).total_seconds()))
